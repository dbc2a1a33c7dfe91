"""A private Headwater workspace per test: a copy of include/, its own lake and store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headwater.config.loader import load_source
from headwater.dag_builder import build_dag

REPO = Path(__file__).resolve().parents[2]


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.include = root / "include"
        self.sources = self.include / "sources"
        self.home = root / "home"

    def dag(self, name: str):
        return build_dag(load_source(self.sources / f"{name}.yaml"))

    def engine(self):
        from headwater.store import db

        return db.get_engine()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    from headwater.store import db

    ws = Workspace(tmp_path)
    shutil.copytree(REPO / "include", ws.include, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(ws.include))
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(ws.sources))
    monkeypatch.setenv("HEADWATER_HOME", str(ws.home))
    monkeypatch.delenv("HEADWATER_LAKE_URI", raising=False)
    monkeypatch.delenv("HEADWATER_STORE_URL", raising=False)
    monkeypatch.delenv("HEADWATER_STORE_CONN_ID", raising=False)
    db.reset_engines()
    yield ws
    db.reset_engines()
