"""Whole DAG runs through Airflow itself (`airflow dags test`), in a private Airflow home.

Airflow is migrated once per session (SQLite, ~10 s); each test gets its own sources folder, include
folder, lake and store, and runs `airflow dags test` as a subprocess exactly as an operator would.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return home


@dataclass
class DagRunResult:
    state: str
    output: str


@dataclass
class AirflowProject:
    airflow_home: Path
    root: Path
    env: dict[str, str]

    @property
    def sources(self) -> Path:
        return self.root / "include" / "sources"

    def dags_test(self, dag_id: str, logical_date: str) -> DagRunResult:
        proc = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id, logical_date],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = proc.stdout + proc.stderr
        with sqlite3.connect(self.airflow_home / "airflow.db") as db:
            row = db.execute(
                "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()
        return DagRunResult(state=row[0] if row else "missing", output=output[-6000:])


@pytest.fixture
def project(airflow_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AirflowProject:
    """A private include/ (demo data, schemas, no sources yet), lake and store; same env in-process."""
    from headwater.store import db

    root = tmp_path / "project"
    shutil.copytree(REPO / "include", root / "include", ignore=shutil.ignore_patterns("sources", "__pycache__"))
    (root / "include" / "sources").mkdir()
    settings = {
        "HEADWATER_INCLUDE_DIR": str(root / "include"),
        "HEADWATER_SOURCES_DIR": str(root / "include" / "sources"),
        "HEADWATER_HOME": str(root / "home"),
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    db.reset_engines()
    env = {
        **os.environ,
        **settings,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")]),
    }
    yield AirflowProject(airflow_home, root, env)
    db.reset_engines()
