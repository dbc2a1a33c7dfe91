"""Format readers on their own: CSV options, JSON lines (block and per-line paths), compression, zip,
and damaged files. Each reader gets a plain (non-seekable) stream, as remote and compressed files do."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.connectors import file_formats
from headwater.connectors.compression import compression_of
from headwater.connectors.file_formats import detect_format, read_file
from headwater.connectors.models import CsvOptions


class Stream(io.RawIOBase):
    """A stream that can only be read forward (like a socket or a decompressor)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._data.readinto(buffer)


def zstd(data: bytes) -> bytes:
    out = pa.BufferOutputStream()
    with pa.CompressedOutputStream(out, "zstd") as sink:
        sink.write(data)
    return out.getvalue().to_pybytes()


def parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def read(data: bytes, name: str = "f", fmt: str | None = "csv", seekable: bool = False, **kwargs):
    stream = io.BytesIO(data) if seekable else io.BufferedReader(Stream(data))
    chunks = list(read_file(stream, name=name, fmt=fmt, **kwargs))
    rows = [r for c in chunks for r in c.table.to_pylist()]
    return rows, [(e.code, e.message) for c in chunks for e in c.errors]


CSV = b"id,name\n1,Ann\n2,Bob\n"
ROWS = [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "setting", "compression", "fmt"),
    [
        ("a.csv", "auto", None, "csv"),
        ("a.csv.gz", "auto", "gzip", "csv"),
        ("a.jsonl.bz2", "auto", "bz2", "jsonl"),
        ("a.parquet.zst", "auto", "zstd", "parquet"),
        ("A.JSON.ZIP", "auto", "zip", "json"),
        ("a.zip", "auto", "zip", None),
        ("a.csv.gz", "none", None, "csv"),
        ("a.data", "bz2", "bz2", None),
    ],
)
def test_compression_and_format_from_the_name(name, setting, compression, fmt):
    assert compression_of(name, setting) == compression
    assert detect_format(name) == fmt


# -- CSV options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "options", "rows"),
    [
        pytest.param(b"id;name\n1;Ann\n2;Bob\n", {"delimiter": ";"}, ROWS, id="delimiter"),
        pytest.param(b"id,name\n1,'A, nn'\n", {"quotechar": "'"}, [{"id": "1", "name": "A, nn"}], id="quotechar"),
        pytest.param(b'id,name\n1,"A\\"nn"\n', {"escapechar": "\\"}, [{"id": "1", "name": 'A"nn'}], id="escapechar"),
        pytest.param(b"1,Ann\n2,Bob\n", {"header": False, "column_names": ["id", "name"]}, ROWS, id="no_header"),
        pytest.param(b"a,b\n1,Ann\n2,Bob\n", {"column_names": ["id", "name"]}, ROWS, id="names_replace_header"),
        pytest.param(b"exported today\n\nid,name\n1,Ann\n2,Bob\n", {"skip_rows": 2}, ROWS, id="skip_rows"),
        pytest.param("id,name\n1,Zoë\n".encode("latin-1"), {"encoding": "latin-1"}, [{"id": "1", "name": "Zoë"}], id="latin1"),
        pytest.param(b'id,name\n1,"two\nlines"\n', {}, [{"id": "1", "name": "two\nlines"}], id="newline_in_quotes"),
        pytest.param(b"id,name\n1,\n2,\"\"\n", {}, [{"id": "1", "name": None}, {"id": "2", "name": ""}], id="null_vs_empty"),
    ],
)
def test_csv_options(data, options, rows):
    assert read(data, csv=CsvOptions(**options)) == (rows, [])


def test_csv_header_longer_than_a_block_on_a_stream(monkeypatch):
    monkeypatch.setattr(file_formats, "_CSV_BLOCK_BYTES", 16)
    names = [f"column_{i}" for i in range(20)]
    data = (",".join(names) + "\n" + ",".join(str(i) for i in range(20)) + "\n").encode()
    rows, errors = read(data)
    assert errors == [] and rows == [{n: str(i) for i, n in enumerate(names)}]


def test_csv_large_file_on_a_stream_keeps_every_row():
    data = b"id,pad\n" + b"".join(b"%d,%s\n" % (i, b"x" * 50) for i in range(100_000))
    rows, errors = read(data, chunk_size=30_000)
    assert errors == [] and len(rows) == 100_000 and rows[-1]["id"] == "99999"


# -- compression -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compress", "kind"),
    [(gzip.compress, "gzip"), (bz2.compress, "bz2"), (zstd, "zstd"), (lambda d: d, None)],
    ids=["gzip", "bz2", "zstd", "none"],
)
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "parquet"])
def test_every_format_in_every_compression(compress, kind, fmt):
    table = pa.table({"id": ["1", "2"], "name": ["Ann", "Bob"]})
    data = {
        "csv": CSV,
        "jsonl": b"".join(json.dumps(r).encode() + b"\n" for r in ROWS),
        "json": json.dumps(ROWS).encode(),
        "parquet": parquet(table),
    }[fmt]
    assert read(compress(data), fmt=fmt, compression=kind) == (ROWS, [])


def test_zip_members_are_files_of_their_own():
    data = zipped(
        {
            "a.csv": CSV,
            "sub/b.jsonl.gz": gzip.compress(b'{"id": "3", "name": "Cy"}\n'),
            "c.parquet": parquet(pa.table({"id": ["4"], "name": ["Di"]})),
            "d.txt": b"what format?",
            "e.csv": b"",
            "inner.zip": zipped({"x.csv": CSV}),
        }
    )
    rows, errors = read(data, name="in/archive.zip", fmt=None, compression="zip")
    assert rows == [*ROWS, {"id": "4", "name": "Di"}, {"id": "3", "name": "Cy"}]
    assert errors == [
        ("BAD_FILE", "in/archive.zip!d.txt: cannot tell the format from the extension; set connector.format"),
        ("BAD_FILE", "in/archive.zip!inner.zip: a zip archive inside a zip archive is not read; extract it first"),
    ]


# -- damaged files -----------------------------------------------------------------------------


BAD_FILES = [
    pytest.param(
        b"not gzip", "csv", "gzip", "BAD_FILE",
        "f: cannot read this csv file (BadGzipFile: Not a gzipped file (b'no')); skipped the rest of it",
        id="corrupt_gzip",
    ),
    pytest.param(
        b"not bz2!", "csv", "bz2", "BAD_FILE",
        "f: cannot read this csv file (OSError: Invalid data stream); skipped the rest of it", id="corrupt_bz2",
    ),
    pytest.param(b"not zstd", "csv", "zstd", "BAD_FILE", "f: cannot read this csv file (", id="corrupt_zstd"),
    pytest.param(
        parquet(pa.table({"id": list(range(100))}))[:-30], "parquet", None, "BAD_FILE",
        "f: cannot read this parquet file (ArrowInvalid: ", id="truncated_parquet",
    ),
    pytest.param(
        b"not a zip", None, "zip", "BAD_FILE",
        "f: cannot read this zip archive (BadZipFile: File is not a zip file)", id="corrupt_zip",
    ),
    pytest.param(zipped({}), None, "zip", "BAD_FILE", "f: the zip archive holds no files", id="empty_zip"),
    pytest.param(
        b'{"a": 1', "json", None, "BAD_FILE", "f: invalid JSON (Expecting ',' delimiter at line 1 column 8)",
        id="broken_json",
    ),
]


@pytest.mark.parametrize(
    ("data", "fmt", "compression"),
    [
        pytest.param(b"", "csv", None, id="csv"),
        pytest.param(b"", "jsonl", None, id="jsonl"),
        pytest.param(b"", "json", None, id="json"),
        pytest.param(b"", "parquet", None, id="parquet"),
        pytest.param(gzip.compress(b""), "csv", "gzip", id="csv_after_gunzip"),
    ],
)
def test_an_empty_file_is_read_completely_with_a_note(data, fmt, compression):
    # no rows and no error (a BAD_FILE would leave it unrecorded and fail every run), but the run says so
    chunks = list(read_file(io.BufferedReader(Stream(data)), name="f", fmt=fmt, compression=compression))
    assert [c.table.num_rows for c in chunks if c.table.num_rows] == []
    assert [e for c in chunks for e in c.errors] == []
    assert [n for c in chunks for n in c.notes] == ["f: the file is empty; no rows"]


@pytest.mark.parametrize(("data", "fmt", "compression", "code", "message"), BAD_FILES)
def test_damaged_files_are_one_error(data, fmt, compression, code, message):
    rows, errors = read(data, fmt=fmt, compression=compression)
    assert rows == []
    [(got_code, got_message)] = errors
    assert got_code == code and got_message.startswith(message)


def test_truncated_gzip_is_a_bad_file_and_the_next_reads_go_on():
    data = gzip.compress(b"id\n" + b"".join(b"%d\n" % i for i in range(200_000)))
    rows, errors = read(data[: len(data) // 2], compression="gzip")
    # Rows before the damage are kept, except those pyarrow's read-ahead had not handed over yet.
    assert len(rows) < 200_000
    assert [code for code, _ in errors] == ["BAD_FILE"] and "EOFError" in errors[0][1]
    assert read(gzip.compress(CSV), compression="gzip") == (ROWS, [])


def test_csv_text_ascii_utf8_and_bad_bytes_in_one_file(monkeypatch):
    # ASCII-only blocks skip the UTF-8 check; a block with other bytes is checked, and a bad value
    # there is still one BAD_ENCODING row while valid UTF-8 is kept.
    monkeypatch.setattr(file_formats, "_CSV_BLOCK_BYTES", 16)
    data = b"id,name\n1,Ann\n2,Bo\n3,Zo\xc3\xab\n4,\xff\n5,\n6,Cy\n"
    rows, errors = read(data)
    assert rows == [
        {"id": "1", "name": "Ann"}, {"id": "2", "name": "Bo"}, {"id": "3", "name": "Zoë"},
        {"id": "5", "name": None}, {"id": "6", "name": "Cy"},
    ]  # fmt: skip
    assert errors == [("BAD_ENCODING", "f line 5 (record 4): column 'name' is not valid utf-8 text")]


def test_ascii_as_text_looks_only_at_the_values_of_a_slice():
    column = pa.array([b"\xff", b"ab", None, b"cd", "é".encode()], pa.binary())
    assert file_formats._ascii_as_text(column) is None
    text = file_formats._ascii_as_text(column.slice(1, 3))
    assert text is not None and text.type == pa.string() and text.to_pylist() == ["ab", None, "cd"]
    text.validate(full=True)
    assert file_formats._ascii_as_text(pa.array([None, None], pa.binary())).to_pylist() == [None, None]
    assert file_formats._ascii_as_text(pa.array(["x"])) is None  # only binary columns


ROW_ERRORS = [
    pytest.param(
        b"id,name\n1,Ann\n2\n3,Bob,x\n", "csv", [{"id": "1", "name": "Ann"}],
        [("MALFORMED_ROW", "f line 3 (record 2): expected 2 columns, found 1"), ("MALFORMED_ROW", "f line 4 (record 3): expected 2 columns, found 3")],
        id="csv_wrong_field_count",
    ),
    pytest.param(
        b"id,name\n1,Ann\n2,\xff\n", "csv", [{"id": "1", "name": "Ann"}],
        [("BAD_ENCODING", "f line 3 (record 2): column 'name' is not valid utf-8 text")],
        id="csv_bad_utf8",
    ),
    pytest.param(
        b'{"id": 1}\n{"id": "\xff"}\n{"id": 2\n', "jsonl", [{"id": 1}],
        [("BAD_ENCODING", "f line 2: not valid utf-8 text"), ("MALFORMED_ROW", "f line 3: invalid JSON (Expecting ',' delimiter at column 9)")],
        id="jsonl_bad_lines",
    ),
]


@pytest.mark.parametrize(("data", "fmt", "rows", "errors"), ROW_ERRORS)
def test_bad_rows_are_errors_and_good_rows_are_kept(data, fmt, rows, errors):
    assert read(data, fmt=fmt) == (rows, errors)


# -- JSON lines: block path vs per-line path ---------------------------------------------------


def test_jsonl_blocks_keep_types_text_and_line_numbers(monkeypatch):
    monkeypatch.setattr(file_formats, "_JSONL_BLOCK_BYTES", 64)  # many blocks, some parsed line by line
    lines = [json.dumps({"id": i, "at": "2026-01-01T00:00:00+00:00", "n": None}) for i in range(8)]
    lines[3] = "{broken"
    lines[5] = json.dumps({"id": 5, "at": "2026-01-01", "tags": ["a"], "n": 1.5})
    lines.insert(6, "")
    rows, errors = read(("\n".join(lines) + "\n").encode(), fmt="jsonl", chunk_size=3)
    assert [r["id"] for r in rows] == [0, 1, 2, 4, 5, 6, 7]
    assert {r["at"] for r in rows} == {"2026-01-01T00:00:00+00:00", "2026-01-01"}  # text as written
    assert rows[4]["tags"] == '["a"]' and rows[4]["n"] == "1.5"  # n was all null first: text
    assert errors == [("MALFORMED_ROW", "f line 4: invalid JSON (Expecting property name enclosed in double quotes at column 2)")]


def test_jsonl_value_of_another_type_in_a_later_block_is_a_type_mismatch(monkeypatch):
    monkeypatch.setattr(file_formats, "_JSONL_BLOCK_BYTES", 32)
    data = b"".join(json.dumps({"id": i}).encode() + b"\n" for i in range(10)) + b'{"id": "ten"}\n'
    rows, errors = read(data, fmt="jsonl")
    assert len(rows) == 10 and errors == [
        ("TYPE_MISMATCH", "f line 11: value of 'id' does not fit type int64 taken from earlier records")
    ]


class ReadOnlyStream:
    """A file-like object with `read` only, returning at most 5 bytes at a time."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 5) if size is not None and size >= 0 else 5)


@pytest.mark.parametrize("stream", [Stream, ReadOnlyStream], ids=["readinto", "read_only"])
def test_jsonl_blocks_reuse_one_buffer_without_changing_earlier_rows(monkeypatch, stream):
    # Blocks are views of one reused buffer: rows parsed from earlier blocks must not change when
    # later bytes are read into it, and line numbers still count every earlier block.
    monkeypatch.setattr(file_formats, "_JSONL_BLOCK_BYTES", 64)
    lines = [json.dumps({"id": i, "name": f"name-{i:04d}-" + "x" * (i % 7)}) for i in range(300)]
    lines[149] = '{"id": 149, "name": '
    lines[220] = json.dumps({"id": 220, "name": "a line much longer than one block " * 5})
    data = ("\n".join(lines) + "\n").encode()
    chunks = list(read_file(stream(data), name="f", fmt="jsonl", chunk_size=1000))
    rows = [r for c in chunks for r in c.table.to_pylist()]
    errors = [(e.code, e.message) for c in chunks for e in c.errors]
    assert rows == [json.loads(line) for i, line in enumerate(lines) if i != 149]
    assert errors == [("MALFORMED_ROW", "f line 150: invalid JSON (Expecting value at column 21)")]


def test_jsonl_block_text_is_checked_only_when_not_ascii():
    ascii_block = b'{"id": 1, "name": "Ann"}\n'
    utf8_block = '{"id": 2, "name": "Zoë"}\n'.encode()
    bad_block = b'{"id": 3, "name": "\xff"}\n'
    rows, errors = read(ascii_block + utf8_block + bad_block, fmt="jsonl")
    assert rows == [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Zoë"}]
    assert errors == [("BAD_ENCODING", "f line 3: not valid utf-8 text")]


def test_jsonl_line_longer_than_a_block(monkeypatch):
    monkeypatch.setattr(file_formats, "_JSONL_BLOCK_BYTES", 8)
    rows, errors = read(b'{"id": 1, "name": "a long line"}\n{"id": 2, "name": "b"}', fmt="jsonl")
    assert rows == [{"id": 1, "name": "a long line"}, {"id": 2, "name": "b"}] and errors == []


# -- reader limits: one bad record is one error, the rest of the file is read (issue 9) ----------


def test_csv_record_longer_than_a_block_is_read_with_the_rest_of_the_file():
    # 10 rows, one 10 MB field (pyarrow's block is 1 MiB), 10 more rows: every row is read.
    rows_in = [b"%d,x" % i for i in range(10)] + [b"10," + b"y" * 10_000_000] + [b"%d,z" % i for i in range(11, 21)]
    data = b"id,v\n" + b"\n".join(rows_in) + b"\n"
    for stream in (io.BytesIO(data), io.BufferedReader(io.BytesIO(gzip.compress(data, 1)))):
        chunks = list(read_file(stream, name="f", fmt="csv", compression=None if isinstance(stream, io.BytesIO) else "gzip"))
        rows = [r for c in chunks for r in c.table.to_pylist()]
        assert [c.errors for c in chunks if c.errors] == []
        assert [r["id"] for r in rows] == [str(i) for i in range(21)]
        assert len(rows[10]["v"]) == 10_000_000


def test_csv_long_record_restart_keeps_malformed_rows_once(monkeypatch):
    monkeypatch.setattr(file_formats, "_CSV_BLOCK_BYTES", 64)
    data = b"id,v\n1,a\n2\n3,b\n4," + b"L" * 300 + b"\n5\n6,c\n"
    rows, errors = read(data, seekable=True)
    assert [r["id"] for r in rows] == ["1", "3", "4", "6"]
    assert errors == [
        ("MALFORMED_ROW", "f line 3 (record 2): expected 2 columns, found 1"),
        ("MALFORMED_ROW", "f line 6 (record 5): expected 2 columns, found 1"),
    ]


def test_csv_record_longer_than_the_limit_or_on_a_one_way_stream_is_a_bad_file(monkeypatch):
    monkeypatch.setattr(file_formats, "_CSV_BLOCK_BYTES", 64)
    data = b"id,v\n1,a\n2," + b"L" * 2000 + b"\n" + b"3,c\n" * 100
    rows, errors = read(data)  # a forward-only stream cannot be read again
    assert errors == [
        (
            "BAD_FILE",
            "f: cannot read this csv file (ValueError: a record after data record 1 is longer than 64 bytes "
            "and this stream cannot be read again); skipped the rest of it",
        )
    ]
    monkeypatch.setattr(file_formats, "MAX_RECORD_BYTES", 256)
    rows, errors = read(data, seekable=True)
    assert [code for code, _ in errors] == ["BAD_FILE"] and "is longer than 256 bytes, the longest read" in errors[0][1]


def test_csv_record_numbers_count_malformed_rows_before_a_bad_encoding_row():
    # Data record 777 has a bad byte; four malformed records come before it (all in one block).
    lines = [b"%d,ok" % i for i in range(1, 1001)]
    for n in (100, 200, 300, 400):
        lines[n - 1] = b"%d" % n  # one field short
    lines[776] = b"777,bad\xff"
    chunks = list(read_file(io.BytesIO(b"id,v\n" + b"\n".join(lines) + b"\n"), name="f.csv", fmt="csv"))
    errors = [e for c in chunks for e in c.errors]
    [bad] = [e for e in errors if e.code == "BAD_ENCODING"]
    assert bad.message == "f.csv line 778 (record 777): column 'v' is not valid utf-8 text"
    assert bad.location == "f.csv:line 778"
    assert json.loads(bad.record) == {"id": "777", "v": "bad\\xff"}
    assert [e.location for e in errors if e.code == "MALFORMED_ROW"] == [f"f.csv:line {n + 1}" for n in (100, 200, 300, 400)]


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        pytest.param('{"a": ' + DEEP + "}", "MALFORMED_ROW", "nested deeper than 100 levels", id="deep"),
        pytest.param('{"\\uDFAA": 0}', "BAD_ENCODING", "a key or value is a lone surrogate escape", id="surrogate_key"),
        pytest.param('{"a": "x\\uD800"}', "BAD_ENCODING", "a key or value is a lone surrogate escape", id="surrogate_value"),
        pytest.param("null", "MALFORMED_ROW", "expected a JSON object, found null", id="null"),
        pytest.param("[1, 2]", "MALFORMED_ROW", "expected a JSON object, found array", id="array"),
    ],
)
@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_one_bad_json_record_is_one_error(line, code, message, fmt):
    good = ['{"a": 1, "s": "\\ud83d\\ude00"}', '{"a": 2}']  # a surrogate pair is one character: fine
    if fmt == "jsonl":
        data, where = "\n".join([good[0], line, good[1]]) + "\n", "f line 2"
    else:
        data, where = "[" + ",\n".join([good[0], line, good[1]]) + "]", "f item 2 (line 2)"
    chunks = list(read_file(io.BytesIO(data.encode()), name="f", fmt=fmt))
    rows = [r for c in chunks for r in c.table.to_pylist()]
    errors = [e for c in chunks for e in c.errors]
    assert [r["a"] for r in rows] == [1, 2] and rows[0]["s"] == "\U0001f600"
    [error] = errors
    assert error.code == code and error.message.startswith(f"{where}: {message}")
    assert error.record == line and error.location.startswith("f:line 2")


def test_null_json_line_is_one_rule_on_both_jsonl_paths(monkeypatch):
    # The block parser (pyarrow) reads `null` as a row of nulls; it must not keep it.
    data = b'{"a": 1}\nnull\n{"a": 2}\n{}\n'
    rows, errors = read(data, fmt="jsonl")
    assert rows == [{"a": 1}, {"a": 2}, {"a": None}]  # `{}` is an object: an (empty) row
    assert errors == [("MALFORMED_ROW", "f line 2: expected a JSON object, found null")]


def test_jsonl_line_longer_than_the_limit_is_one_error(monkeypatch):
    monkeypatch.setattr(file_formats, "_JSONL_BLOCK_BYTES", 16)
    monkeypatch.setattr(file_formats, "MAX_RECORD_BYTES", 64)
    data = b'{"a": 1}\n{"a": "' + b"x" * 500 + b'"}\n{"a": 2}\n{"a": 3}'
    for stream in (Stream, ReadOnlyStream):
        chunks = list(read_file(stream(data), name="f", fmt="jsonl"))
        rows = [r for c in chunks for r in c.table.to_pylist()]
        errors = [(e.code, e.message, e.location) for c in chunks for e in c.errors]
        assert rows == [{"a": 1}, {"a": 2}, {"a": 3}]
        assert errors == [("MALFORMED_ROW", "f line 2: longer than 64 bytes (509 bytes), the longest line read", "f:line 2")]


def test_json_array_deep_item_does_not_hide_the_items_after_it():
    data = ('[{"a": 1}, ' + '{"b": ' + "[" * 5000 + "]" * 5000 + '}, {"a": 2}]').encode()
    rows, errors = read(data, fmt="json")
    assert rows == [{"a": 1}, {"a": 2}]
    assert errors == [("MALFORMED_ROW", "f item 2 (line 1): nested deeper than 100 levels")]


def test_duplicate_column_names_are_renamed_with_a_note():
    chunks = list(read_file(io.BytesIO(b"a,a,b,a_2\n1,2,3,4\n"), name="f", fmt="csv"))
    assert chunks[0].table.column_names == ["a", "a_3", "b", "a_2"]
    assert chunks[0].table.to_pylist() == [{"a": "1", "a_3": "2", "b": "3", "a_2": "4"}]
    assert [n for c in chunks for n in c.notes] == ["f: duplicate column names renamed (a -> a_3)"]
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    chunks = list(read_file(io.BytesIO(parquet(table)), name="p", fmt="parquet"))
    assert chunks[0].table.column_names == ["x", "x_2"]
    assert [n for c in chunks for n in c.notes] == ["p: duplicate column names renamed (x -> x_2)"]


def test_gzip_bomb_stops_at_the_expansion_limit(monkeypatch):
    from headwater.connectors import compression

    monkeypatch.setattr(compression, "EXPANSION_SLACK_BYTES", 1 << 20)
    bomb = gzip.compress(b"id,v\n" + b"1,a\n" * 5_000_000, 9)  # 20 MB in ~20 KB
    rows, errors = read(bomb, name="bomb.csv.gz", compression="gzip")
    [(code, message)] = errors
    assert code == "BAD_FILE" and message.startswith("bomb.csv.gz: cannot read this csv file (ExpansionLimitExceeded: decompresses to more than 100x")
    assert len(rows) < 5_000_000
    monkeypatch.setenv("HEADWATER_MAX_EXPANSION_RATIO", "0")  # 0: no limit
    rows, errors = read(bomb, name="bomb.csv.gz", compression="gzip")
    assert errors == [] and len(rows) == 5_000_000
