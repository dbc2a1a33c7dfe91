"""A real `airflow standalone`, started the way `make run` starts it (scripts/run-airflow.sh).

The instance gets its own AIRFLOW_HOME, HEADWATER_HOME and sources folder (the shipped sources plus
the bad-config corpus) under a temporary folder and free ports, so it never touches the
developer's `.airflow/` / `.headwater/` nor a running `make run`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.config.corpus import write_corpus

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SOURCES = REPO / "include" / "sources"
RUN_SCRIPT = REPO / "scripts" / "run-airflow.sh"

STARTUP_TIMEOUT_S = float(os.environ.get("HEADWATER_E2E_STARTUP_TIMEOUT", "240"))
STOP_TIMEOUT_S = 60.0
# The local metadata DB is SQLite: a request may wait up to 60 s for a write lock
# (scripts/airflow-env.sh) while the scheduler and task processes write.
REQUEST_TIMEOUT_S = 120.0
WRITE_ATTEMPTS = 3
NOISE = ("[http.access]",)
SLACK_TOKEN = "T0000/B0000/E2E"
REQUIRED_COMPONENTS = {"metadatabase", "scheduler", "dag_processor", "triggerer"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 80, drop: tuple[str, ...] = ()) -> str:
    """The last `lines` lines of a file, leaving out lines that contain any of `drop`."""
    if not path.exists():
        return f"({path} does not exist)"
    text = [
        line for line in path.read_text(errors="replace").splitlines() if not any(d in line for d in drop)
    ]
    return "\n".join(text[-lines:])


def _session_pids(sid: int) -> list[int]:
    """Processes of session `sid` (the launcher's own session: everything it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...; comm may contain spaces: split after the last ')'
        fields_after = stat.rsplit(")", 1)[1].split()
        state, session = fields_after[0], int(fields_after[3])
        if session == sid and state != "Z":  # zombies are gone already, only unreaped
            pids.append(int(entry.name))
    return pids


@dataclass
class Standalone:
    """A running standalone Airflow and where its things are."""

    base_url: str
    airflow_home: Path
    headwater_home: Path
    sources_dir: Path
    output: Path
    process: subprocess.Popen
    # a loopback port reserved for a Slack stand-in, named by the connection e2e_slack (an
    # environment connection: deadline callbacks may not read metadata-database connections)
    slack_port: int = 0
    http: requests.Session = field(default_factory=requests.Session)
    started_in_s: float | None = None
    inlet_url: str | None = None  # the streaming inlet `make run` starts next to Airflow
    write_retries: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url(path), timeout=REQUEST_TIMEOUT_S, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self._write("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self._write("PATCH", path, **kwargs)

    def _write(self, method: str, path: str, **kwargs) -> requests.Response:
        """A write request, sent again (up to WRITE_ATTEMPTS times) when the api-server answers 5xx.

        Why: on the embedded SQLite metadata DB a write transaction that began as a read fails at
        once with "database is locked" when another process committed in between (SQLite's WAL
        snapshot rule: the busy timeout does not apply), and the api-server answers 500. A person
        in the UI clicks again; so does this. Every attempt is kept in `write_retries` so a test
        can show them, and the last answer is returned as it is.
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            response = self.http.request(method, self.url(path), timeout=REQUEST_TIMEOUT_S, **kwargs)
            if response.status_code < 500 or attempt == WRITE_ATTEMPTS:
                return response
            self.write_retries.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
            time.sleep(2 * attempt)
        raise AssertionError("unreachable")

    def unpause(self, dag_id: str) -> None:
        response = self.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert response.status_code == 200, (
            f"unpausing {dag_id}: {response.status_code} {response.text[:500]}\n"
            f"earlier attempts: {self.write_retries}\n{self.diagnostics()}"
        )

    def diagnostics(self) -> str:
        # The api-server logs every request (our polling included): leave those out.
        return f"--- standalone output ({self.output}), last lines ---\n{tail(self.output, drop=NOISE)}"

    def wait_healthy(self, timeout_s: float) -> dict:
        """Wait until the api-server answers /api/v2/monitor/health with every component healthy."""
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"Airflow exited with {self.process.returncode} before it was healthy\n"
                    + self.diagnostics()
                )
            try:
                response = self.get("/api/v2/monitor/health")
                if response.status_code == 200:
                    health = response.json()
                    statuses = {name: part.get("status") for name, part in health.items()}
                    if REQUIRED_COMPONENTS <= statuses.keys() and all(
                        status == "healthy" for status in statuses.values()
                    ):
                        return health
                    last = f"health: {statuses}"
                else:
                    last = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(1)
        pytest.fail(f"Airflow not healthy after {timeout_s:.0f} s ({last})\n" + self.diagnostics())

    def authenticate(self) -> None:
        """Local mode (all admins): `GET /auth/token` hands out a token without credentials."""
        response = self.get("/auth/token")
        assert response.status_code in (200, 201), f"GET /auth/token: {response.status_code} {response.text}"
        token = response.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def stop(self) -> None:
        """Stop like Ctrl-C would (the script stops standalone and its group), then kill leftovers."""
        sid = self.process.pid  # start_new_session=True: the launcher leads its own session
        if self.process.poll() is None:
            started = time.monotonic()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
                print(f"\nAirflow stopped {time.monotonic() - started:.1f} s after SIGTERM")
            except subprocess.TimeoutExpired:
                print(f"\nAirflow still running {STOP_TIMEOUT_S:.0f} s after SIGTERM: killing it")
        # Every process the launcher started is in its session; the launcher's own group first.
        try:
            os.killpg(sid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in _session_pids(sid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without Airflow/Headwater settings that other tests may have set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_", "AIRFLOW__", "HEADWATER_", "_AIRFLOW"))
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    if not (REPO / ".venv" / "bin" / "airflow").exists():
        pytest.fail("the project venv has no airflow: run `make install` first")
    root = tmp_path_factory.mktemp("standalone")
    port = free_port()
    inlet_port = free_port()
    # The shipped sources plus the whole bad-config corpus: the good sources must keep their DAGs
    # (tests/e2e/test_bad_config.py). Relative paths in the demo sources still resolve against the
    # project's include/ folder (HEADWATER_INCLUDE_DIR is left at its default).
    sources = root / "sources"
    slack_port = free_port()
    write_corpus(sources)
    for path in SHIPPED_SOURCES.glob("*.yaml"):
        shutil.copy(path, sources)
    env = _clean_env(
        HEADWATER_AIRFLOW_HOME=str(root / "airflow"),
        HEADWATER_HOME=str(root / "headwater"),
        HEADWATER_SOURCES_DIR=str(sources),
        HEADWATER_PORT=str(port),
        HEADWATER_INLET_PORT=str(inlet_port),
        # scripts/local-bin/airflow starts scheduler and triggerer without their log servers; should
        # one start anyway (Airflow run without the shim), its fixed default port (8793/8794) would
        # clash with a `make run` next to this instance: give it a free one.
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        NO_COLOR="1",
        AIRFLOW_CONN_E2E_SLACK=json.dumps(
            {"conn_type": "slackwebhook", "host": f"http://127.0.0.1:{slack_port}/services", "password": SLACK_TOKEN}
        ),
    )
    output = root / "standalone.log"
    started = time.monotonic()
    with output.open("wb") as out:
        process = subprocess.Popen(
            ["bash", str(RUN_SCRIPT)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    instance = Standalone(
        base_url=f"http://127.0.0.1:{port}",
        airflow_home=root / "airflow",
        headwater_home=root / "headwater",
        sources_dir=sources,
        output=output,
        process=process,
        slack_port=slack_port,
        inlet_url=f"http://127.0.0.1:{inlet_port}",
    )
    try:
        instance.wait_healthy(STARTUP_TIMEOUT_S)
        instance.started_in_s = time.monotonic() - started
        print(f"\nAirflow standalone healthy after {instance.started_in_s:.1f} s at {instance.base_url}")
        instance.authenticate()
        yield instance
    finally:
        instance.stop()
