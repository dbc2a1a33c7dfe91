"""The bad input corpus: malformed files, each with what must come of it.

Every case is a folder of files one source reads. A case says how many data records its files
hold, how many rows must land in the lake and which errors must land in quarantine; the tests run
it through the real stage chain and check lake rows + quarantined rows = records, for every file
that could be read. A file that cannot be read to its end is named in `unread`: none of its rows
may land, it is not recorded as read, and the run must not end as a success.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

TS = "2026-03-01T00:00:00+00:00"
HEADER = "id,type,ts"


@dataclass
class Case:
    id: str
    files: dict[str, bytes]
    records: int  # data records in the files that can be read
    loaded: int
    codes: dict[str, int] = field(default_factory=dict)  # select-stage quarantine rows by code
    status: str = "success"
    unread: tuple[str, ...] = ()  # files that cannot be read to their end (BAD_FILE)
    format: str | None = None
    patch: dict[str, object] = field(default_factory=dict)  # "module:ATTR" -> value
    env: dict[str, str] = field(default_factory=dict)
    failure: str | None = None  # a clear run error: text the failing stage's message contains


def row(i: int) -> str:
    return f"e{i},t,{TS}"


def csv(*lines: str | bytes) -> bytes:
    body = [line.encode() if isinstance(line, str) else line for line in lines]
    return HEADER.encode() + b"\n" + b"\n".join(body) + b"\n"


def obj(i: int, **extra) -> dict:
    return {"id": f"e{i}", "type": "t", "ts": TS, **extra}


def jl(i: int) -> str:
    return json.dumps(obj(i))


def jsonl(*lines: str | bytes) -> bytes:
    return b"\n".join(line.encode() if isinstance(line, str) else line for line in lines) + b"\n"


def parquet(table: pa.Table, **kwargs) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, **kwargs)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


GOOD = {"z_good.csv": csv(row(900), row(901))}  # a readable file next to an unreadable one
DEEP = "[" * 100_000 + "]" * 100_000
EVENTS = pa.table({"id": [f"e{i}" for i in range(6)], "type": ["t"] * 6, "ts": [TS] * 6})


def _truncated_gzip() -> bytes:
    data = gzip.compress(csv(*(row(i) for i in range(50_000))))
    return data[: len(data) // 2]


def _bomb() -> bytes:
    return gzip.compress(csv(*(row(1) for _ in range(400_000))), 9)  # 14 MB of rows in ~40 KB


CASES = [
    # -- CSV --------------------------------------------------------------------------------------
    Case("csv_wrong_field_count", {"a.csv": csv(row(1), "e2,t", row(3), f"{row(4)},extra")}, 4, 2, {"MALFORMED_ROW": 2}),
    Case("csv_bad_utf8_byte", {"a.csv": csv(row(1), b"e2,t\xff," + TS.encode(), row(3))}, 3, 2, {"BAD_ENCODING": 1}),
    Case("csv_latin1_file_read_as_utf8", {"a.csv": csv("e1,caf\u00e9,x".encode("latin-1"), row(2))}, 2, 1, {"BAD_ENCODING": 1}),
    Case(
        "csv_10mb_field_over_the_block_size",
        {"a.csv": csv(*(row(i) for i in range(10)), f"e10,{'y' * 10_000_000},{TS}", *(row(i) for i in range(11, 21)))},
        21, 21,
    ),
    Case("csv_unterminated_quote", {"a.csv": csv(row(1), row(2), 'e3,"never closed,' + TS)}, 3, 2, {"MALFORMED_ROW": 1}),
    Case("csv_duplicate_header", {"a.csv": b"id,type,ts,type\n" + f"{row(1)},x\n{row(2)},y\n".encode()}, 2, 2),
    Case("csv_bom_and_crlf", {"a.csv": b"\xef\xbb\xbf" + csv(row(1), row(2)).replace(b"\n", b"\r\n")}, 2, 2),
    Case("csv_nul_bytes", {"a.csv": csv(row(1), b"e2,t\x00t," + TS.encode())}, 2, 2),
    Case("csv_blank_lines_and_malformed", {"a.csv": csv(row(1), "", "e2", "", row(3))}, 3, 2, {"MALFORMED_ROW": 1}),
    Case(
        "csv_record_numbers_after_malformed_rows",
        {"a.csv": csv(*[(f"e{i}" if i in (100, 200, 300, 400) else row(i)) for i in range(1, 777)], b"e777,t\xff," + TS.encode(), row(778))},
        778, 773, {"MALFORMED_ROW": 4, "BAD_ENCODING": 1},
    ),
    Case("csv_only_bad_rows", {"a.csv": csv("e1", "e2,t", "e3")}, 3, 0, {"MALFORMED_ROW": 3}, status="failed"),
    Case("csv_empty_file", {"a.csv": b"", **GOOD}, 2, 2),  # read completely: no rows, a note, a success
    Case("csv_truncated_gzip", {"a.csv.gz": _truncated_gzip(), **GOOD}, 2, 2, status="failed", unread=("a.csv.gz",)),
    Case(
        "csv_gzip_bomb", {"a.csv.gz": _bomb(), **GOOD}, 2, 2, status="failed", unread=("a.csv.gz",),
        patch={"headwater.connectors.compression:EXPANSION_SLACK_BYTES": 1 << 20},
    ),
    Case("csv_corrupt_bz2", {"a.csv.bz2": b"BZh9 not really", **GOOD}, 2, 2, status="failed", unread=("a.csv.bz2",)),
    Case(
        "zip_with_a_truncated_member",
        {"a.zip": zipped({"1.csv": csv(row(1)), "2.csv.gz": _truncated_gzip()}), **GOOD},
        2, 2, status="failed", unread=("a.zip",),
    ),
    Case("unknown_extension", {"a.txt": b"what is this", **GOOD}, 2, 2, status="failed", unread=("a.txt",)),
    # -- JSON lines ---------------------------------------------------------------------------------
    Case("jsonl_invalid_json", {"a.jsonl": jsonl(jl(1), '{"id": "e2", ', jl(3))}, 3, 2, {"MALFORMED_ROW": 1}),
    Case("jsonl_100000_levels_deep", {"a.jsonl": jsonl(jl(1), '{"id": "e2", "x": ' + DEEP + "}", jl(3))}, 3, 2, {"MALFORMED_ROW": 1}),
    Case("jsonl_lone_surrogate_key", {"a.jsonl": jsonl(jl(1), '{"\\uDFAA": 0}', jl(3))}, 3, 2, {"BAD_ENCODING": 1}),
    Case("jsonl_lone_surrogate_value", {"a.jsonl": jsonl(jl(1), '{"id": "e2\\uD800", "type": "t", "ts": "' + TS + '"}', jl(3))}, 3, 2, {"BAD_ENCODING": 1}),
    Case("jsonl_null_line", {"a.jsonl": jsonl(jl(1), "null", jl(3))}, 3, 2, {"MALFORMED_ROW": 1}),
    Case("jsonl_scalars_and_arrays", {"a.jsonl": jsonl(jl(1), "5", '"text"', "[1, 2]", "true", jl(6))}, 6, 2, {"MALFORMED_ROW": 4}),
    Case("jsonl_bad_utf8", {"a.jsonl": jsonl(jl(1), b'{"id": "e2\xff"}', jl(3))}, 3, 2, {"BAD_ENCODING": 1}),
    Case("jsonl_type_changes", {"a.jsonl": jsonl(json.dumps(obj(1, n=1)), json.dumps(obj(2, n="two")), json.dumps(obj(3, n=3)))}, 3, 3),  # mixed in one chunk: text
    Case(
        "jsonl_type_changes_between_blocks",
        {"a.jsonl": jsonl(*(json.dumps(obj(i, n=i)) for i in range(20)), json.dumps(obj(20, n="twenty")), json.dumps(obj(21, n=21)))},
        22, 21, {"TYPE_MISMATCH": 1}, patch={"headwater.connectors.file_formats:_JSONL_BLOCK_BYTES": 256},
    ),
    Case("jsonl_truncated_last_line", {"a.jsonl": jsonl(jl(1), jl(2))[:-1] + b"\n" + jl(3).encode()[:20]}, 3, 2, {"MALFORMED_ROW": 1}),
    Case(
        "jsonl_line_over_the_longest_line", {"a.jsonl": jsonl(jl(1), json.dumps(obj(2, pad="x" * 5000)), jl(3))}, 3, 2, {"MALFORMED_ROW": 1},
        patch={"headwater.connectors.file_formats:MAX_RECORD_BYTES": 4096, "headwater.connectors.file_formats:_JSONL_BLOCK_BYTES": 1024},
    ),
    # -- JSON arrays --------------------------------------------------------------------------------
    Case("json_deep_item", {"a.json": ("[" + jl(1) + ', {"x": ' + DEEP + "}, " + jl(3) + "]").encode()}, 3, 2, {"MALFORMED_ROW": 1}),
    Case("json_surrogate_item", {"a.json": ("[" + jl(1) + ', {"id": "\\uDC00"}, ' + jl(3) + "]").encode()}, 3, 2, {"BAD_ENCODING": 1}),
    Case("json_null_and_scalar_items", {"a.json": ("[" + jl(1) + ", null, 7, " + jl(4) + "]").encode()}, 4, 2, {"MALFORMED_ROW": 2}),
    Case("json_not_an_array", {"a.json": jl(1).encode(), **GOOD}, 2, 2, status="failed", unread=("a.json",)),
    Case("json_truncated_document", {"a.json": ("[" + jl(1) + ", " + jl(2)).encode()[:-5], **GOOD}, 2, 2, status="failed", unread=("a.json",)),
    # -- Parquet ----------------------------------------------------------------------------------
    Case("parquet_truncated", {"a.parquet": parquet(EVENTS)[:-40], **GOOD}, 2, 2, status="failed", unread=("a.parquet",)),
    Case("parquet_not_parquet", {"a.parquet": b"PAR1 this is not parquet PAR1", **GOOD}, 2, 2, status="failed", unread=("a.parquet",)),
    Case(
        "parquet_duplicate_columns",
        {"a.parquet": parquet(pa.Table.from_arrays([*EVENTS.columns, EVENTS.column("type")], names=["id", "type", "ts", "type"]))},
        6, 6,
    ),
    Case("parquet_zstd_corrupt", {"a.parquet.zst": b"\x28\xb5\x2f\xfd not zstd", **GOOD}, 2, 2, status="failed", unread=("a.parquet.zst",)),
]

