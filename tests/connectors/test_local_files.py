"""Local files connector: formats, row-level errors, damaged files, incremental state, excludes."""

from __future__ import annotations

import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.connectors.files import LocalFilesHook
from headwater.connectors.models import LocalFilesConnector


def hook(path: str, **fields) -> LocalFilesHook:
    return LocalFilesHook(config=LocalFilesConnector(type="local_files", path=path, **fields))


def read_all(h: LocalFilesHook, state: dict | None = None):
    chunks = list(h.read(state))
    rows = [row for c in chunks for row in c.table.to_pylist()]
    errors = [e for c in chunks for e in c.errors]
    return chunks, rows, errors


def write(path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_csv_bad_rows_become_errors_and_good_rows_are_kept(include_dir):
    write(include_dir / "crm/a.csv", 'id,name\n1,Ann\n2\n3,Bob,extra\n4,"Cy, Jr"\n5,\n')
    _, rows, errors = read_all(hook("crm/*.csv"))
    assert rows == [
        {"id": "1", "name": "Ann"},
        {"id": "4", "name": "Cy, Jr"},
        {"id": "5", "name": None},  # an empty field is null
    ]
    file = include_dir / "crm/a.csv"
    assert [(e.code, e.stage, e.row, e.value, e.message, e.record, e.location) for e in errors] == [
        ("MALFORMED_ROW", "select", None, "2", f"{file} line 3 (record 2): expected 2 columns, found 1", "2", f"{file}:line 3"),
        (
            "MALFORMED_ROW", "select", None, "3,Bob,extra", f"{file} line 4 (record 3): expected 2 columns, found 3",
            "3,Bob,extra", f"{file}:line 4",
        ),
    ]  # fmt: skip


def test_csv_all_columns_are_text_and_undecodable_rows_are_bad_encoding(include_dir):
    write(include_dir / "a.csv", b"id,amount\n1,2.50\n2,\xff\xfe\n3,007\n")
    chunks, rows, errors = read_all(hook("a.csv"))
    assert chunks[0].table.schema == pa.schema([("id", pa.string()), ("amount", pa.string())])
    assert rows == [{"id": "1", "amount": "2.50"}, {"id": "3", "amount": "007"}]
    assert [(e.code, e.column, e.message) for e in errors] == [
        (
            "BAD_ENCODING",
            "amount",
            f"{include_dir / 'a.csv'} line 3 (record 2): column 'amount' is not valid utf-8 text",
        )
    ]
    assert json.loads(errors[0].record) == {"id": "2", "amount": "\\xff\\xfe"}
    assert errors[0].location == f"{include_dir / 'a.csv'}:line 3"


def test_csv_options_without_header(include_dir):
    write(include_dir / "a.txt", "# exported\nx;y\n1;2\n")
    csv = {"delimiter": ";", "header": False, "column_names": ["a", "b"], "skip_rows": 1}
    _, rows, errors = read_all(hook("a.txt", format="csv", csv=csv))
    assert rows == [{"a": "x", "b": "y"}, {"a": "1", "b": "2"}] and errors == []


def test_empty_files_and_a_header_alone_hold_no_rows(include_dir):
    write(include_dir / "a.csv", "")
    write(include_dir / "b.csv", "id,name\n")
    write(include_dir / "c.jsonl", "")
    write(include_dir / "d.txt", "")
    source = hook("*.*")
    chunks, rows, errors = read_all(source)
    assert rows == []
    assert [(e.code, e.message) for e in errors] == [
        ("BAD_FILE", f"{include_dir / 'd.txt'}: cannot tell the format from the extension; set connector.format"),
    ]
    # empty files are read completely (recorded, not read again), with a note for the run record
    assert f"{include_dir / 'a.csv'}: the file is empty; no rows" in source.notes
    assert f"{include_dir / 'c.jsonl'}: the file is empty; no rows" in source.notes
    assert sorted(k.rsplit("/", 1)[-1] for k in source.next_state()["files"]) == ["a.csv", "b.csv", "c.jsonl"]


def test_csv_is_chunked(include_dir):
    write(include_dir / "big.csv", "id,v\n" + "".join(f"{i},x{i}\n" for i in range(2_500)))
    chunks, rows, _ = read_all(hook("big.csv", chunk_size=1_000))
    assert [c.table.num_rows for c in chunks] == [1_000, 1_000, 500]
    assert rows[-1] == {"id": "2499", "v": "x2499"}


def test_gzip_csv_by_extension_and_explicit(include_dir):
    write(include_dir / "a.csv.gz", gzip.compress(b"id\n1\n2\n"))
    write(include_dir / "b.data", gzip.compress(b"id\n3\n"))
    assert read_all(hook("a.csv.gz"))[1] == [{"id": "1"}, {"id": "2"}]
    assert read_all(hook("b.data", format="csv", compression="gzip"))[1] == [{"id": "3"}]


def test_corrupt_gzip_is_bad_file_and_other_files_are_still_read(include_dir):
    write(include_dir / "in/a.csv.gz", b"this is not gzip")
    write(include_dir / "in/b.csv.gz", gzip.compress(b"id\n1\n" * 50)[:-12])  # truncated
    write(include_dir / "in/c.csv", "id\n9\n")
    h = hook("in/*")
    _, rows, errors = read_all(h)
    assert rows[-1] == {"id": "9"}
    assert [(e.code, e.row) for e in errors] == [("BAD_FILE", None), ("BAD_FILE", None)]
    assert errors[0].message == (
        f"{include_dir / 'in/a.csv.gz'}: cannot read this csv file "
        "(BadGzipFile: Not a gzipped file (b'th')); skipped the rest of it"
    )
    assert errors[1].message.startswith(f"{include_dir / 'in/b.csv.gz'}: cannot read this csv file (EOFError")
    # Files that could not be read to their end are not recorded: the next run reads them again.
    assert set(h.next_state()["files"]) == {"in/c.csv"}
    assert any("not recorded as read" in note and "in/b.csv.gz" in note for note in h.notes)


def test_jsonl_streams_with_row_errors_and_consistent_types(include_dir):
    lines = [json.dumps({"id": i, "email": None}) for i in range(3)]
    lines += [
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"id": 3, "email": "a@x", "tags": ["a"], "extra": {"k": 1}}),
    ]
    lines += [json.dumps({"id": "four"})]
    write(include_dir / "a.jsonl", "\n".join(lines) + "\n")
    chunks, rows, errors = read_all(hook("a.jsonl", chunk_size=2))
    assert all(c.table.num_rows <= 2 for c in chunks)
    assert rows[:2] == [{"id": 0, "email": None}, {"id": 1, "email": None}]
    # Fields first seen later join the schema from that chunk on (null for earlier rows of it).
    assert rows[2] == {"id": 2, "email": None, "tags": None, "extra": None}
    assert rows[3] == {"id": 3, "email": "a@x", "tags": '["a"]', "extra": '{"k": 1}'}
    schemas = {c.table.schema.field("email").type for c in chunks if c.table.num_rows}
    assert schemas == {pa.string()}  # null in the first chunk, text later: one type for the read
    file = include_dir / "a.jsonl"
    assert [(e.code, e.message) for e in errors] == [
        (
            "MALFORMED_ROW",
            f"{file} line 5: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        ),
        ("MALFORMED_ROW", f"{file} line 6: expected a JSON object, found array"),
        ("TYPE_MISMATCH", f"{file} line 8: value of 'id' does not fit type int64 taken from earlier records"),
    ]
    assert json.loads(errors[2].record) == {"id": "four"}


def test_json_array(include_dir):
    write(include_dir / "a.json", json.dumps([{"id": 1, "ok": True}, 5, {"id": 2, "ok": False}]))
    write(include_dir / "b.json", json.dumps({"id": 1}))
    _, rows, errors = read_all(hook("*.json"))
    assert rows == [{"id": 1, "ok": True}, {"id": 2, "ok": False}]
    assert [(e.code, e.message) for e in errors] == [
        ("MALFORMED_ROW", f"{include_dir / 'a.json'} item 2 (line 1): expected a JSON object, found number"),
        (
            "BAD_FILE",
            f"{include_dir / 'b.json'}: expected a JSON array of objects, found object "
            "(for one object per line use format: jsonl)",
        ),
    ]


def test_parquet_by_batches(include_dir):
    table = pa.table({"id": list(range(2_500)), "name": [f"n{i}" for i in range(2_500)]})
    pq.write_table(table, include_dir / "a.parquet", row_group_size=700)
    write(include_dir / "b.parquet", b"PAR1 definitely not parquet")
    chunks, rows, errors = read_all(hook("*.parquet", chunk_size=1_000))
    assert [c.table.num_rows for c in chunks if c.table.num_rows] == [1_000, 1_000, 500]
    assert chunks[0].table.schema == table.schema
    assert len(rows) == 2_500
    assert [e.code for e in errors] == ["BAD_FILE"]
    assert errors[0].message.startswith(f"{include_dir / 'b.parquet'}: cannot read this parquet file")


def test_unknown_extension_is_bad_file(include_dir):
    write(include_dir / "a.xml", "<a/>")
    _, _, errors = read_all(hook("a.*"))
    assert [(e.code, e.message) for e in errors] == [
        (
            "BAD_FILE",
            f"{include_dir / 'a.xml'}: cannot tell the format from the extension; set connector.format",
        )
    ]


def test_incremental_by_mtime_and_size(include_dir):
    a, b = include_dir / "d/a.csv", include_dir / "d/b.csv"
    write(a, "id\n1\n")
    write(b, "id\n2\n")
    h = hook("d/*.csv")
    _, rows, _ = read_all(h)
    assert rows == [{"id": "1"}, {"id": "2"}]
    state = h.next_state()
    assert state == {
        "files": {
            "d/a.csv": {"version": f"{a.stat().st_mtime_ns}:5", "mtime": a.stat().st_mtime, "size": 5},
            "d/b.csv": {"version": f"{b.stat().st_mtime_ns}:5", "mtime": b.stat().st_mtime, "size": 5},
        }
    }
    assert h.watermark_description().startswith("2 files read so far; newest modified ")
    json.dumps(state)  # state must be JSON

    _, rows, _ = read_all(h, state)  # unchanged: nothing read
    assert rows == [] and h.notes == ["2 file(s) unchanged since the last run, skipped"]
    assert h.next_state() == state

    os.utime(a, (a.stat().st_atime, a.stat().st_mtime + 10))  # touched: same size, new mtime
    _, rows, _ = read_all(h, state)
    assert rows == [{"id": "1"}]
    state = h.next_state()

    mtime = b.stat().st_mtime
    write(b, "id\n2\n3\n")
    os.utime(b, (mtime, mtime))  # same mtime, new size
    _, rows, _ = read_all(h, state)
    assert rows == [{"id": "2"}, {"id": "3"}]
    assert h.next_state()["files"]["d/b.csv"]["size"] == 7


def test_not_incremental_reads_everything_and_keeps_no_state(include_dir):
    write(include_dir / "a.csv", "id\n1\n")
    h = hook("a.csv", incremental=False)
    state = {"files": {"a.csv": {"mtime": (include_dir / "a.csv").stat().st_mtime, "size": 5}}}
    assert read_all(h, state)[1] == [{"id": "1"}]
    assert h.next_state() is None and h.watermark_description() is None


def test_exclude_patterns_and_recursive_glob(include_dir):
    for name in ["x/a.csv", "x/deep/b.csv", "x/archive/old.csv", "x/c.tmp.csv", "x/d.json"]:
        write(include_dir / name, "id\n1\n")
    h = hook("x/**/*.csv", exclude=["archive/*", "*.tmp.csv"])
    files, excluded = h.list_files()
    assert [p.relative_to(include_dir).as_posix() for p in files] == ["x/a.csv", "x/deep/b.csv"]
    assert excluded == 2
    assert h.check() == f"2 files (10 bytes) match {include_dir / 'x/**/*.csv'} (2 excluded)"


def test_no_match_is_not_an_error(include_dir):
    h = hook("nothing/*.csv")
    assert h.check() == (
        f"no file matches {include_dir / 'nothing/*.csv'}; folder {include_dir / 'nothing'} does not exist; "
        "the select stage will record no data"
    )
    assert list(h.read(None)) == []
    assert h.next_state() == {"files": {}}
    assert h.notes == [f"no file matches {include_dir / 'nothing/*.csv'}"]


def test_absolute_path_outside_include_dir(tmp_path, include_dir):
    outside = tmp_path / "elsewhere"
    write(outside / "a.csv", "id\n1\n")
    h = hook(str(outside / "*.csv"))
    assert read_all(h)[1] == [{"id": "1"}]
    assert list(h.next_state()["files"]) == [(outside / "a.csv").as_posix()]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_csv_other_encodings(include_dir, encoding):
    write(include_dir / "a.csv", "name\nJosé\n".encode(encoding))
    assert read_all(hook("a.csv", csv={"encoding": encoding}))[1] == [{"name": "José"}]


def test_forced_reingest_reads_an_unchanged_file_again(include_dir):
    write(include_dir / "d/a.csv", "id\n1\n")
    write(include_dir / "d/b.csv", "id\n2\n")
    h = hook("d/*.csv")
    read_all(h)
    state = h.next_state()
    rows = [r for c in h.read(state, reingest=["d/b.csv"]) for r in c.table.to_pylist()]
    assert rows == [{"id": "2"}]
    assert "re-ingesting on request: d/b.csv" in h.notes
    assert h.next_state() == state
