"""SFTP refuses a server whose host key it does not know, or whose key changed, before reading.

Against a real OpenSSH sshd (tests/connectors/test_sftp.py starts it). The connector's own tests
pin the messages; here the point is that nothing is listed or read, and that the worker's
known_hosts is not silently extended (paramiko's AutoAddPolicy would accept any server).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from headwater.errors import ConnectionCheckError

pytestmark = pytest.mark.integration


def _read(conn_id: str):
    from tests.connectors.test_sftp import hook

    return [r for c in hook(conn_id, "in/").read(None) for r in c.table.to_pylist()]


def test_unknown_host_key_is_refused_and_not_learned(server, sftp_conn, tmp_path, monkeypatch) -> None:
    server.write("in/a.csv", "v\n1\n")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))  # the worker's own known_hosts: empty
    sftp_conn("unknown", extra={})
    with pytest.raises(ConnectionCheckError, match="is not known"):
        _read("unknown")
    with pytest.raises(ConnectionCheckError, match="is not known"):  # and still not known the second time
        _read("unknown")
    known = home / ".ssh" / "known_hosts"
    assert not known.exists() or str(server.port) not in known.read_text()


def test_changed_host_key_is_refused(server, sftp_conn, tmp_path) -> None:
    server.write("in/a.csv", "v\n1\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join(Path(f"{tmp_path / 'other'}.pub").read_text().split()[:2])
    sftp_conn("changed", extra={"host_key": other})
    with pytest.raises(ConnectionCheckError, match="CHANGED"):
        _read("changed")


def test_changed_key_in_the_workers_known_hosts_is_refused(server, sftp_conn, tmp_path, monkeypatch) -> None:
    server.write("in/a.csv", "v\n1\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join(Path(f"{tmp_path / 'other'}.pub").read_text().split()[:2])
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{server.port} {other}\n")
    monkeypatch.setenv("HOME", str(home))
    sftp_conn("known_changed", extra={})
    with pytest.raises(ConnectionCheckError, match="CHANGED|not known"):
        _read("known_changed")


def test_the_right_host_key_is_accepted(server, sftp_conn) -> None:
    """The refusals above are about the key: the same server with its key pinned is read."""
    server.write("in/a.csv", "v\n1\n")
    sftp_conn("pinned")
    assert _read("pinned") == [{"v": "1"}]
