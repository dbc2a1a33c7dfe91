"""End to end: one SIGTERM to the `make run` that a script started in the background stops everything.

A non-interactive shell starts a background job with SIGINT ignored, and an ignored signal stays
ignored across exec: `airflow standalone` used to ignore the stop request that scripts/run-airflow.sh
forwards to it, and kept running for ever after `kill <pid of make>`. Here `make run` is started
exactly that way (`bash -c 'make … run &'`), with its own AIRFLOW_HOME, HEADWATER_HOME and free ports.

`-o install` keeps make from re-syncing the venv (in a worktree `.venv` is shared, and the install
step would point the editable install at this checkout); the `run` recipe is the one `make run` runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from .conftest import REPO, REQUIRED_COMPONENTS, STARTUP_TIMEOUT_S, _clean_env, _session_pids, free_port, tail

pytestmark = pytest.mark.e2e

# scripts/run-airflow.sh: 5 s for standalone to stop its components, then SIGTERM to what is left
# and SIGKILL 3 s later; the rest is margin for a loaded machine.
STOP_LIMIT_S = 15.0


def _ignored_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigIgn line for {pid}")


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60].strip()
    except OSError:
        return "?"


def _wait_healthy(port: int, make_pid: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not Path(f"/proc/{make_pid}").exists():
            pytest.fail(f"make exited before Airflow was healthy\n{tail(log, drop=('[http.access]',))}")
        try:
            response = requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=30)
            if response.status_code == 200:
                statuses = {name: part.get("status") for name, part in response.json().items()}
                if REQUIRED_COMPONENTS <= statuses.keys() and set(statuses.values()) == {"healthy"}:
                    return
                last = f"health: {statuses}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(1)
    pytest.fail(f"Airflow not healthy after {STARTUP_TIMEOUT_S:.0f} s ({last})\n{tail(log)}")


def test_sigterm_to_background_make_run_stops_every_process(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "make-run.log"
    env = _clean_env(
        HEADWATER_AIRFLOW_HOME=str(tmp_path / "airflow"),
        HEADWATER_HOME=str(tmp_path / "headwater"),
        HEADWATER_PORT=str(port),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        NO_COLOR="1",
    )
    # The launching shell leads a new session: every process `make run` starts stays in it, even
    # after the shell has exited and make has been re-parented.
    launcher = subprocess.run(
        ["bash", "-c", f"make -o install run >'{log}' 2>&1 </dev/null & echo $!"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        start_new_session=True,
        check=True,
    )
    make_pid, sid = int(launcher.stdout.strip()), None
    try:
        sid = int(Path(f"/proc/{make_pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
        assert _ignored_signals(make_pid) & (1 << (signal.SIGINT - 1)), (
            "make should start with SIGINT ignored"
        )
        _wait_healthy(port, make_pid, log)
        running = _session_pids(sid)
        assert len(running) >= 6, running  # make, run-airflow.sh, standalone, its 4 components

        names = {pid: _command(pid) for pid in running}
        started = time.monotonic()
        os.kill(make_pid, signal.SIGTERM)
        gone: dict[int, float] = {}
        while time.monotonic() - started < STOP_LIMIT_S * 3:
            alive = set(_session_pids(sid))
            for pid in names.keys() - alive - gone.keys():
                gone[pid] = time.monotonic() - started
            if not alive:
                break
            time.sleep(0.2)
        took = time.monotonic() - started
        left = _session_pids(sid)
        slowest = sorted(gone.items(), key=lambda item: -item[1])[:4]
        print(
            f"\n`make run`: {len(running)} processes, {len(left)} left {took:.1f} s after SIGTERM to make; "
            "last to stop: " + "; ".join(f"{names[pid]} {seconds:.1f} s" for pid, seconds in slowest)
        )
        print("\n".join(line for line in log.read_text(errors="replace").splitlines() if "run-airflow:" in line))
        assert not left, f"still running {took:.0f} s after SIGTERM: {left}\n{tail(log)}"
        assert took < STOP_LIMIT_S, f"stopping took {took:.1f} s\n{tail(log)}"
    finally:
        for pid in _session_pids(sid) if sid else [make_pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
