"""Crash matrix: SIGKILL a task process at chosen points, recover, and check nothing is lost or doubled.

Each case: a first run loads batch 1 of a source; batch 2 arrives; the second run's task is run in
a child process (tests/crash/child.py) with `HEADWATER_CRASH_AT` naming a point of
`headwater.faults`, where it dies by SIGKILL. Then either (a) the same run's task is retried and
the run goes on, or (b) the crashed run ends (its monitor records it, as Airflow runs monitor once
the task is out of retries) and a new run starts, as docs/operations.md advises. A last run finds
nothing new. Then:

- every good source row is in the lake exactly once, and in the profile store exactly once;
- every bad row is in the quarantine exactly once;
- each run's rows are in the lake completely or not at all, and as many as its run record says
  (a failed run: none), so the run records tell the truth;
- the last run reads nothing (the state advanced exactly once per batch).

Sources: local CSV files (append and merge tables) and a PostgreSQL table (append, incremental on a
cursor); stores: SQLite and PostgreSQL. The tasks before and after the killed one run in this
process through tests/pipeline/harness.py; everything they touch (files, databases, lake) is real.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.crash.child import load_xcoms, save_xcoms
from tests.pipeline.harness import RETURN, run_pipeline, run_task
from tests.services import require_service

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("child.py")
PG = {"host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}
ROWS_PER_BATCH = 40
BAD_PER_BATCH = 2
STAGES = ["connect", "select", "map", "validate", "load", "monitor"]

# point → the task it lives in
POINTS = {
    "mid_select": "select",
    "mid_quarantine_write": "validate",
    "mid_lake_write": "load",
    "after_lake_commit": "load",
    "after_profile_load": "load",
}

MAPPING = """
mapping:
  target: customer_profile
  fields:
    - {to: crm_id, from: id}
    - {to: email, from: email}
    - {to: first_name, from: name}
    - {to: birth_date, from: born, format: "%Y-%m-%d"}
    - {to: updated_at, from: updated_at}
  identities:
    - {field: crm_id, namespace: crm_id}
    - {field: email, namespace: email}
  record_key: crm_id
  updated_at: updated_at
validate:
  max_error_ratio: 0.2
schedule:
  interval: 1d
  start_date: 2026-01-01
monitor:
  retries: 0
"""

FILE_SOURCE = """
description: crash matrix, files
owner: tests
connector:
  type: local_files
  path: data/*.csv
  format: csv
  chunk_size: 15
load:
  table: crash_files_{mode}
  mode: {mode}
""" + MAPPING

PG_SOURCE = """
description: crash matrix, postgres
owner: tests
connector:
  type: postgres
  conn_id: crash_pg
  table: {table}
  primary_key: [id]
  cursor:
    column: updated_at
  chunk_size: 15
load:
  table: crash_postgres_{mode}
  mode: {mode}
""" + MAPPING


def rows_of_batch(batch: int) -> list[dict]:
    """Batch `batch`'s rows: ROWS_PER_BATCH good ones, BAD_PER_BATCH with a date map rejects."""
    base = datetime(2026, 1, batch, 8, 0, 0)
    rows = []
    for i in range(ROWS_PER_BATCH + BAD_PER_BATCH):
        bad = i >= ROWS_PER_BATCH
        rows.append(
            {
                "id": f"b{batch}-{i:03d}",
                "email": f"p{batch}.{i}@example.com",
                "name": f"Person {batch}.{i}",
                "born": "not a date" if bad else "1990-05-17",
                "updated_at": base + timedelta(minutes=i),
            }
        )
    return rows


class FileData:
    kind = "files"

    def __init__(self, include: Path):
        self.folder = include / "data"
        self.folder.mkdir()

    def source_yaml(self, mode: str) -> str:
        return FILE_SOURCE.replace("{mode}", mode)

    def add_batch(self, batch: int) -> None:
        # two files a batch, so a run reads several files and several parts
        rows = rows_of_batch(batch)
        for half, chunk in enumerate((rows[::2], rows[1::2])):
            lines = ["id,email,name,born,updated_at"]
            lines += [f"{r['id']},{r['email']},{r['name']},{r['born']},{r['updated_at'].isoformat()}" for r in chunk]
            (self.folder / f"batch{batch}-{half}.csv").write_text("\n".join(lines) + "\n")

    def close(self) -> None:
        pass


class PostgresData:
    kind = "postgres"

    def __init__(self, include: Path):
        import psycopg2

        self.table = f"crash_{uuid.uuid4().hex[:10]}"
        self.conn = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["login"], dbname=PG["schema"])
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute(
                f"CREATE TABLE {self.table} (id text PRIMARY KEY, email text, name text, born text, updated_at timestamp)"
            )

    def source_yaml(self, mode: str) -> str:
        return PG_SOURCE.replace("{mode}", mode).replace("{table}", self.table)

    def add_batch(self, batch: int) -> None:
        with self.conn.cursor() as cur:
            for r in rows_of_batch(batch):
                cur.execute(
                    f"INSERT INTO {self.table} VALUES (%s, %s, %s, %s, %s)",
                    (r["id"], r["email"], r["name"], r["born"], r["updated_at"]),
                )

    def close(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.conn.close()


class ForkServer:
    """tests/crash/child.py --serve: forks a task process per request, Airflow already imported."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
        env.pop("HEADWATER_CRASH_AT", None)
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, **request) -> int:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["returncode"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def server():
    forks = ForkServer()
    yield forks
    forks.close()


@pytest.fixture
def store_url(request, tmp_path):
    """URL of an empty store: `request.param` is "sqlite" or "postgresql" (indirect parameter)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'headwater.db'}"
        return
    from tests.store.conftest import PostgresUnavailable, drop_postgres_database, postgres_url

    try:
        url = postgres_url()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: integration tests must not skip)")
        pytest.skip(str(exc))
    yield url
    from headwater.store import db

    db.reset_engines()
    drop_postgres_database(url)


class Matrix:
    """One workspace (include/, lake, store) and one source, with helpers to run and inspect it."""

    def __init__(self, root: Path, data, mode: str, store_url: str, monkeypatch, server: ForkServer):
        self.server = server
        self.root = root
        self.include = root / "include"
        self.data = data
        self.mode = mode
        self.source_file = self.include / "sources" / "crash_src.yaml"
        self.source_file.write_text(data.source_yaml(mode))
        self.env = {
            "HEADWATER_INCLUDE_DIR": str(self.include),
            "HEADWATER_SOURCES_DIR": str(self.include / "sources"),
            "HEADWATER_HOME": str(root / "home"),
            "HEADWATER_STORE_URL": store_url,
            "AIRFLOW_CONN_CRASH_PG": json.dumps({"conn_type": "postgres", **PG}),
        }
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("HEADWATER_LAKE_URI", raising=False)
        monkeypatch.delenv("HEADWATER_STORE_CONN_ID", raising=False)
        from headwater.config.loader import load_source
        from headwater.dag_builder import build_dag

        self.dag = build_dag(load_source(self.source_file))
        self.name = self.dag.dag_id

    # -- running ----------------------------------------------------------------------------------
    def run(self, run_id: str) -> dict:
        outcome = run_pipeline(self.dag, run_id).outcome
        assert outcome is not None
        return outcome

    def run_until_killed(self, run_id: str, point: str) -> dict:
        """Run the tasks before the point's task here, then that task in a child killed at `point`."""
        task = POINTS[point]
        xcoms: dict = {}
        for earlier in STAGES[: STAGES.index(task)]:
            run_task(self.dag, earlier, run_id, xcoms)
        xcom_file = self.root / f"xcoms-{run_id}.json"
        save_xcoms(xcom_file, xcoms)
        returncode = self.server.run(
            source=str(self.source_file), task=task, run_id=run_id, xcom_file=str(xcom_file),
            env={**self.env, "HEADWATER_CRASH_AT": point},
        )
        assert returncode == -signal.SIGKILL, f"task {task} was not killed at {point}: exit status {returncode}"
        return load_xcoms(xcom_file)

    def retry(self, run_id: str, point: str, xcoms: dict) -> dict:
        """(a) Airflow retries the killed task, then the run goes on."""
        for task in STAGES[STAGES.index(POINTS[point]) :]:
            run_task(self.dag, task, run_id, xcoms)
        return xcoms[("monitor", RETURN)]

    def end_failed(self, run_id: str, xcoms: dict) -> dict:
        """(b) The killed task is out of retries: monitor (trigger rule all_done) records the run."""
        from airflow.sdk.exceptions import AirflowFailException

        with pytest.raises(AirflowFailException):
            run_task(self.dag, "monitor", run_id, xcoms)
        return xcoms[("monitor", "return_value")] if ("monitor", "return_value") in xcoms else None

    # -- inspecting -------------------------------------------------------------------------------
    def lake(self) -> list[dict]:
        from headwater.lake.delta import read_table

        return read_table(f"crash_{self.data.kind}_{self.mode}").select(["crm_id", "_hw_run_id"]).to_pylist()

    def quarantine(self) -> list[dict]:
        from headwater.lake.delta import read_table
        from headwater.lake.quarantine import QUARANTINE_TABLE

        rows = read_table(QUARANTINE_TABLE).to_pylist()
        return [r for r in rows if r["source"] == self.name]

    def fragments(self) -> list[tuple[str, str]]:
        """(record key, profile id) of each of the source's fragments."""
        from sqlalchemy import select

        from headwater.store import db
        from headwater.store.profiles import fragment_table

        query = select(fragment_table.c.record_key, fragment_table.c.profile_id).where(fragment_table.c.source == self.name)
        with db.get_engine().connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def records(self) -> dict[str, dict]:
        from sqlalchemy import select

        from headwater.store import db
        from headwater.store.runs import run_table

        with db.get_engine().connect() as conn:
            rows = conn.execute(select(run_table).where(run_table.c.source == self.name)).mappings().all()
        return {r["run_id"]: dict(r) for r in rows}


def expected_keys(batches: int) -> list[str]:
    return [f"b{b}-{i:03d}" for b in range(1, batches + 1) for i in range(ROWS_PER_BATCH)]


def check(m: Matrix, batches: int) -> None:
    want = collections.Counter(expected_keys(batches))
    lake = m.lake()
    got = collections.Counter(r["crm_id"] for r in lake)
    assert {k: n for k, n in got.items() if n > 1} == {}, "duplicate keys in the lake"
    assert sorted(set(want) - set(got)) == [], "source rows missing from the lake"
    assert sorted(set(got) - set(want)) == []

    found = m.fragments()
    fragments = collections.Counter(key for key, _ in found)
    assert {k: n for k, n in fragments.items() if n > 1} == {}
    assert sorted(set(want) - set(fragments)) == [], "source rows missing from the profile store"
    # one person, one profile: a replayed chunk must not have created a second profile for anyone
    assert len({profile for _, profile in found}) == len(found)

    bad = collections.Counter(r["location"] or r["record"] for r in m.quarantine())
    assert {k: n for k, n in bad.items() if n > 1} == {}, "duplicate rows in the quarantine"
    assert len(bad) == BAD_PER_BATCH * batches

    records = m.records()
    per_run = collections.Counter(r["_hw_run_id"] for r in lake)
    for run_id, record in records.items():
        if record["status"] == "failed":
            # completely or not at all, and the record's word for it: a failed run left nothing
            assert per_run.get(run_id, 0) == 0, f"failed run {run_id} left {per_run[run_id]} rows in the lake"
            assert record["rows_loaded"] == 0
    if m.mode == "append":
        for run_id, count in per_run.items():
            assert records[run_id]["status"] == "success"
            assert records[run_id]["rows_loaded"] == count, f"run {run_id}: record and lake disagree"


SOURCES = [("files", "append"), ("files", "merge"), ("postgres", "append")]
# (source, table mode, store): the merge table adds no store behaviour of its own, so its cases
# run on SQLite only (40 + 10 cases rather than 60; each takes seconds of real work).
COMBOS = [
    pytest.param(
        kind, mode, store, id=f"{kind}-{mode}-{store}", marks=[pytest.mark.integration] if store == "postgresql" else []
    )
    for kind, mode in SOURCES
    for store in (["sqlite", "postgresql"] if mode == "append" else ["sqlite"])
]


@pytest.mark.parametrize("follow_up", ["retry", "new_run"])
@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize(("kind", "mode", "store_url"), COMBOS, indirect=["store_url"])
def test_crash(kind, mode, point, follow_up, store_url, server, tmp_path, monkeypatch):
    if kind == "postgres":
        require_service("PostgreSQL", PG["host"], PG["port"])
    include = tmp_path / "include"
    (include / "sources").mkdir(parents=True)
    for name in ("schemas", "identities.yaml"):
        src = REPO / "include" / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, include / name)
    data = FileData(include) if kind == "files" else PostgresData(include)
    from headwater.store import db

    db.reset_engines()
    try:
        m = Matrix(tmp_path, data, mode, store_url, monkeypatch, server)
        data.add_batch(1)
        first = m.run("r1")
        assert first["status"] == "success" and first["rows_loaded"] == ROWS_PER_BATCH, first
        data.add_batch(2)
        xcoms = m.run_until_killed("r2", point)
        if follow_up == "retry":
            outcome = m.retry("r2", point, xcoms)
            assert outcome["status"] == "success", outcome
        else:
            crashed = m.end_failed("r2", xcoms)
            assert crashed is None  # monitor failed the run (and pushed no success)
            assert m.records()["r2"]["status"] == "failed"
            outcome = m.run("r3")
            assert outcome["status"] == "success", outcome
            if POINTS[point] == "load":
                # someone clears the killed run's load after r3 succeeded: refused, nothing written
                from airflow.sdk.exceptions import AirflowFailException

                from headwater.store.state import StateConflict

                # a permanent error: the task fails at once, no retry could make it right
                with pytest.raises(AirflowFailException, match="committed by run 'r3'") as refused:
                    run_task(m.dag, "load", "r2", xcoms)
                assert isinstance(refused.value.__cause__, StateConflict)
        check(m, batches=2)
        last = m.run("r4")
        assert last["status"] == "no_data" and last["rows_read"] == 0, last
        check(m, batches=2)
    finally:
        db.reset_engines()
        data.close()
