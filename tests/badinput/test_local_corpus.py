"""The bad input corpus (corpus.py) from local files, through every stage."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.pipeline.harness import run_pipeline

from .checks import apply, run_and_check, source_file
from .corpus import CASES, EVENTS, GOOD, TS, Case, csv, jl, jsonl, obj, parquet, row


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_quarantined_or_a_clear_error(workspace, tmp_path, monkeypatch, case: Case):
    apply(case, monkeypatch)
    folder = tmp_path / "landing"
    folder.mkdir()
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    connector = {"type": "local_files", "path": f"{folder}/*", "format": case.format}
    source_file(workspace, "bad_input", {k: v for k, v in connector.items() if v is not None})
    select = run_and_check(workspace, case, "bad_input", lambda f: str(folder / f))
    if case.unread:  # read again next run (the readable files are not)
        again = run_pipeline(workspace.dag("bad_input"), "run_2").manifest("select")
        assert again["errors_by_code"].get("BAD_FILE") == len(case.unread)
        assert again["rows_read"] == 0
    assert select is not None


def test_rows_of_a_file_that_fails_midway_are_withdrawn_not_half_loaded(workspace, tmp_path, monkeypatch):
    # A truncated gzip fails after many rows were staged: none of them may land, since the file is
    # read again (whole) next run; the good file next to it lands.
    import gzip
    import io

    from headwater.connectors.file_formats import read_file

    data = gzip.compress(csv(*(row(i) for i in range(300_000))))
    data = data[: len(data) // 2]
    staged = sum(c.table.num_rows for c in read_file(io.BytesIO(data), name="a", fmt="csv", compression="gzip"))
    assert staged > 1000  # the reader hands on rows before it finds the damage
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "a.csv.gz").write_bytes(data)
    (folder / "z.csv").write_bytes(csv(row(1)))
    source_file(workspace, "bad_input", {"type": "local_files", "path": f"{folder}/*", "chunk_size": 1000})
    run = run_pipeline(workspace.dag("bad_input"), "run_1")
    select = run.manifest("select")
    assert select["rows_read"] == 1 and select["rows_rejected"] == 0
    assert select["errors_by_code"] == {"BAD_FILE": 1}
    assert run.manifest("load")["rows_loaded"] == 1


def test_a_duplicate_column_note_reaches_the_run_record(workspace, tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"id,type,ts,type\n" + f"{row(1)},x\n".encode())
    source_file(workspace, "bad_input", {"type": "local_files", "path": f"{folder}/*"})
    run = run_pipeline(workspace.dag("bad_input"), "run_1")
    assert f"{folder / 'a.csv'}: duplicate column names renamed (type -> type_2)" in run.manifest("select")["notes"]


def test_select_byte_limit_is_a_clear_run_error_and_nothing_lands(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_MAX_SELECT_BYTES", "1000")
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "a.csv").write_bytes(csv(*(row(i) for i in range(500))))
    source_file(workspace, "bad_input", {"type": "local_files", "path": f"{folder}/*"})
    case = Case("limit", {"a.csv": b""}, 0, 0, failure=f"while reading {folder / 'a.csv'}")
    from .checks import run_and_check as check

    check(workspace, case, "bad_input", str)
    assert GOOD  # the corpus' companion file is not needed here


def test_withdrawn_file_takes_its_flushed_row_errors_with_it(workspace, tmp_path, monkeypatch):
    # Row errors are flushed to quarantine parts every ERROR_FLUSH rows; a file withdrawn after a
    # flush must take those parts back too, and leave the errors of the file before it alone.
    import gzip

    from headwater.operators import select as select_module

    monkeypatch.setattr(select_module, "ERROR_FLUSH", 3)
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "a.csv").write_bytes(csv(row(1), "e2", "e3", row(4)))  # two malformed rows, kept
    lines = [row(i) if i % 10 else f"e{i}" for i in range(300_000)]  # malformed every 10th row
    data = gzip.compress(csv(*lines))
    (folder / "b.csv.gz").write_bytes(data[: len(data) // 2])  # fails midway: withdrawn
    source_file(workspace, "bad_input", {"type": "local_files", "path": f"{folder}/*"})
    run = run_pipeline(workspace.dag("bad_input"), "run_1")
    select = run.manifest("select")
    assert (select["rows_read"], select["rows_rejected"]) == (2, 2)
    assert select["errors_by_code"] == {"MALFORMED_ROW": 2, "BAD_FILE": 1}
    from .checks import rows

    quarantine = rows("_quarantine", "bad_input")
    assert sorted(q["error_code"] for q in quarantine) == ["BAD_FILE", "MALFORMED_ROW", "MALFORMED_ROW"]
    assert {q["location"] for q in quarantine if q["error_code"] == "MALFORMED_ROW"} == {
        f"{folder / 'a.csv'}:line 3", f"{folder / 'a.csv'}:line 4"
    }
    assert len(rows("bad_input", "bad_input")) == 2


def test_rows_rejected_after_select_carry_their_file_and_line(workspace, tmp_path):
    """A CAST_FAILED row (map), an expectation failure (validate) and Parquet rows name the exact
    file and line (row, item) they came from, also when lines were skipped before them and the rows
    cross chunk boundaries: select's location index ties `_hw_row` to them."""
    import json

    from .checks import rows

    folder = tmp_path / "landing"
    folder.mkdir()
    bad_ts, bad_type = "not-a-time", "nope"
    # a.csv: line 3 malformed (skipped by select), line 5 has a bad timestamp, line 7 a bad type
    (folder / "a.csv").write_bytes(csv(row(1), "e2", row(3), f"e4,t,{bad_ts}", row(5), f"e6,{bad_type},{TS}", row(7)))
    # b.jsonl: a blank line (2) and a malformed line (4) before the bad rows on lines 5 and 7
    lines = [jl(1), "", jl(3), "{broken", json.dumps(obj(5, ts=bad_ts)), jl(6), json.dumps(obj(7, type=bad_type))]
    (folder / "b.jsonl").write_bytes(jsonl(*lines))
    # c.parquet: rows 3 (bad type) and 6 (bad timestamp) of the file, read in batches of 2
    events = EVENTS.set_column(1, "type", pa.array(["t", "t", bad_type, "t", "t", "t"]))
    events = events.set_column(2, "ts", pa.array([TS] * 5 + [bad_ts]))
    (folder / "c.parquet").write_bytes(parquet(events, row_group_size=4))
    # d.json: items 2 (bad type, line 1) and 4 (bad timestamp, line 3)
    items = [jl(1), json.dumps(obj(2, type=bad_type)), "\n" + jl(3), "\n" + json.dumps(obj(4, ts=bad_ts))]
    (folder / "d.json").write_bytes(("[" + ", ".join(items) + "]").encode())
    expectations = [{"type": "expect_column_values_to_be_in_set", "column": "event_type", "value_set": ["t"]}]
    source_file(workspace, "bad_input", {"type": "local_files", "path": f"{folder}/*", "chunk_size": 2}, expectations)
    run = run_pipeline(workspace.dag("bad_input"), "run_1")
    assert run.manifest("select")["location_parts"]  # the index is staged next to the parts
    later = sorted(
        (q["stage"], q["error_code"], q["location"], json.loads(q["record"])["event_id" if q["stage"] == "validate" else "id"])
        for q in rows("_quarantine", "bad_input")
        if q["stage"] != "select"
    )
    expect = "expect_column_values_to_be_in_set"
    assert later == sorted(
        [
            ("map", "CAST_FAILED", f"{folder / 'a.csv'}:line 5", "e4"),
            ("validate", expect, f"{folder / 'a.csv'}:line 7", "e6"),
            ("map", "CAST_FAILED", f"{folder / 'b.jsonl'}:line 5", "e5"),
            ("validate", expect, f"{folder / 'b.jsonl'}:line 7", "e7"),
            ("validate", expect, f"{folder / 'c.parquet'}:row 3", "e2"),
            ("map", "CAST_FAILED", f"{folder / 'c.parquet'}:row 6", "e5"),
            ("validate", expect, f"{folder / 'd.json'}:line 1, item 2", "e2"),
            ("map", "CAST_FAILED", f"{folder / 'd.json'}:line 3, item 4", "e4"),
        ]
    )
    assert len(rows("bad_input", "bad_input")) == 4 + 3 + 4 + 2


def test_retried_stages_locate_rejected_rows_once_from_the_retry_index(workspace, tmp_path):
    """A retried select replaces its index (batch-keyed, like its parts); retried map and validate
    read it again: every rejected row is quarantined once, with its line."""
    from headwater.lake.locations import INDEX_STAGE
    from headwater.lake.staging import Staging
    from tests.pipeline.harness import run_task

    from .checks import rows

    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "a.csv").write_bytes(csv(*(row(i) if i % 7 else f"e{i},t,never" for i in range(1, 30))))
    source_file(workspace, "bad_input", {"type": "local_files", "path": f"{folder}/*", "chunk_size": 4})
    dag = workspace.dag("bad_input")
    run = run_pipeline(dag, "run_1", until="validate")
    first = run.manifest("select")["location_parts"]
    for task in ("select", "map", "validate"):  # each retried once, as Airflow would after a crash
        run_task(dag, task, "run_1", run.xcoms)
    again = run.manifest("select")["location_parts"]
    staging = Staging(dag.dag_id, "run_1")
    assert staging.parts(INDEX_STAGE) == again and len(again) == len(first)
    for task in ("load", "monitor"):
        run_task(dag, task, "run_1", run.xcoms)
    located = sorted(q["location"] for q in rows("_quarantine", "bad_input"))
    # records 7, 14, 21, 28 have a bad timestamp: lines 8, 15, 22, 29 (the header is line 1)
    assert located == sorted(f"{folder / 'a.csv'}:line {n + 1}" for n in (7, 14, 21, 28))
