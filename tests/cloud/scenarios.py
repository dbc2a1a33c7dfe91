"""Scenarios every object-store source must pass, run by test_s3/test_gcs/test_azure_blob.

Each builds a source file in the test's workspace (events from a mixed folder: CSV, JSON lines,
Parquet, gzip CSV and one corrupt gzip) and runs its DAG in-process with the pipeline harness.
"""

from __future__ import annotations

import gzip
import io
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException

from headwater.connectors.registry import make_hook
from headwater.errors import ConnectionCheckError
from headwater.lake.delta import read_table
from tests.pipeline.harness import run_pipeline, run_task

from .stores import Store

TABLE = "cloud_events"


def event(n: int, qty: int = 1) -> dict:
    return {"id": f"e{n:03d}", "type": "purchase", "ts": f"2026-03-01T00:{n % 60:02d}:00+00:00", "qty": qty, "total": 2.5 * n}


def csv_bytes(events: list[dict]) -> bytes:
    lines = ["id,type,ts,qty,total"] + [f"{e['id']},{e['type']},{e['ts']},{e['qty']},{e['total']}" for e in events]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(events: list[dict]) -> bytes:
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def parquet_bytes(events: list[dict]) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(events), out)
    return out.getvalue()


def corrupt_gzip() -> bytes:
    good = gzip.compress(csv_bytes([event(900)]))
    return good[:12] + b"\x00garbage, not deflate data" + good[40:]


def seed_mixed_folder(store: Store) -> None:
    """9 readable rows in four formats, plus one corrupt gzip file."""
    store.put("landing/a.csv", csv_bytes([event(1), event(2), event(3)]))
    store.put("landing/b.jsonl", jsonl_bytes([event(4), event(5)]))
    store.put("landing/c.parquet", parquet_bytes([event(6), event(7)]))
    store.put("landing/d.csv.gz", gzip.compress(csv_bytes([event(8), event(9)])))
    store.put("landing/bad.csv.gz", corrupt_gzip())
    store.put("elsewhere/ignored.csv", csv_bytes([event(99)]))  # outside the path: never read


def write_source(workspace, store: Store, name: str, path: str = "landing/**", **connector) -> str:
    source = {
        "description": f"events from {store.type}",
        "owner": "tests",
        "connector": store.connector(path, **connector),
        "mapping": {
            "target": "event",
            "fields": [
                {"to": "event_id", "from": "id"},
                {"to": "event_type", "from": "type"},
                {"to": "occurred_at", "from": "ts"},
                {"to": "quantity", "from": "qty"},
                {"to": "amount", "from": "total"},
            ],
        },
        "validate": {"max_error_ratio": 0.5, "expectations": []},
        "load": {"table": TABLE, "mode": "append"},
    }
    (workspace.sources / f"{name}.yaml").write_text(yaml.safe_dump(source, sort_keys=False))
    return name


def lake_ids(run_id: str | None = None) -> list[str]:
    table = read_table(TABLE)
    rows = table.to_pylist()
    return sorted(r["event_id"] for r in rows if run_id is None or r["_hw_run_id"] == run_id)


# -- scenarios ------------------------------------------------------------------------------------


def mixed_folder_then_only_changes(workspace, store: Store) -> None:
    seed_mixed_folder(store)
    dag = workspace.dag(write_source(workspace, store, "cloud_events"))

    first = run_pipeline(dag, "run_1")
    assert set(first.failures) == {"monitor"}, first.failures  # a file left unread: the run is not a success
    select = first.manifest("select")
    assert select["rows_read"] == 9
    assert select["errors_by_code"] == {"BAD_FILE": 1}
    [note] = [n for n in select["notes"] if n.startswith(store.name("landing/bad.csv.gz"))]
    assert note.startswith(f"{store.name('landing/bad.csv.gz')}: cannot read this csv file (")
    assert lake_ids() == [f"e{n:03d}" for n in range(1, 10)]
    quarantine = read_table("_quarantine").to_pylist()
    assert [(q["error_code"], q["stage"]) for q in quarantine] == [("BAD_FILE", "select")]
    assert quarantine[0]["message"] == note
    from headwater.store import state as source_state

    state = source_state.get_state(workspace.engine(), dag.dag_id)["files"]  # kept in the store, not in XCom
    # the unreadable file is not recorded as read: every run reads it again until it is fixed
    assert sorted(state) == [f"landing/{n}" for n in ("a.csv", "b.jsonl", "c.parquet", "d.csv.gz")]

    # one file added, one changed (the others untouched): only those two are read
    store.put("landing/e.jsonl", jsonl_bytes([event(10)]))
    store.put("landing/a.csv", csv_bytes([event(1), event(2), event(3, qty=7), event(11)]))
    second = run_pipeline(dag, "run_2")
    assert set(second.failures) == {"monitor"}, second.failures
    select = second.manifest("select")
    assert select["rows_read"] == 5 and select["errors_by_code"] == {"BAD_FILE": 1}
    assert "3 file(s) unchanged since the last run, skipped" in select["notes"]
    assert lake_ids("run_2") == ["e001", "e002", "e003", "e010", "e011"]
    assert len(lake_ids()) == 14

    third = run_pipeline(dag, "run_3")
    assert (third.manifest("select")["rows_read"], third.manifest("select")["errors_by_code"]) == (0, {"BAD_FILE": 1})


def identical_mtimes_both_ingested_once(workspace, store: Store) -> None:
    # Upload both objects within one second: S3 and Azure list mtimes at 1 s resolution, so they tie.
    for _ in range(5):
        time.sleep(1 - time.time() % 1 + 0.05)
        store.put("same/x1.csv", csv_bytes([event(1)]))
        store.put("same/x2.csv", csv_bytes([event(2)]))
        if store.type == "gcs" or store.mtime("same/x1.csv") == store.mtime("same/x2.csv"):
            break  # GCS keeps milliseconds; the scenario still proves each is read exactly once
    else:
        pytest.fail("could not give two objects the same mtime")
    dag = workspace.dag(write_source(workspace, store, "cloud_same", path="same/*.csv"))
    first = run_pipeline(dag, "run_1")
    assert first.failures == {}, first.failures
    assert first.manifest("select")["rows_read"] == 2
    second = run_pipeline(dag, "run_2")
    assert second.manifest("select")["rows_read"] == 0
    assert lake_ids() == ["e001", "e002"]


def retried_select_and_load_do_not_double_rows(workspace, store: Store) -> None:
    seed_mixed_folder(store)
    dag = workspace.dag(write_source(workspace, store, "cloud_retry"))
    run = run_pipeline(dag, "run_retry", until="select")
    assert run.failures == {}, run.failures
    # select retried (e.g. the worker died after writing its parts), later load retried as well
    for task_id in ("select", "map", "validate", "load", "load"):
        run_task(dag, task_id, "run_retry", run.xcoms)
    with pytest.raises(Exception, match="could not be read and were not loaded"):  # bad.csv.gz: not a success
        run_task(dag, "monitor", "run_retry", run.xcoms)
    assert run.manifest("select")["rows_read"] == 9
    assert run.manifest("load")["rows_loaded"] == 9
    assert lake_ids() == [f"e{n:03d}" for n in range(1, 10)]
    assert run_pipeline(dag, "run_next").manifest("select")["rows_read"] == 0


def reingest_param_reads_a_file_again(workspace, store: Store) -> None:
    seed_mixed_folder(store)
    dag = workspace.dag(write_source(workspace, store, "cloud_reingest"))
    assert set(run_pipeline(dag, "run_1").failures) == {"monitor"}  # bad.csv.gz is left unread
    again = run_pipeline(dag, "run_2", conf={"reingest": ["landing/*.jsonl"]})
    select = again.manifest("select")
    assert select["rows_read"] == 2
    assert "re-ingesting on request: landing/b.jsonl" in select["notes"]
    assert lake_ids("run_2") == ["e004", "e005"]


def missing_bucket_is_a_clear_connect_error(workspace, store: Store, kind: str = "bucket") -> None:
    missing = store.bucket + "-missing"
    dag = workspace.dag(write_source(workspace, store, "cloud_missing", **{store.bucket_field: missing}))
    expected = f"{kind} '{missing}' does not exist (connection '{store.conn_id}')"
    run = run_pipeline(dag, "run_missing")
    # A missing bucket is permanent: the task fails at once (no retries), with the same message.
    failure = run.failures["connect"]
    assert isinstance(failure, AirflowFailException) and isinstance(failure.__cause__, ConnectionCheckError)
    assert str(failure) == expected
    assert run.xcoms[("connect", "error")]["message"] == expected
    assert run.manifest("select") is None  # nothing downstream ran


def hook_for(store: Store, path: str, **fields):
    from pydantic import TypeAdapter

    from headwater.connectors.models import Connector

    return make_hook(TypeAdapter(Connector).validate_python(store.connector(path, **fields)))


def no_matching_file_is_not_an_error(store: Store) -> None:
    hook = hook_for(store, "nothing/here/*.csv")
    assert hook.check() == f"no file matches {store.name('nothing/here/*.csv')}; the select stage will record no data"


def listing_follows_pages(store: Store) -> None:
    for n in range(5):
        store.put(f"paged/f{n}.csv", csv_bytes([event(n)]))
    hook = hook_for(store, "paged/*.csv")
    hook.page_size = 2
    entries = hook.list_entries("paged/")
    assert [e.key for e in sorted(entries, key=lambda e: e.key)] == [f"paged/f{n}.csv" for n in range(5)]
    assert all(e.version and e.size > 0 and e.mtime > 1.7e9 for e in entries)


def large_object_streams_and_seeks(store: Store) -> None:
    """A Parquet file bigger than one stream chunk: footer seek, then column chunks, all correct."""
    rows = 300_000
    table = pa.table({"id": [f"id-{i:07d}" for i in range(rows)], "n": list(range(rows))})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=100_000, compression="none")
    store.put("big/data.parquet", out.getvalue())
    store.put("big/data.csv.gz", gzip.compress(csv_bytes([event(i) for i in range(1, 2001)])))
    hook = hook_for(store, "big/*", chunk_size=50_000)
    chunks = list(hook.read(None))
    assert [e for c in chunks for e in c.errors] == []
    assert sum(c.table.num_rows for c in chunks) == rows + 2000
    assert max(c.table.num_rows for c in chunks) <= 50_000
