"""Format readers for file sources, working on any readable binary file object.

Every file source (local disk, object stores, SFTP) passes its own file objects. Each reader
streams in bounded memory, except JSON arrays (`json.load` needs the whole document). Compressed
files are decompressed on the fly (gzip, bz2, zstd); a zip archive is a folder whose members are
read as files of their own (`archive.zip!member.csv`). Problems with one row become `RowError`s
(MALFORMED_ROW, BAD_ENCODING, TYPE_MISMATCH) carrying the raw record and where it is
(`file:line N`), and the good rows are kept; so are reader limits (a record longer than
MAX_RECORD_BYTES, JSON nested deeper than MAX_JSON_DEPTH). A file that cannot be read at all or to
its end (or is empty) becomes one BAD_FILE error and the caller moves on to the next file; the
file source then withdraws its rows and does not record the file as read.
"""

from __future__ import annotations

import bisect
import io
import json
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

import pyarrow as pa

from headwater.records import RowError, render_value

from .arrow_util import TypedColumns, rechunk
from .base import SELECT_STAGE, Chunk
from .compression import compression_of, decompress, limit_expansion, seekable_copy, without_suffix
from .json_values import MAX_JSON_DEPTH, RecordProblem, check_depth, check_text, parse_record, value_end
from .models import CsvOptions
from .positions import ITEM, LINE, ROW, Run, runs_of, slice_runs, without_rows

EXTENSIONS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_FILE_ERRORS = (OSError, EOFError, zlib.error, pa.ArrowException, ValueError, zipfile.BadZipFile, RecursionError)
_CSV_BLOCK_BYTES = 1 << 20  # 4 MiB parses ~9% faster but pyarrow then holds ~150 MiB more in flight
_JSONL_BLOCK_BYTES = 4 << 20
# Longest record (CSV record, JSON line) read: CSV blocks grow up to it for a longer record, a
# longer JSON line is one MALFORMED_ROW. Bounds the memory one record can take.
MAX_RECORD_BYTES = 64 << 20
# The raw record kept in a quarantine row is cut after this many characters.
MAX_RECORD_CHARS = 1 << 20
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def detect_format(name: str) -> str | None:
    """Format from the file name's extension, ignoring a compression suffix; None if unknown."""
    return EXTENSIONS.get(PurePosixPath(without_suffix(name).lower()).suffix)


def uses_gzip(name: str, compression: str) -> bool:
    """Kept for callers that only know gzip; `compression.compression_of` knows every kind."""
    return compression_of(name, compression) == "gzip"


def _error(
    code: str,
    message: str,
    value: object = None,
    column: str | None = None,
    record: str | None = None,
    location: str | None = None,
) -> RowError:
    return RowError(
        row=None,
        stage=SELECT_STAGE,
        code=code,
        column=column,
        value=render_value(value),
        message=message,
        record=_cut(record),
        location=location,
    )


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else f"{n:,} bytes"


def _cut(record: str | None) -> str | None:
    if record is None or len(record) <= MAX_RECORD_CHARS:
        return record
    return record[:MAX_RECORD_CHARS] + f"… (cut: {len(record):,} characters)"


def bad_file(name: str, message: str, code: str = "BAD_FILE") -> Chunk:
    return Chunk(pa.table({}), [_error(code, f"{name}: {message}", location=name)])


def empty_file(name: str) -> Chunk:
    """A file with no bytes (an export with nothing to report): read completely, no rows, a note.
    Not a BAD_FILE: that would keep it unrecorded and fail every run until someone deleted it."""
    return Chunk(pa.table({}), [], [f"{name}: the file is empty; no rows"])


def unique_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Column names made unique the same way every time: the second `name` becomes `name_2`
    (`name_3`, ... when taken). Returns the names and one `a -> a_2` remark per rename."""
    taken = set(names)
    seen: dict[str, int] = {}
    out, renamed = [], []
    for column in names:
        if column not in seen:
            seen[column] = 1
            out.append(column)
            continue
        n = seen[column]
        while True:
            n += 1
            candidate = f"{column}_{n}"
            if candidate not in taken:
                break
        seen[column] = n
        taken.add(candidate)
        out.append(candidate)
        renamed.append(f"{column} -> {candidate}")
    return out, renamed


def _renamed_note(name: str, renamed: list[str]) -> list[str]:
    if not renamed:
        return []
    return [f"{name}: duplicate column names renamed ({', '.join(renamed)})"]


def read_file(
    fileobj: BinaryIO,
    *,
    name: str,
    fmt: str | None,
    compressed: bool = False,
    compression: str | None = None,
    csv: CsvOptions | None = None,
    chunk_size: int = 100_000,
) -> Iterator[Chunk]:
    """Chunks of at most `chunk_size` rows from one file; `name` is used in messages only.

    `compression` is `gzip`, `bz2`, `zstd`, `zip` or None (`compressed=True` means gzip). `fmt`
    may be None for a zip archive: each member's format then comes from its own name.
    """
    kind = compression or ("gzip" if compressed else None)
    if kind == "zip":
        yield from _read_zip(fileobj, name, fmt, csv, chunk_size)
        return
    if fmt is None:
        yield bad_file(name, "cannot tell the format from the extension; set connector.format")
        return
    yield from rechunk(_guard(_read_one(fileobj, kind, name, fmt, csv, chunk_size), name, fmt), chunk_size)


def _read_one(
    fileobj: BinaryIO,
    kind: str | None,
    name: str,
    fmt: str,
    csv: CsvOptions | None,
    chunk_size: int,
    packed_size: int | None = None,
) -> Iterator[Chunk]:
    """One file; `packed_size`: a zip member's compressed size (its expansion is limited too)."""
    if fmt not in ("csv", "jsonl", "json", "parquet"):
        raise ValueError(f"unknown file format {fmt!r}")
    start = _position(fileobj)

    def opened() -> BinaryIO:
        stream = decompress(fileobj, kind)
        if packed_size is not None:
            stream = limit_expansion(stream, lambda: packed_size)
        return stream

    def reopen() -> BinaryIO | None:
        """The file again from its start, or None when the stream cannot go back."""
        if start is None:
            return None
        fileobj.seek(start)
        return opened()

    source = opened()  # inside the generator: a damaged header is a BAD_FILE
    if fmt == "csv":
        yield from _read_csv(source, reopen, name, csv or CsvOptions())
    elif fmt == "jsonl":
        yield from _read_jsonl(source, name, chunk_size)
    elif fmt == "json":
        yield from _read_json_array(source, name, chunk_size)
    else:
        # Parquet is read from its footer: a decompressed stream is copied first
        yield from _read_parquet(seekable_copy(source, force=kind is not None), name, chunk_size)


def _read_zip(
    fileobj: BinaryIO, name: str, fmt: str | None, csv: CsvOptions | None, chunk_size: int
) -> Iterator[Chunk]:
    """Every member of the archive as a file of its own, named `archive.zip!member`."""
    try:
        archive = zipfile.ZipFile(seekable_copy(fileobj))
        members = sorted((m for m in archive.infolist() if not m.is_dir()), key=lambda m: m.filename)
    except _FILE_ERRORS as exc:
        yield bad_file(name, f"cannot read this zip archive ({type(exc).__name__}: {_first_line(exc)})")
        return
    if not members:
        yield bad_file(name, "the zip archive holds no files")
        return
    with archive:
        for member in members:
            member_name = f"{name}!{member.filename}"
            inner = compression_of(member.filename)
            if inner == "zip":
                yield bad_file(member_name, "a zip archive inside a zip archive is not read; extract it first")
                continue
            member_fmt = fmt or detect_format(member.filename)
            if member_fmt is None:
                yield bad_file(member_name, "cannot tell the format from the extension; set connector.format")
                continue
            packed = member.compress_size if member.compress_type != zipfile.ZIP_STORED else None
            try:
                stream = archive.open(member)
                if member_fmt == "parquet" and inner is None:  # a member seeks by decompressing again
                    if packed is not None:
                        stream = limit_expansion(stream, lambda packed=packed: packed)
                    stream, packed = seekable_copy(stream, force=True), None
            except _FILE_ERRORS as exc:
                yield bad_file(member_name, f"cannot read this zip member ({type(exc).__name__}: {_first_line(exc)})")
                continue
            with stream:
                rows = _read_one(stream, inner, member_name, member_fmt, csv, chunk_size, packed)  # type: ignore[arg-type]
                yield from rechunk(_guard(rows, member_name, member_fmt), chunk_size)


def _position(fileobj: BinaryIO) -> int | None:
    try:
        return fileobj.tell() if fileobj.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _guard(chunks: Iterator[Chunk], name: str, fmt: str) -> Iterator[Chunk]:
    """Turn a failure while reading into one BAD_FILE error and stop this file (an undecodable
    file in a transcoded encoding included: the error says so)."""
    try:
        yield from chunks
    except _FILE_ERRORS as exc:
        yield bad_file(name, f"cannot read this {fmt} file ({type(exc).__name__}: {_first_line(exc)}); skipped the rest of it")


# -- CSV ------------------------------------------------------------------------------------------


def _read_csv(source: BinaryIO, reopen, name: str, opts: CsvOptions) -> Iterator[Chunk]:
    """The file in pyarrow blocks of 1 MiB. A record longer than a block fails pyarrow's chunker
    ("straddles two block boundaries"): the file is then read again from its start (`reopen`) with
    4x the block, up to MAX_RECORD_BYTES, skipping the rows already handed on, so the long record
    and every row after it are read. Only a stream that cannot go back (or a record longer than
    MAX_RECORD_BYTES) makes that a BAD_FILE."""
    block = _CSV_BLOCK_BYTES
    done = _CsvProgress()
    while True:
        try:
            yield from _csv_pass(source, name, opts, block, done)
            return
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            if block >= MAX_RECORD_BYTES:
                raise ValueError(
                    f"a record after data record {done.records} is longer than {_size(MAX_RECORD_BYTES)}, the longest read"
                ) from None
            again = reopen()
            if again is None:
                raise ValueError(
                    f"a record after data record {done.records} is longer than {_size(block)} and this stream cannot be read again"
                ) from None
            source, block = again, min(block * 4, MAX_RECORD_BYTES)


class _CsvProgress:
    """What earlier passes over a file handed on, so a pass after a restart hands on only the rest."""

    def __init__(self) -> None:
        self.rows = 0  # rows of batches handed on (kept or BAD_ENCODING)
        self.records = 0  # data records accounted for (rows handed on + malformed before them)
        self.malformed_upto = 0  # highest data record number reported as MALFORMED_ROW


class _RecordNumbers:
    """Data record numbers (1-based, header not counted) of the rows pyarrow hands over.

    Malformed records are skipped by pyarrow, but their numbers are known from the invalid-row
    handler: a row's number is the next one not taken by a malformed record before it.
    """

    def __init__(self) -> None:
        self.next = 1
        self.malformed: list[int] = []  # numbers not yet passed, ascending

    def add_malformed(self, number: int) -> None:
        bisect.insort(self.malformed, number)

    def of(self, index: int) -> int:
        """Number of the batch row at `index` (relative to `self.next`)."""
        n = self.next + index
        for skipped in self.malformed:
            if skipped > n:
                break
            n += 1
        return n

    def spans(self, rows: int) -> list[tuple[int, int]]:
        """(first number, count) of the consecutive numbers of the next `rows` batch rows: the
        same numbers `of` gives, one pair per stretch between malformed records."""
        out: list[tuple[int, int]] = []
        n, left = self.next, rows
        for skipped in self.malformed:
            if skipped < n:
                continue
            gap = skipped - n
            if gap >= left:
                break
            if gap:
                out.append((n, gap))
                left -= gap
            n = skipped + 1
        if left:
            out.append((n, left))
        return out

    def advance(self, rows: int) -> None:
        if rows:
            last = self.of(rows - 1)
            self.next = last + 1
            cut = bisect.bisect_left(self.malformed, self.next)
            del self.malformed[:cut]

    def passed(self) -> int:
        return self.next - 1


def _csv_pass(source: BinaryIO, name: str, opts: CsvOptions, block: int, done: _CsvProgress) -> Iterator[Chunk]:
    import pyarrow.csv as pacsv

    errors: list[RowError] = []
    offset = opts.skip_rows + (1 if opts.header else 0)  # records before the first data record
    numbers = _RecordNumbers()
    resumed = done.rows  # rows an earlier pass already handed on: skipped in this one
    reported = done.malformed_upto  # malformed records an earlier pass already handed on
    pending_upto = [reported]  # the same, counting the errors waiting for the next chunk

    def on_invalid(row) -> str:
        if row.number is None:
            where, location, record_no = "a line", name, None
        else:
            record_no = row.number - offset
            numbers.add_malformed(record_no)
            where, location = f"line {row.number} (record {record_no})", f"{name}:line {row.number}"
        if record_no is None or record_no > reported:
            if record_no is not None:
                pending_upto[0] = max(pending_upto[0], record_no)
            errors.append(
                _error(
                    "MALFORMED_ROW",
                    f"{name} {where}: expected {row.expected_columns} columns, found {row.actual_columns}",
                    value=row.text,
                    record=row.text,
                    location=location,
                )
            )
        return "skip"

    def parse(handler) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(
            delimiter=opts.delimiter,
            quote_char=opts.quotechar,
            escape_char=opts.escapechar or False,
            newlines_in_values=True,
            invalid_row_handler=handler,
        )

    # One thread so the parser knows line numbers for malformed rows.
    read_opts = {"encoding": opts.encoding, "use_threads": False, "block_size": block}
    head = source.read(block)
    if not head:
        yield empty_file(name)
        return
    names = opts.column_names
    notes: list[str] = []
    if names is None:
        head, names = _csv_header(source, head, opts, parse(lambda row: "skip"), read_opts)
        if names is None:  # nothing but skipped lines
            return
        names, renamed = unique_names(names)
        if renamed:  # pyarrow would keep both names, and every later stage looks columns up by name
            notes = _renamed_note(name, renamed) if not resumed else []
            read_options = pacsv.ReadOptions(skip_rows=opts.skip_rows + 1, column_names=names, **read_opts)
        else:
            read_options = pacsv.ReadOptions(skip_rows=opts.skip_rows, **read_opts)
    else:
        read_options = pacsv.ReadOptions(skip_rows=offset, column_names=names, **read_opts)
    # The bytes already read are replayed in front of the rest: no seeking, so compressed and
    # remote streams work, and no second reader races the probe's read-ahead.
    source = _Replayed(head, source)  # type: ignore[assignment]
    if len(head) > block:  # the header must fit in the first block
        read_options.block_size = len(head)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.binary() for n in names},
        null_values=[""],
        strings_can_be_null=True,  # an empty field is null; a quoted empty field "" stays ""
        quoted_strings_can_be_null=False,
    )
    reader = pacsv.open_csv(
        source, read_options=read_options, parse_options=parse(on_invalid), convert_options=convert
    )
    try:
        seen = 0  # rows of this pass
        for batch in reader:
            first = seen
            seen += batch.num_rows
            if seen <= resumed:  # handed on by an earlier pass
                numbers.advance(batch.num_rows)
                continue
            if first < resumed:
                numbers.advance(resumed - first)
                batch = batch.slice(resumed - first)
            table, bad, runs = _decode_batch(batch, name, opts.encoding, numbers, offset)
            numbers.advance(batch.num_rows)
            done.rows += batch.num_rows
            done.records = numbers.passed()
            done.malformed_upto = pending_upto[0]
            yield Chunk(table, errors + bad, notes, runs=runs)
            errors.clear()
            notes = []
    finally:
        # pyarrow reads ahead on a thread of its own: after an error (a record straddling blocks)
        # that thread may still be reading the file while the caller seeks back to its start for
        # the next pass. Closing waits for a read in flight and makes later ones read nothing.
        source.close()
    if errors or notes:
        yield Chunk(pa.table({n: pa.array([], pa.string()) for n in names}), list(errors), notes)


def _csv_header(source, head: bytes, opts: CsvOptions, parse_options, read_opts) -> tuple[bytes, list[str] | None]:
    """Column names from the header, reading on until the header is complete (a data row follows,
    or the file ends). Returns the bytes read so far and the names (None: no header at all)."""
    import pyarrow.csv as pacsv

    while True:
        names, complete, problem = None, False, None
        try:
            probe = pacsv.open_csv(
                io.BytesIO(head),
                read_options=pacsv.ReadOptions(skip_rows=opts.skip_rows, **{**read_opts, "block_size": len(head) + 1}),
                parse_options=parse_options,
            )
            names = probe.schema.names
            complete = any(batch.num_rows for batch in probe)
        except pa.ArrowInvalid as exc:
            problem = exc  # maybe a header or quoted value cut by the end of `head`: read more
        if complete:
            return head, names
        more = source.read(read_opts["block_size"])
        if not more:
            if problem is not None and "Empty CSV file" not in str(problem):
                raise problem  # a BAD_FILE with the parser's reason
            return head, names
        head += more


class _Replayed(io.RawIOBase):
    """`head` (bytes already read from `rest`) followed by the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head, self._rest = head, rest
        self._lock = threading.Lock()  # pyarrow's read-ahead thread reads; `close` may come from ours

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Detach from the stream (it is not closed): a read in flight ends first, later ones get b""."""
        with self._lock:
            self._head, self._rest = b"", None
        super().close()

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            if self._rest is None:
                return b""
            return self._read(size)

    def _read(self, size: int) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size is None or size < 0:
            out, self._head = self._head + self._rest.read(), b""
            return out
        if size > len(self._head):  # a short read could be taken for the end of the file
            out, self._head = self._head + self._rest.read(size - len(self._head)), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _decode_batch(
    batch: pa.RecordBatch, name: str, encoding: str, numbers: _RecordNumbers, offset: int
) -> tuple[pa.Table, list[RowError], list[Run]]:
    """Raw bytes -> text columns; rows with bytes that are not valid text become BAD_ENCODING.
    The table's runs say the line of each row kept (record number + `offset`)."""
    runs = [Run(count, name, LINE, first + offset, first) for first, count in numbers.spans(batch.num_rows)]
    arrays, bad_rows = [], {}
    for column_name, column in zip(batch.schema.names, batch.columns, strict=True):
        text = _ascii_as_text(column)
        if text is not None:
            arrays.append(text)
            continue
        try:
            arrays.append(column.cast(pa.string()))
            continue
        except pa.ArrowInvalid:
            pass
        values = column.to_pylist()
        for i, raw in enumerate(values):
            if raw is None:
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad_rows.setdefault(i, (column_name, raw))
                values[i] = None
            else:
                values[i] = raw.decode("utf-8")
        arrays.append(pa.array(values, pa.string()))
    table = pa.Table.from_arrays(arrays, names=batch.schema.names)
    errors = []
    for i, (column, raw) in sorted(bad_rows.items()):
        record_no = numbers.of(i)
        line = record_no + offset
        # the raw record: every field of the row, undecodable bytes shown as \x escapes
        fields = {n: None if v is None else v.decode("utf-8", "backslashreplace") for n, v in batch.slice(i, 1).to_pylist()[0].items()}
        errors.append(
            _error(
                "BAD_ENCODING",
                f"{name} line {line} (record {record_no}): column '{column}' is not valid {encoding} text",
                value=raw.decode("utf-8", "backslashreplace"),
                column=column,
                record=json.dumps(fields, ensure_ascii=False),
                location=f"{name}:line {line}",
            )
        )
    if bad_rows:
        keep = [i for i in range(table.num_rows) if i not in bad_rows]
        table = table.take(pa.array(keep, pa.int64()))
        runs = without_rows(runs, bad_rows)
    return table, errors, runs


def _ascii_as_text(column: pa.Array) -> pa.Array | None:
    """A binary column as text without a UTF-8 check when every byte is ASCII (always valid text),
    else None. One numpy pass over the bytes costs about a quarter of the cast's validation (plus
    its per-call overhead) on the bench CSV."""
    if column.type != pa.binary() or not _ascii_only(column):
        return None
    return pa.Array.from_buffers(pa.string(), len(column), column.buffers(), column.null_count, column.offset)


def _ascii_only(column: pa.Array) -> bool:
    """Every byte of the values of a binary or string array (32-bit offsets) is ASCII."""
    import numpy as np

    _, offsets, data = column.buffers()
    if data is None or not len(column):
        return True
    bounds = np.frombuffer(offsets, dtype=np.int32)[[column.offset, column.offset + len(column)]]
    values = np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[1]]
    return not values.size or int(values.max()) < 0x80


# -- JSON -----------------------------------------------------------------------------------------


def _records_chunk(
    typed: TypedColumns,
    records: list[dict],
    where: list[str],
    raw: list[str],
    name: str,
    lines: list[int],
    items: list[int] | None = None,
) -> Chunk:
    """A table of parsed records (`lines`: each one's line; `items`: its place in a JSON array)."""
    names = list(typed.types)
    known = set(names)
    for record in records:
        for key in record:
            if key not in known:
                known.add(key)
                names.append(key)
    table, mismatches = typed.table(names, [[r.get(n) for r in records] for n in names])
    errors = [
        _error(
            "TYPE_MISMATCH",
            f"{name} {where[m.index]}: value of '{m.column}' does not fit type {m.expected} taken from earlier records",
            value=m.value,
            column=m.column,
            record=raw[m.index],
            location=f"{name}:{where[m.index]}",
        )
        for m in mismatches
    ]
    runs = runs_of(name, LINE if items is None else ITEM, lines, items)
    return Chunk(table, errors, runs=without_rows(runs, {m.index for m in mismatches}))


def _json_type(value: object) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


class _LongLine:
    """Stands for a line longer than MAX_RECORD_BYTES, which was read past and not kept."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size = head, size


def _read_jsonl(source: BinaryIO, name: str, chunk_size: int) -> Iterator[Chunk]:
    # Fast path: pyarrow.json parses a block of whole lines at once. A block it rejects (a bad
    # line, a value of another type, a nested object) is parsed again line by line, so a bad
    # line is one error and types follow the same rules as the per-line reader.
    typed = TypedColumns()
    lineno = 1  # number of the first line of the next block
    seen_any = False
    pending: list[tuple[pa.Table, list[Run]]] = []
    count = 0
    errors: list[RowError] = []
    for block in _line_blocks(source, _JSONL_BLOCK_BYTES):
        seen_any = True
        if isinstance(block, _LongLine):
            head = block.head.decode("utf-8", "backslashreplace")
            errors.append(
                _error(
                    "MALFORMED_ROW",
                    f"{name} line {lineno}: longer than {_size(MAX_RECORD_BYTES)} ({block.size:,} bytes), the longest line read",
                    value=head,
                    record=head + "…",
                    location=f"{name}:line {lineno}",
                )
            )
            lineno += 1
            continue
        newlines, flat = _block_shape(block)
        lines = newlines + (0 if block[-1] == 0x0A else 1)
        table = _jsonl_block_fast(block, typed, flat, lines)
        if table is not None:
            parsed = [Chunk(table, runs=[Run(table.num_rows, name, LINE, lineno)] if table.num_rows else [])]
        else:  # the block is reused for the next one: the per-line reader gets its own copy
            parsed = _jsonl_lines(bytes(block), lineno, typed, name, chunk_size)
        lineno += newlines
        for chunk in parsed:
            errors.extend(chunk.errors)
            if chunk.table.num_rows:
                pending.append((chunk.table, chunk.runs))
                count += chunk.table.num_rows
        # Cut exact chunks here: a field first seen later joins the schema (earlier rows of the
        # chunk get null), which `rechunk` alone cannot do across tables of different schemas.
        while count >= chunk_size:
            taken: list[pa.Table] = []
            runs: list[Run] = []
            need = chunk_size
            while need:
                head, head_runs = pending[0]
                if head.num_rows <= need:
                    pending.pop(0)
                    taken.append(head)
                    runs.extend(head_runs)
                else:
                    taken.append(head.slice(0, need))
                    runs.extend(slice_runs(head_runs, 0, need))
                    pending[0] = (head.slice(need), slice_runs(head_runs, need, head.num_rows - need))
                need -= taken[-1].num_rows
            count -= chunk_size
            yield Chunk(pa.concat_tables(taken, promote_options="default"), errors, runs=runs)
            errors = []
    if pending or errors:
        table = pa.concat_tables([t for t, _ in pending], promote_options="default") if pending else pa.table({})
        yield Chunk(table, errors, runs=[r for _, rs in pending for r in rs])
    if not seen_any:
        yield empty_file(name)


def _line_blocks(source: BinaryIO, size: int) -> Iterator[memoryview | _LongLine]:
    """Blocks of about `size` bytes that end at a line break (or at the end of the file).

    Each block is a view of one buffer that is read into again for the next block, so it is valid
    only until the next one is asked for. Reusing the memory saves a copy (unfinished line + new
    bytes) and a fresh allocation per block: ~0.6 s CPU on the 963 MB bench file. A line longer
    than MAX_RECORD_BYTES is read past (not kept) and stands as a `_LongLine`.
    """
    buffer = bytearray(size)
    kept = 0  # bytes of an unfinished line at the front of the buffer
    while True:
        if kept == len(buffer):
            if kept >= MAX_RECORD_BYTES:
                kept = yield from _skip_long_line(source, buffer)
                if kept < 0:
                    return
                continue
            # a line longer than the buffer: a bigger one (views of the old stay valid)
            grown = bytearray(min(2 * len(buffer), max(MAX_RECORD_BYTES, size)))
            grown[:kept] = buffer[:kept]
            buffer = grown
        read = _read_into(source, memoryview(buffer)[kept:])
        if not read:
            if kept:
                yield memoryview(buffer)[:kept]
            return
        end = kept + read
        cut = buffer.rfind(b"\n", 0, end) + 1
        if cut == 0:
            kept = end
            continue
        yield memoryview(buffer)[:cut]
        kept = end - cut
        buffer[:kept] = buffer[cut:end]  # same length: never resizes a buffer that is still viewed


def _skip_long_line(source: BinaryIO, buffer: bytearray):
    """Read past the rest of the line filling `buffer`; yields its `_LongLine` and returns how many
    bytes after its line break are now at the front of `buffer` (-1: the file ended)."""
    head, size = bytes(buffer[:1000]), len(buffer)
    while True:
        read = _read_into(source, memoryview(buffer))
        if not read:
            yield _LongLine(head, size)
            return -1
        cut = buffer.find(b"\n", 0, read)
        if cut < 0:
            size += read
            continue
        yield _LongLine(head, size + cut)
        kept = read - cut - 1
        buffer[:kept] = buffer[cut + 1 : read]
        return kept


def _read_into(source: BinaryIO, view: memoryview) -> int:
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    data = source.read(len(view))
    view[: len(data)] = data
    return len(data)


def _block_shape(block: memoryview) -> tuple[int, bool]:
    """How many line breaks the block holds, and whether it may go to pyarrow's parser at all.

    It may when every line holds at most one `{` and no `[` (nothing nested: pyarrow's parser
    crashes the process on a line nested 100,000 deep, and nested values go line by line anyway)
    and no surrogate escape (pyarrow keeps a lone one as invalid text). A few numpy passes over the
    bytes: ~3 ms CPU per 4 MiB block, where `bytes.count` and `find` took ~20 ms each.
    """
    import numpy as np

    array = np.frombuffer(block, dtype=np.uint8)
    newlines = int(np.count_nonzero(array == ord("\n")))
    if not array.size or np.count_nonzero(array == ord("[")):
        return newlines, not array.size
    if np.count_nonzero(array == ord("\\")):
        data = bytes(block)
        if b"\\ud" in data or b"\\uD" in data:
            return newlines, False
    braces = np.flatnonzero(array == ord("{"))
    if len(braces) <= 1:
        return newlines, True
    lines = newlines + (0 if array[-1] == ord("\n") else 1)
    if len(braces) > lines:
        return newlines, False
    # Usual case: every line starts with `{` and there are as many `{` as lines.
    starts = int(np.count_nonzero(array[braces[braces > 0] - 1] == ord("\n"))) + int(braces[0] == 0)
    if starts == len(braces) == lines:
        return newlines, True
    line_of = np.searchsorted(np.flatnonzero(array == ord("\n")), braces)
    return newlines, not bool(np.any(line_of[1:] == line_of[:-1]))


def _jsonl_block_fast(block: memoryview, typed: TypedColumns, flat: bool, lines: int) -> pa.Table | None:
    """The block as a table typed like the per-line reader would, or None to parse it line by line.
    `lines`: how many lines the block holds; a table of fewer rows (pyarrow skips blank lines)
    goes line by line too, so row N of the block is line N and the location index stays exact."""
    import pyarrow.json as pajson

    if not flat:
        return None
    for _ in range(2):  # a second pass when text that looks like a timestamp must stay text
        known = pa.schema(list(typed.types.items()))
        try:
            table = pajson.read_json(
                pa.BufferReader(pa.py_buffer(block)),  # parsed values are copied: the block may be reused
                read_options=pajson.ReadOptions(use_threads=False, block_size=len(block) + 1),
                parse_options=pajson.ParseOptions(explicit_schema=known, unexpected_field_behavior="infer"),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        text_like = [f.name for f in table.schema if f.name not in typed.types and _is_temporal(f.type)]
        if not text_like:
            break
        for field_name in text_like:  # JSON has no timestamps: keep the text as written
            typed.types[field_name] = pa.string()
    else:
        return None
    columns, names = [], []
    for field in table.schema:
        type_ = field.type
        if pa.types.is_nested(type_) or _is_temporal(type_):
            return None  # nested values become JSON text, written exactly as in the file
    types = dict(typed.types)
    for field in table.schema:
        if field.name not in types:
            types[field.name] = pa.string() if pa.types.is_null(field.type) else field.type
    for column_name, type_ in types.items():
        names.append(column_name)
        if column_name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, type_))
            continue
        column = table.column(column_name)
        if column.type != type_:
            if not pa.types.is_null(column.type):
                return None
            column = pa.nulls(table.num_rows, type_)
        elif pa.types.is_string(type_) and not _valid_utf8(column):
            return None  # pyarrow.json does not check: let the per-line reader find the lines
        columns.append(column)
    if _has_null_line(table):
        return None  # a `null` line reads as a row of nulls here: the per-line reader rejects it
    if table.num_rows != lines:
        return None
    typed.types = types  # only a block that was taken fixes the types of new fields
    return pa.Table.from_arrays(columns, names=names)


def _valid_utf8(column: pa.ChunkedArray) -> bool:
    if all(_ascii_only(chunk) for chunk in column.chunks):  # ASCII is valid UTF-8: no full check
        return True
    try:
        column.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _has_null_line(table: pa.Table) -> bool:
    """Some row has no value at all (a `null` line, or `{}`, which the per-line reader keeps)."""
    import pyarrow.compute as pc

    if not table.num_rows or any(column.null_count == 0 for column in table.columns):
        return False
    every = None
    for column in table.columns:
        missing = pc.is_null(column)
        every = missing if every is None else pc.and_(every, missing)
    return every is None or bool(pc.any(every).as_py())


def _is_temporal(type_: pa.DataType) -> bool:
    return pa.types.is_temporal(type_)


def _jsonl_lines(block: bytes, first: int, typed: TypedColumns, name: str, chunk_size: int) -> Iterator[Chunk]:
    """Line by line: one bad line is one error, and each value is checked against its column's type."""
    records: list[dict] = []
    where: list[str] = []
    raw_lines: list[str] = []
    linenos: list[int] = []
    errors: list[RowError] = []
    for lineno, raw in enumerate(block.split(b"\n"), first):
        if not raw.strip():
            continue
        location = f"{name}:line {lineno}"
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", "backslashreplace").rstrip("\r")
            errors.append(
                _error("BAD_ENCODING", f"{name} line {lineno}: not valid utf-8 text", shown, record=shown, location=location)
            )
            continue
        try:
            value = parse_record(text)
        except RecordProblem as exc:
            errors.append(_error(exc.code, f"{name} line {lineno}: {exc}", text, record=text, location=location))
            continue
        if not isinstance(value, dict):
            errors.append(
                _error(
                    "MALFORMED_ROW",
                    f"{name} line {lineno}: expected a JSON object, found {_json_type(value)}",
                    text,
                    record=text,
                    location=location,
                )
            )
            continue
        records.append(value)
        where.append(f"line {lineno}")
        raw_lines.append(text)
        linenos.append(lineno)
        if len(records) >= chunk_size:
            chunk = _records_chunk(typed, records, where, raw_lines, name, linenos)
            chunk.errors[:0] = errors
            yield chunk
            records, where, raw_lines, linenos, errors = [], [], [], [], []
    if records or errors:
        chunk = _records_chunk(typed, records, where, raw_lines, name, linenos)
        chunk.errors[:0] = errors
        yield chunk


def _read_json_array(source: BinaryIO, name: str, chunk_size: int) -> Iterator[Chunk]:
    """A JSON array is one document: it is loaded whole (not streamed; use JSON lines for big files),
    then parsed item by item so one bad item (too deep, a lone surrogate, not an object) is one error."""
    data = source.read()
    if not data:
        yield empty_file(name)
        return
    try:
        text = data.decode(json.detect_encoding(data))
    except UnicodeDecodeError as exc:
        yield bad_file(name, f"not valid {exc.encoding} text at byte {exc.start}")
        return
    del data
    decoder = json.JSONDecoder()
    typed = TypedColumns()
    records, where, raw, errors = [], [], [], []
    lines: list[int] = []
    items: list[int] = []
    position = _skip_space(text, 0)
    if text.startswith("\ufeff", position):
        position = _skip_space(text, position + 1)
    if not text.startswith("[", position):
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield bad_file(name, _invalid_json(exc))
            return
        yield bad_file(
            name,
            f"expected a JSON array of objects, found {_json_type(document)} (for one object per line use format: jsonl)",
        )
        return
    position = _skip_space(text, position + 1)
    item = 0
    line, line_at = 1, 0  # line number of `line_at`, counted forward as items are read
    while not text.startswith("]", position):
        if item:
            if not text.startswith(",", position):
                yield bad_file(name, _invalid_json(json.JSONDecodeError("Expecting ',' delimiter", text, position)))
                return
            position = _skip_space(text, position + 1)
        item += 1
        line += text.count("\n", line_at, position)
        line_at = position
        at = f"item {item} (line {line})"
        location = f"{name}:line {line}, item {item}"
        try:
            value, end = decoder.raw_decode(text, position)
            check_depth(text, position, end)
            check_text(text[position:end], value)
        except json.JSONDecodeError as exc:
            yield bad_file(name, _invalid_json(exc))
            return
        except (RecursionError, RecordProblem) as exc:
            end = value_end(text, position)
            problem = exc if isinstance(exc, RecordProblem) else RecordProblem("MALFORMED_ROW", f"nested deeper than {MAX_JSON_DEPTH} levels")
            shown = text[position:end]
            errors.append(_error(problem.code, f"{name} {at}: {problem}", shown, record=shown, location=location))
            position = _skip_space(text, end)
            continue
        if isinstance(value, dict):
            records.append(value)
            where.append(at)
            raw.append(text[position:end])
            lines.append(line)
            items.append(item)
        else:
            shown = text[position:end]
            errors.append(
                _error(
                    "MALFORMED_ROW",
                    f"{name} {at}: expected a JSON object, found {_json_type(value)}",
                    shown,
                    record=shown,
                    location=location,
                )
            )
        position = _skip_space(text, end)
        if len(records) >= chunk_size:
            chunk = _records_chunk(typed, records, where, raw, name, lines, items)
            chunk.errors[:0] = errors
            yield chunk
            records, where, raw, errors, lines, items = [], [], [], [], [], []
        if position >= len(text):
            yield bad_file(name, _invalid_json(json.JSONDecodeError("Expecting ',' delimiter", text, position)))
            return
    if _skip_space(text, position + 1) < len(text):
        yield bad_file(name, _invalid_json(json.JSONDecodeError("Extra data", text, _skip_space(text, position + 1))))
        return
    if records or errors:
        chunk = _records_chunk(typed, records, where, raw, name, lines, items)
        chunk.errors[:0] = errors
        yield chunk


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _invalid_json(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    return f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)"


# -- Parquet --------------------------------------------------------------------------------------


def _read_parquet(source: BinaryIO, name: str, chunk_size: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    source = seekable_copy(source)
    if source.seek(0, io.SEEK_END) == 0:
        yield empty_file(name)
        return
    source.seek(0)
    parquet = pq.ParquetFile(source)
    names, renamed = unique_names(parquet.schema_arrow.names)
    notes = _renamed_note(name, renamed)
    first = 1  # rows are numbered from 1 inside the file, as SQL rows are in a read
    for batch in parquet.iter_batches(batch_size=chunk_size):
        table = pa.Table.from_batches([batch])
        if renamed:
            table = table.rename_columns(names)
        yield Chunk(table, notes=notes, runs=[Run(table.num_rows, name, ROW, None, first)] if table.num_rows else [])
        first += table.num_rows
        notes = []
