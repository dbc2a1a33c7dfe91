"""SFTP connector against a real OpenSSH sshd on 127.0.0.1: host keys, auth, listing, a full DAG run.

The server is Debian's openssh-server started with its own config on a free port (key and password
auth for the local user `hwsftp`, `ForceCommand internal-sftp -d <folder>`). Without sshd (or
without root to create the user) the tests are skipped, or fail when env `CI` is set.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.errors import ConnectionCheckError
from tests.services import free_port, reachable

pytestmark = pytest.mark.integration

SSHD = Path("/usr/sbin/sshd")
USER = "hwsftp"
PASSWORD = "hw-sftp-test-pw"


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: integration services are required)")
    pytest.skip(reason)


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return Path(f"{path}.pub").read_text().strip()


def _ensure_user() -> bool:
    """Create the test user (no home, no shell) if needed; True when this run created it."""
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", USER], check=True)
        created = True
    subprocess.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n", text=True, check=True)
    return created


class Sftpd:
    def __init__(self, root: Path, port: int, host_key: str, client_key: Path) -> None:
        self.root, self.port, self.host_key, self.client_key = root, port, host_key, client_key
        self.data = root / "data"

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(path, 0o644)
        for parent in path.relative_to(self.data).parents:
            os.chmod(self.data / parent, 0o755)
        return path

    def clear(self) -> None:
        shutil.rmtree(self.data)
        self.data.mkdir(mode=0o755)
        os.chmod(self.data, 0o755)


@pytest.fixture(scope="module")
def sftpd():
    if not SSHD.exists():
        _unavailable(f"{SSHD} is missing (Debian: apt-get install openssh-server; scripts/ensure-services.sh does it as root)")
    if os.geteuid() != 0:
        _unavailable("the SFTP tests create the local user 'hwsftp' and need root")
    created_user = _ensure_user()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    root = Path(tempfile.mkdtemp(prefix="hw-sshd-"))
    os.chmod(root, 0o755)  # the sftp user must reach the data folder
    (root / "data").mkdir(mode=0o755)
    host_key = _keygen(root / "host_ed25519")
    client_pub = _keygen(root / "client_ed25519")
    (root / "authorized_keys").write_text(client_pub + "\n")
    os.chmod(root / "authorized_keys", 0o644)
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {root / "host_ed25519"}
PidFile {root / "sshd.pid"}
AuthorizedKeysFile {root / "authorized_keys"}
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
StrictModes no
AllowUsers {USER}
Subsystem sftp internal-sftp
ForceCommand internal-sftp -d {root / "data"}
LogLevel INFO
"""
    )
    log = (root / "sshd.log").open("wb")
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not reachable("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _unavailable(f"sshd did not start: {(root / 'sshd.log').read_text()[-500:]}")
        time.sleep(0.1)
    host_key = " ".join(host_key.split()[:2])
    try:
        yield Sftpd(root, port, host_key, root / "client_ed25519")
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
        if created_user:
            subprocess.run(["userdel", USER], check=False)


@pytest.fixture
def server(sftpd):
    sftpd.clear()
    return sftpd


@pytest.fixture
def sftp_conn(monkeypatch, server):
    """`sftp_conn("x", password=..., extra={...})` defines connection x to the test server."""

    def _set(conn_id: str, *, login: str = USER, password: str | None = PASSWORD, key: bool = False, extra=None) -> str:
        extras = {"host_key": server.host_key} if extra is None else dict(extra)
        if key:
            extras["private_key"] = server.client_key.read_text()
            extras["look_for_keys"] = "false"
        fields = {"conn_type": "sftp", "host": "127.0.0.1", "port": server.port, "login": login, "extra": extras}
        if password is not None:
            fields["password"] = password
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return _set


def hook(conn_id: str, path: str, **fields):
    from headwater.connectors.models import SftpConnector
    from headwater.connectors.sftp import SftpSourceHook

    return SftpSourceHook(config=SftpConnector(type="sftp", conn_id=conn_id, path=path, **fields))


def read_all(h, state=None):
    chunks = list(h.read(state))
    return [r for c in chunks for r in c.table.to_pylist()], [e for c in chunks for e in c.errors]


# -- host keys -----------------------------------------------------------------------------------


def test_unknown_host_key_is_rejected(server, sftp_conn):
    sftp_conn("box", extra={})
    with pytest.raises(ConnectionCheckError) as caught:
        hook("box", "*.csv").check()
    assert str(caught.value) == (
        f'host key of 127.0.0.1:{server.port} is not known: add it to connection \'box\' extra "host_key" '
        f'(ssh-keyscan -p {server.port} 127.0.0.1; the "<type> <base64 key>" part of its output)'
    )


def test_changed_host_key_is_rejected(server, sftp_conn, tmp_path):
    other = _keygen(tmp_path / "other_ed25519")
    sftp_conn("box", extra={"host_key": " ".join(other.split()[:2])})
    with pytest.raises(ConnectionCheckError) as caught:
        hook("box", "*.csv").check()
    message = str(caught.value)
    assert message.startswith(f"host key of 127.0.0.1:{server.port} CHANGED: the server presented ssh-ed25519 SHA256:")
    assert "connection 'box' expects ssh-ed25519 SHA256:" in message
    assert 'update extra "host_key"' in message and "someone may be intercepting the connection" in message


def test_no_host_key_check_connects_and_logs_a_warning(server, sftp_conn, caplog, capsys):
    server.write("a.csv", "id\n1\n")
    sftp_conn("box", extra={"no_host_key_check": "true"})
    with caplog.at_level(logging.WARNING):
        assert read_all(hook("box", "*.csv")) == ([{"id": "1"}], [])
    # Airflow's structlog setup may print hook logs instead of handing them to `logging`.
    logged = "\n".join(r.getMessage() for r in caplog.records) + capsys.readouterr().out
    line = "SFTP connection 'box': host key verification is OFF (extra no_host_key_check: true)"
    assert logged.count(line) == 1 and "warning" in logged.lower()


# -- authentication ------------------------------------------------------------------------------


def test_password_authentication(server, sftp_conn):
    server.write("in/a.csv", "id\n1\n2\n")
    sftp_conn("pw")
    h = hook("pw", "in/*.csv")
    assert h.check() == f"1 file (7 bytes) match sftp://127.0.0.1:{server.port}/~/in/*.csv"
    assert read_all(h) == ([{"id": "1"}, {"id": "2"}], [])


def test_key_authentication(server, sftp_conn):
    server.write("in/a.csv", "id\n1\n")
    sftp_conn("key", password=None, key=True)
    assert read_all(hook("key", "in/a.csv")) == ([{"id": "1"}], [])


def test_key_file_authentication(server, sftp_conn):
    server.write("in/a.csv", "id\n1\n")
    sftp_conn("keyfile", password=None, extra={"host_key": server.host_key, "key_file": str(server.client_key), "look_for_keys": "false"})
    assert read_all(hook("keyfile", "in/a.csv")) == ([{"id": "1"}], [])


@pytest.mark.parametrize("password", ["wrong", None], ids=["wrong_password", "no_credentials"])
def test_authentication_failure_message(server, sftp_conn, password):
    sftp_conn("bad", password=password, extra={"host_key": server.host_key, "look_for_keys": "false"})
    with pytest.raises(ConnectionCheckError) as caught:
        hook("bad", "*.csv").check()
    assert str(caught.value) == (
        f"SFTP authentication failed for user '{USER}' at 127.0.0.1:{server.port} (connection 'bad'): "
        "check the password or key"
    )


def test_refused_port_message(server, sftp_conn, monkeypatch):
    port = free_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOWN",
        json.dumps({"conn_type": "sftp", "host": "127.0.0.1", "port": port, "login": USER, "password": PASSWORD,
                    "extra": {"host_key": server.host_key}}),
    )
    with pytest.raises(ConnectionCheckError) as caught:
        hook("down", "*.csv").check()
    assert str(caught.value) == (
        f"cannot connect to SFTP at 127.0.0.1:{port} (connection 'down'): "
        "connection refused — is the SSH server running and the port right?"
    )


# -- listing and reading -------------------------------------------------------------------------


def test_lists_recursively_under_the_static_prefix_and_streams(server, sftp_conn):
    server.write("in/a.csv", "id\n1\n")
    server.write("in/deep/b.csv", "id\n2\n")
    server.write("in/archive/old.csv", "id\n0\n")
    server.write("other/c.csv", "id\n3\n")
    sftp_conn("box")
    h = hook("box", "in/**/*.csv", exclude=["archive/*"])
    entries, excluded = h.matching()
    assert [e.key for e in entries] == ["in/a.csv", "in/deep/b.csv"] and excluded == 1
    mtime = int((server.data / "in/a.csv").stat().st_mtime)
    assert entries[0].version == f"{mtime}:5" and entries[0].size == 5
    assert read_all(h)[0] == [{"id": "1"}, {"id": "2"}]
    assert set(h.next_state()["files"]) == {"in/a.csv", "in/deep/b.csv"}


def test_absolute_path_and_zip_members(server, sftp_conn):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.csv", "id\n1\n")
        archive.writestr("y.jsonl", '{"id": "2"}\n')
    server.write("in/batch.zip", buffer.getvalue())
    sftp_conn("box")
    h = hook("box", f"{server.data}/in/*.zip")
    assert h.location() == f"sftp://127.0.0.1:{server.port}{server.data}/in/*.zip"
    assert read_all(h) == ([{"id": "1"}, {"id": "2"}], [])
    assert list(h.next_state()["files"]) == [f"{server.data}/in/batch.zip"]


def test_missing_folder_is_not_an_error(server, sftp_conn):
    sftp_conn("box")
    h = hook("box", "nothing/*.csv")
    assert h.check() == (
        f"no file matches sftp://127.0.0.1:{server.port}/~/nothing/*.csv; folder "
        f"sftp://127.0.0.1:{server.port}/~/nothing/ does not exist; the select stage will record no data"
    )
    assert read_all(h) == ([], [])


def test_large_file_is_streamed_in_bounded_windows(server, sftp_conn):
    # Bigger than the read-ahead window, and rows cross window boundaries.
    body = "".join(f"{i},{'x' * 90}\n" for i in range(120_000))
    server.write("big.csv", "id,pad\n" + body)
    sftp_conn("box")
    rows, errors = read_all(hook("box", "big.csv", chunk_size=50_000))
    assert errors == [] and len(rows) == 120_000 and rows[-1]["id"] == "119999"


def test_parquet_needs_seeking_and_works(server, sftp_conn):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(5_000))}), buffer, row_group_size=1_000)
    server.write("a.parquet", buffer.getvalue())
    sftp_conn("box")
    rows, errors = read_all(hook("box", "a.parquet"))
    assert errors == [] and [r["id"] for r in rows] == list(range(5_000))


# -- through the DAG ---------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """tests/pipeline's workspace, imported lazily so a broken DAG stack fails only the DAG test."""
    from headwater.store import db
    from tests.pipeline.conftest import REPO, Workspace

    ws = Workspace(tmp_path)
    shutil.copytree(REPO / "include", ws.include, ignore=shutil.ignore_patterns("__pycache__"))
    for name, value in [("INCLUDE_DIR", ws.include), ("SOURCES_DIR", ws.sources), ("HOME", ws.home)]:
        monkeypatch.setenv(f"HEADWATER_{name}", str(value))
    for name in ["LAKE_URI", "STORE_URL", "STORE_CONN_ID"]:
        monkeypatch.delenv(f"HEADWATER_{name}", raising=False)
    db.reset_engines()
    yield ws
    db.reset_engines()


EVENT_FIELDS = ["id", "type", "ts", "sku", "qty", "total", "currency", "channel", "customer_email", "crm_id"]


def _event(i: int) -> dict:
    return {
        "id": f"evt-{i:04d}", "type": "purchase", "ts": f"2026-03-01T00:{i % 60:02d}:00+00:00", "sku": "SKU-MUG",
        "qty": str(1 + i % 3), "total": f"{10 + i}.5", "currency": "eur", "channel": "web",
        "customer_email": f"c{i}@example.com", "crm_id": f"CRM-{i:05d}",
    }


def _csv(events: list[dict]) -> str:
    return ",".join(EVENT_FIELDS) + "\n" + "".join(",".join(e[f] for f in EVENT_FIELDS) + "\n" for e in events)


SOURCE = """
description: purchase events over SFTP
owner: test
connector:
  type: sftp
  conn_id: {conn}
  path: drop/**
mapping:
  target: event
  fields:
    - {{to: event_id, from: id}}
    - {{to: event_type, from: type}}
    - {{to: occurred_at, from: ts}}
    - {{to: customer_id, from: crm_id}}
    - {{to: email, from: customer_email}}
    - {{to: product_id, from: sku}}
    - {{to: quantity, from: qty}}
    - {{to: amount, from: total}}
    - {{to: currency, from: currency, transform: [upper]}}
    - {{to: channel, from: channel}}
validate:
  max_error_ratio: 0.5
schedule:
  interval: 1h
  start_date: 2026-01-01
load:
  table: sftp_events
  mode: append
"""


def test_full_dag_run_over_a_mixed_folder_then_only_changes(server, sftp_conn, workspace):
    from headwater.lake.delta import read_table
    from tests.pipeline.harness import run_pipeline

    sftp_conn("drop_box")
    server.write("drop/a.csv", _csv([_event(i) for i in range(0, 10)]))
    server.write("drop/b.jsonl", "".join(json.dumps(_event(i)) + "\n" for i in range(10, 20)))
    events = [_event(i) for i in range(20, 30)]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(events), buffer)
    server.write("drop/c.parquet", buffer.getvalue())
    server.write("drop/nested/d.csv.gz", gzip.compress(_csv([_event(i) for i in range(30, 40)]).encode()))
    broken = server.write("drop/e.csv.gz", b"not gzip at all")
    (workspace.sources / "sftp_events.yaml").write_text(SOURCE.format(conn="drop_box"))
    dag = workspace.dag("sftp_events")

    run = run_pipeline(dag, "run_1")
    assert set(run.failures) == {"monitor"}, run.failures  # a file left unread: the run is not a success
    assert run.manifest("load")["rows_loaded"] == 40
    assert run.manifest("select")["errors_by_code"] == {"BAD_FILE": 1}
    lake = read_table("sftp_events")
    assert sorted(lake.column("event_id").to_pylist()) == [f"evt-{i:04d}" for i in range(40)]
    [bad] = read_table("_quarantine").to_pylist()
    assert bad["error_code"] == "BAD_FILE"
    assert bad["message"].startswith(f"sftp://127.0.0.1:{server.port}/~/drop/e.csv.gz: cannot read this csv file")

    os.remove(broken)  # unreadable files are read again every run until fixed or removed
    assert run_pipeline(dag, "run_2").manifest("monitor")["status"] == "no_data"

    server.write("drop/f.csv", _csv([_event(i) for i in range(40, 45)]))  # new
    a = server.write("drop/a.csv", _csv([_event(i) for i in range(0, 12)]))  # changed (size)
    os.utime(a, (time.time(), time.time() + 5))
    third = run_pipeline(dag, "run_3")
    assert third.failures == {}, third.failures
    assert third.manifest("select")["rows_read"] == 17
    assert read_table("sftp_events").num_rows == 57
