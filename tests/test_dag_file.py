"""The DAG file as Airflow sees it: every shipped source becomes a six-stage DAG; a broken file is a
placeholder DAG that fails with its issues, never an import error; nothing heavy is imported while
parsing. (tests/e2e checks the same through the real dag-processor.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException

from tests.config.corpus import OWNERS, write_corpus
from tests.config.test_source_files import CASES

REPO = Path(__file__).resolve().parents[1]
INVALID = REPO / "tests" / "config" / "invalid_sources"
DAG_FILE = REPO / "dags" / "headwater_sources.py"
STAGES = ["connect", "select", "map", "validate", "load", "monitor"]


def _bag(sources: Path, monkeypatch, audiences: Path | None = None) -> DagBag:
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(sources))
    # audiences only where a test asks for them: the shipped ones depend on the shipped sources
    monkeypatch.setenv("HEADWATER_AUDIENCES_DIR", str(audiences or sources / "no-audiences"))
    for name in [m for m in sys.modules if m == "headwater_sources" or m.startswith("unusual_prefix")]:
        del sys.modules[name]
    return DagBag(dag_folder=str(DAG_FILE))


def test_every_shipped_source_becomes_a_dag(monkeypatch) -> None:
    bag = _bag(REPO / "include" / "sources", monkeypatch, REPO / "include" / "audiences")
    assert bag.import_errors == {}
    audiences = {f"audience_{p.stem}" for p in (REPO / "include" / "audiences").glob("*.yaml")}
    assert audiences
    assert set(bag.dags) == {p.stem for p in (REPO / "include" / "sources").glob("*.yaml")} | audiences
    for dag_id in audiences:
        dag = bag.dags[dag_id]
        assert [t.task_id for t in dag.topological_sort()] == ["connect", "select", "map", "validate", "deliver", "monitor"]
        assert dag.get_task("monitor").trigger_rule == "all_done"
        assert "headwater:invalid" not in dag.tags
    for dag in (d for d in bag.dags.values() if d.dag_id not in audiences):
        assert [t.task_id for t in dag.topological_sort()] == STAGES
        assert dag.get_task("monitor").trigger_rule == "all_done"
        assert dag.max_active_runs == 1
    assert bag.dags["demo_crm_contacts"].is_paused_upon_creation is False
    assert bag.dags["example_postgres_customers"].is_paused_upon_creation is True
    assert "headwater" in bag.dags["demo_loyalty_members"].tags


def test_broken_source_becomes_a_failing_placeholder_and_others_still_load(tmp_path: Path, monkeypatch) -> None:
    """Before: the broken file was an import error of the DAG file, and Airflow's dag-processor then
    deactivates every DAG of the file (DagBag alone still lists them, the processor does not)."""
    shutil.copy(REPO / "include" / "sources" / "demo_purchase_events.yaml", tmp_path)
    broken = tmp_path / "broken_crm.yaml"
    broken.write_text((INVALID / "typo_key.yaml").read_text())
    bag = _bag(tmp_path, monkeypatch)
    assert bag.import_errors == {}
    assert set(bag.dags) == {"demo_purchase_events", "broken_crm"}
    placeholder = bag.dags["broken_crm"]
    issue = f"{broken}: connector.cursr: unknown key 'cursr'; did you mean 'cursor'?"
    assert placeholder.tags == {"headwater", "headwater:invalid"}
    assert placeholder.description.startswith(f"invalid source file {broken}: connector.cursr: unknown key 'cursr'")
    assert issue in placeholder.doc_md
    [task] = placeholder.tasks
    assert task.retries == 0
    with pytest.raises(AirflowFailException) as failed:
        task.execute(context={})
    assert issue in str(failed.value)


def test_placeholder_keeps_the_schedule_only_when_that_section_is_valid(tmp_path: Path, monkeypatch) -> None:
    typo = (INVALID / "typo_key.yaml").read_text()
    (tmp_path / "scheduled.yaml").write_text(typo + "schedule:\n  cron: '0 6 * * *'\n  paused: false\n")
    shutil.copy(INVALID / "bad_cron.yaml", tmp_path)
    (tmp_path / "named.yaml").write_text("dag_id: crm_by_id\n" + typo)
    bag = _bag(tmp_path, monkeypatch)
    assert bag.import_errors == {}
    scheduled = bag.dags["scheduled"]
    assert scheduled.timetable.expression == "0 6 * * *"
    assert scheduled.is_paused_upon_creation is False and scheduled.catchup is False
    assert type(bag.dags["bad_cron"].timetable).__name__ == "NullTimetable"
    assert bag.dags["bad_cron"].is_paused_upon_creation is True
    # a broken file keeps the DAG id it declares, so its DAG's history stays in one place
    assert "crm_by_id" in bag.dags and "named" not in bag.dags


def test_whole_bad_config_corpus_parses_without_import_error(tmp_path: Path, monkeypatch) -> None:
    """Every corpus file beside the shipped sources, with the parse cache on (it crashed on deep nesting)."""
    sources = tmp_path / "sources"
    write_corpus(sources)
    for path in (REPO / "include" / "sources").glob("*.yaml"):
        shutil.copy(path, sources)
    monkeypatch.setenv("HEADWATER_YAML_CACHE", "1")
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    for attempt in ("cold", "warm"):
        started = time.perf_counter()
        bag = _bag(sources, monkeypatch)
        print(f"{attempt} parse of {len(list(sources.glob('*.yaml')))} files: {time.perf_counter() - started:.2f} s")
        assert bag.import_errors == {}
        shipped = {p.stem for p in (REPO / "include" / "sources").glob("*.yaml")}
        for dag_id in shipped | set(OWNERS):
            assert [t.task_id for t in bag.dags[dag_id].topological_sort()] == STAGES, dag_id
        invalid = {case.values[0] for case in CASES} - {"conflict_id_a", "conflict_id_b"} | {"shared_dag"}
        assert set(bag.dags) == shipped | set(OWNERS) | invalid
        for dag_id in invalid:
            assert "headwater:invalid" in bag.dags[dag_id].tags, dag_id
            assert [t.task_id for t in bag.dags[dag_id].tasks] == ["invalid_source_file"]


def test_parsing_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAG_FILE)!r})\n"
        "assert len(bag.dags) >= 3 and not bag.import_errors, bag.import_errors\n"
        "heavy = ['pandas', 'pyarrow', 'great_expectations', 'deltalake', 'adbc_driver_postgresql', 'mysql.connector', 'boto3', 'google.cloud.storage', 'azure.storage.blob', 'paramiko', 'headwater.connectors.http.client', 'headwater.connectors.http.source', 'fastapi', 'uvicorn', 'redis', 'starlette']\n"
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
