"""The DAG file as Airflow sees it: every shipped source becomes a six-stage DAG; a broken file is an
import error naming the file and the location; nothing heavy is imported while parsing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "dags" / "headwater_sources.py"
STAGES = ["connect", "select", "map", "validate", "load", "monitor"]


def _bag(sources: Path, monkeypatch) -> DagBag:
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(sources))
    for name in [m for m in sys.modules if m == "headwater_sources" or m.startswith("unusual_prefix")]:
        del sys.modules[name]
    return DagBag(dag_folder=str(DAG_FILE))


def test_every_shipped_source_becomes_a_dag(monkeypatch) -> None:
    bag = _bag(REPO / "include" / "sources", monkeypatch)
    assert bag.import_errors == {}
    assert set(bag.dags) == {p.stem for p in (REPO / "include" / "sources").glob("*.yaml")}
    for dag in bag.dags.values():
        assert [t.task_id for t in dag.topological_sort()] == STAGES
        assert dag.get_task("monitor").trigger_rule == "all_done"
        assert dag.max_active_runs == 1
    assert bag.dags["demo_crm_contacts"].is_paused_upon_creation is False
    assert bag.dags["example_postgres_customers"].is_paused_upon_creation is True
    assert "headwater" in bag.dags["demo_loyalty_members"].tags


def test_broken_source_is_an_import_error_and_others_still_load(tmp_path: Path, monkeypatch) -> None:
    shutil.copy(REPO / "include" / "sources" / "demo_purchase_events.yaml", tmp_path)
    broken = tmp_path / "broken_crm.yaml"
    broken.write_text((REPO / "tests" / "config" / "invalid_sources" / "typo_key.yaml").read_text())
    bag = _bag(tmp_path, monkeypatch)
    assert set(bag.dags) == {"demo_purchase_events"}
    [(file, message)] = bag.import_errors.items()
    assert file.endswith("headwater_sources.py")
    assert f"{broken}: connector.cursr: unknown key 'cursr'; did you mean 'cursor'?" in message


def test_parsing_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAG_FILE)!r})\n"
        "assert len(bag.dags) >= 3 and not bag.import_errors, bag.import_errors\n"
        "heavy = ['pandas', 'pyarrow', 'great_expectations', 'deltalake', 'adbc_driver_postgresql', 'mysql.connector', 'boto3', 'google.cloud.storage', 'azure.storage.blob', 'paramiko']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins"), "HEADWATER_SOURCES_DIR": str(REPO / "include" / "sources")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_load_task_updates_the_lake_asset(monkeypatch) -> None:
    bag = _bag(REPO / "include" / "sources", monkeypatch)
    [asset] = bag.dags["demo_crm_contacts"].get_task("load").outlets
    assert asset.uri == "x-headwater://lake/crm_contacts"
