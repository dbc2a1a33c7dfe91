"""An inlet started as its own process on loopback, over a private Headwater workspace.

`inlet_env` is a copy of include/ (the demo streaming sources among them), a private home
(SQLite store, segment log) and, for the Redis backend, a private database number on the
machine's Redis (127.0.0.1:6379; required in CI). `Inlet` starts `headwater inlet` with that
environment on a free port and stops (or SIGKILLs) it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.services import free_port, require_service

REPO = Path(__file__).resolve().parents[2]
# Redis database numbers of this suite (the branch's own; nobody else's keys are touched).
REDIS_DB = int(os.environ.get("HEADWATER_TEST_REDIS_DB", "12"))


class Inlet:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Inlet:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "inlet", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"inlet exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("inlet did not answer /health within 120 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None


class InletEnv:
    """The workspace: environment variables for this process and for the inlet's."""

    def __init__(self, root: Path, backend: str) -> None:
        self.root = root
        self.backend = backend
        self.include = root / "include"
        self.sources = self.include / "sources"
        self.home = root / "home"
        self.vars = {
            "HEADWATER_INCLUDE_DIR": str(self.include),
            "HEADWATER_SOURCES_DIR": str(self.sources),
            "HEADWATER_HOME": str(self.home),
            "HEADWATER_INLET_LOG": backend,
            "HEADWATER_INLET_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "HEADWATER_YAML_CACHE": "0",
        }

    def process_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
        env.update(self.vars)
        env.update(extra)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "plugins"), str(REPO)])
        return env

    def inlet(self, **extra: str) -> Inlet:
        return Inlet(self.process_env(**extra))

    def key(self, source: str = "demo_web") -> str:
        from headwater.inlet import keys
        from headwater.store import db

        return keys.create(db.get_engine(), source)[0]

    def dag(self, name: str):
        from headwater.config.loader import load_source
        from headwater.dag_builder import build_dag

        return build_dag(load_source(self.sources / f"{name}.yaml"))


def _flush_redis() -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()


@pytest.fixture(params=["segments", "redis"])
def backend(request) -> str:
    if request.param == "redis":
        require_service("Redis", "127.0.0.1", 6379)
    return request.param


def make_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> InletEnv:
    from headwater.store import db

    ws = InletEnv(tmp_path, backend)
    shutil.copytree(REPO / "include", ws.include, ignore=shutil.ignore_patterns("__pycache__"))
    for name, value in ws.vars.items():
        monkeypatch.setenv(name, value)
    for name in ("HEADWATER_LAKE_URI", "HEADWATER_STORE_URL", "HEADWATER_STORE_CONN_ID", "HEADWATER_INLET_LOG_DIR"):
        monkeypatch.delenv(name, raising=False)
    if backend == "redis":
        _flush_redis()
    db.reset_engines()
    return ws


@pytest.fixture
def inlet_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str):
    ws = make_env(tmp_path, monkeypatch, backend)
    yield ws
    from headwater.store import db

    db.reset_engines()
    if backend == "redis":
        _flush_redis()


@pytest.fixture
def segments_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from headwater.store import db

    ws = make_env(tmp_path, monkeypatch, "segments")
    yield ws
    db.reset_engines()


@pytest.fixture
def running(segments_env: InletEnv):
    """An inlet on the embedded log, and a write key of demo_web."""
    key = segments_env.key()
    inlet = segments_env.inlet().start()
    yield inlet, key, segments_env
    inlet.stop()
