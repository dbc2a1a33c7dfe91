"""Local stand-ins for cloud object storage, started once per test session on free 127.0.0.1 ports.

moto's S3 server, gcp-storage-emulator and Azurite (installed once from npm into `.tools/azurite`).
A stand-in that cannot start skips its tests with the reason, except in CI (env `CI` set), where
they fail: an integration test never passes by not running. Each test gets its own bucket/container
and Airflow connection (`AIRFLOW_CONN_*`), so tests never see each other's objects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.conftest import Workspace, workspace  # noqa: F401  (shared fixture)
from tests.services import free_port, reachable, unique

REPO = Path(__file__).resolve().parents[2]
AZURITE_DIR = REPO / ".tools" / "azurite"
AZURITE_VERSION = "azurite@3"
START_TIMEOUT = 30.0
# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the cloud stand-ins are required)")
    pytest.skip(reason)


class StandIn:
    """A server process on 127.0.0.1:`port`, its output in `log`."""

    def __init__(self, name: str, cmd: list[str], port: int, log: Path, cwd: Path | None = None) -> None:
        self.name, self.port, self.log = name, port, log
        started = time.monotonic()
        with log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        while not reachable("127.0.0.1", port):
            if self.proc.poll() is not None or time.monotonic() - started > START_TIMEOUT:
                self.stop()
                tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
                unavailable(f"{name} did not start on 127.0.0.1:{port}: {tail or 'no output'}")
            time.sleep(0.1)
        self.start_seconds = time.monotonic() - started
        print(f"\n{name} listening on 127.0.0.1:{port} after {self.start_seconds:.1f} s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="session")
def cloud_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cloud-stand-ins")


@pytest.fixture(scope="session")
def moto_server(cloud_logs) -> Iterator[StandIn]:
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        unavailable(f"moto[server] is not installed ({exc}); run `make install-dev`")
    port = free_port()
    server = StandIn(
        "moto S3 server", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port,
        cloud_logs / "moto.log",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_emulator(cloud_logs) -> Iterator[StandIn]:
    exe = Path(sys.executable).with_name("gcp-storage-emulator")
    if not exe.exists():
        unavailable(f"gcp-storage-emulator is not installed ({exe} missing); run `make install-dev`")
    port = free_port()
    server = StandIn(
        "gcp-storage-emulator",
        [str(exe), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        port,
        cloud_logs / "gcs.log",
    )
    yield server
    server.stop()


def azurite_blob_bin() -> Path:
    """Azurite's blob server, installed from npm into .tools/ on first use (~20 s, ~190 MB).

    The install is checked by running `azurite-blob --version` (it loads every module): a tree
    with files missing was seen once in CI, so a broken install is removed and installed again.
    """
    exe = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
    if _runs(exe):
        return exe
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable("Azurite needs Node.js and npm (not found on PATH)")
    problem = ""
    for _attempt in range(2):
        shutil.rmtree(AZURITE_DIR, ignore_errors=True)
        started = time.monotonic()
        done = subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(AZURITE_DIR), AZURITE_VERSION],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode == 0 and _runs(exe):
            print(f"\ninstalled {AZURITE_VERSION} into {AZURITE_DIR} in {time.monotonic() - started:.1f} s")
            return exe
        problem = (done.stderr or done.stdout).strip()[-800:] or "the installed azurite-blob does not run"
    unavailable(f"npm install {AZURITE_VERSION} failed: {problem}")


def _runs(exe: Path) -> bool:
    if not exe.exists():
        return False
    try:
        return subprocess.run([str(exe), "--version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def azurite(cloud_logs, tmp_path_factory) -> Iterator[StandIn]:
    exe = azurite_blob_bin()
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")  # Azurite writes its debug/extent files under cwd
    server = StandIn(
        "Azurite",
        [
            str(exe),
            "--blobHost", "127.0.0.1",
            "--blobPort", str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",  # always: no usage data leaves this machine
        ],
        port,
        cloud_logs / "azurite.log",
        cwd=workdir,
    )
    yield server
    server.stop()


def azurite_connection_string(port: int, key: str = AZURITE_KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields) -> None:
    """An Airflow connection from the environment, as deployments can define them."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


@pytest.fixture
def bucket_name() -> str:
    return unique("hw").replace("_", "-")
