"""The bad input corpus (corpus.py) from local files, through every stage."""

from __future__ import annotations

import pytest

from tests.pipeline.harness import run_pipeline

from .checks import apply, run_and_check, source_file
from .corpus import CASES, GOOD, Case, csv, row


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
