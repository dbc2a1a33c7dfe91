"""Format readers for file sources, working on any readable binary file object.

Every file source (local disk, object stores, SFTP) passes its own file objects. Each reader
streams in bounded memory, except JSON arrays (`json.load` needs the whole document). Compressed
files are decompressed on the fly (gzip, bz2, zstd); a zip archive is a folder whose members are
read as files of their own (`archive.zip!member.csv`). Problems with one row become `RowError`s
(MALFORMED_ROW, BAD_ENCODING, TYPE_MISMATCH) and the good rows are kept; a file that cannot be
read at all (or is empty) becomes one BAD_FILE error (rows read before the damage are kept) and the
caller moves on to the next file.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

import pyarrow as pa

from headwater.records import RowError, render_value

from .arrow_util import TypedColumns, rechunk
from .base import SELECT_STAGE, Chunk
from .compression import compression_of, decompress, seekable_copy, without_suffix
from .models import CsvOptions

EXTENSIONS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_FILE_ERRORS = (OSError, EOFError, zlib.error, pa.ArrowException, ValueError, zipfile.BadZipFile)
_CSV_BLOCK_BYTES = 1 << 20  # 4 MiB parses ~9% faster but pyarrow then holds ~150 MiB more in flight
_JSONL_BLOCK_BYTES = 4 << 20
_EMPTY = "the file is empty"


def detect_format(name: str) -> str | None:
    """Format from the file name's extension, ignoring a compression suffix; None if unknown."""
    return EXTENSIONS.get(PurePosixPath(without_suffix(name).lower()).suffix)


def uses_gzip(name: str, compression: str) -> bool:
    """Kept for callers that only know gzip; `compression.compression_of` knows every kind."""
    return compression_of(name, compression) == "gzip"


def _error(
    code: str, message: str, value: object = None, column: str | None = None, record: str | None = None
) -> RowError:
    return RowError(
        row=None,
        stage=SELECT_STAGE,
        code=code,
        column=column,
        value=render_value(value),
        message=message,
        record=record,
    )


def bad_file(name: str, message: str, code: str = "BAD_FILE") -> Chunk:
    return Chunk(pa.table({}), [_error(code, f"{name}: {message}")])


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
    fileobj: BinaryIO, kind: str | None, name: str, fmt: str, csv: CsvOptions | None, chunk_size: int
) -> Iterator[Chunk]:
    if fmt not in ("csv", "jsonl", "json", "parquet"):
        raise ValueError(f"unknown file format {fmt!r}")
    source = decompress(fileobj, kind)  # inside the generator: a damaged header is a BAD_FILE
    if fmt == "csv":
        yield from _read_csv(source, name, csv or CsvOptions())
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
            try:
                stream = archive.open(member)
                if member_fmt == "parquet" and inner is None:  # a member seeks by decompressing again
                    stream = seekable_copy(stream, force=True)
            except _FILE_ERRORS as exc:
                yield bad_file(member_name, f"cannot read this zip member ({type(exc).__name__}: {_first_line(exc)})")
                continue
            with stream:
                rows = _read_one(stream, inner, member_name, member_fmt, csv, chunk_size)  # type: ignore[arg-type]
                yield from rechunk(_guard(rows, member_name, member_fmt), chunk_size)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _guard(chunks: Iterator[Chunk], name: str, fmt: str) -> Iterator[Chunk]:
    """Turn a failure while reading into one BAD_FILE (or BAD_ENCODING) error and stop this file."""
    try:
        yield from chunks
    except _FILE_ERRORS as exc:
        code = "BAD_ENCODING" if isinstance(exc, UnicodeError) else "BAD_FILE"
        yield bad_file(
            name, f"cannot read this {fmt} file ({type(exc).__name__}: {_first_line(exc)}); skipped the rest of it", code
        )


# -- CSV ------------------------------------------------------------------------------------------


def _read_csv(source: BinaryIO, name: str, opts: CsvOptions) -> Iterator[Chunk]:
    import pyarrow.csv as pacsv

    errors: list[RowError] = []

    def on_invalid(row) -> str:
        where = f"line {row.number}" if row.number is not None else "a line"
        errors.append(
            _error(
                "MALFORMED_ROW",
                f"{name} {where}: expected {row.expected_columns} columns, found {row.actual_columns}",
                value=row.text,
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
    read_opts = {"encoding": opts.encoding, "use_threads": False, "block_size": _CSV_BLOCK_BYTES}
    head = source.read(_CSV_BLOCK_BYTES)
    if not head:
        yield bad_file(name, _EMPTY)
        return
    names = opts.column_names
    if names is None:
        head, names = _csv_header(source, head, opts, parse(lambda row: "skip"), read_opts)
        if names is None:  # nothing but skipped lines
            return
        read_options = pacsv.ReadOptions(skip_rows=opts.skip_rows, **read_opts)
    else:
        skip = opts.skip_rows + (1 if opts.header else 0)
        read_options = pacsv.ReadOptions(skip_rows=skip, column_names=names, **read_opts)
    # The bytes already read are replayed in front of the rest: no seeking, so compressed and
    # remote streams work, and no second reader races the probe's read-ahead.
    source = _Replayed(head, source)  # type: ignore[assignment]
    if len(head) > _CSV_BLOCK_BYTES:  # the header must fit in the first block
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
    record = 0
    for batch in reader:
        table, bad = _decode_batch(batch, name, opts.encoding, record)
        record += batch.num_rows
        yield Chunk(table, errors + bad)
        errors.clear()
    if errors:
        yield Chunk(pa.table({n: pa.array([], pa.string()) for n in names}), list(errors))


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
        more = source.read(_CSV_BLOCK_BYTES)
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

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
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
    batch: pa.RecordBatch, name: str, encoding: str, first_record: int
) -> tuple[pa.Table, list[RowError]]:
    """Raw bytes -> text columns; rows with bytes that are not valid text become BAD_ENCODING."""
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
    errors = [
        _error(
            "BAD_ENCODING",
            f"{name} record {first_record + i + 1}: column '{column}' is not valid {encoding} text",
            value=raw.decode("utf-8", "backslashreplace"),
            column=column,
        )
        for i, (column, raw) in sorted(bad_rows.items())
    ]
    if bad_rows:
        keep = [i for i in range(table.num_rows) if i not in bad_rows]
        table = table.take(pa.array(keep, pa.int64()))
    return table, errors


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


def _records_chunk(typed: TypedColumns, records: list[dict], where: list[str], name: str) -> Chunk:
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
            record=json.dumps(records[m.index], ensure_ascii=False, default=str),
        )
        for m in mismatches
    ]
    return Chunk(table, errors)


def _read_jsonl(source: BinaryIO, name: str, chunk_size: int) -> Iterator[Chunk]:
    # Fast path: pyarrow.json parses a block of whole lines at once. A block it rejects (a bad
    # line, a value of another type, a nested object) is parsed again line by line, so a bad
    # line is one error and types follow the same rules as the per-line reader.
    typed = TypedColumns()
    lineno = 1  # number of the first line of the next block
    seen_any = False
    pending: list[pa.Table] = []
    count = 0
    errors: list[RowError] = []
    for block in _line_blocks(source, _JSONL_BLOCK_BYTES):
        seen_any = True
        table = _jsonl_block_fast(block, typed)
        if table is not None:
            parsed = [Chunk(table)]
        else:  # the block is reused for the next one: the per-line reader gets its own copy
            parsed = _jsonl_lines(bytes(block), lineno, typed, name, chunk_size)
        lineno += _count_lines(block)
        for chunk in parsed:
            errors.extend(chunk.errors)
            if chunk.table.num_rows:
                pending.append(chunk.table)
                count += chunk.table.num_rows
        # Cut exact chunks here: a field first seen later joins the schema (earlier rows of the
        # chunk get null), which `rechunk` alone cannot do across tables of different schemas.
        while count >= chunk_size:
            taken: list[pa.Table] = []
            need = chunk_size
            while need:
                head = pending[0]
                if head.num_rows <= need:
                    taken.append(pending.pop(0))
                else:
                    taken.append(head.slice(0, need))
                    pending[0] = head.slice(need)
                need -= taken[-1].num_rows
            count -= chunk_size
            yield Chunk(pa.concat_tables(taken, promote_options="default"), errors)
            errors = []
    if pending or errors:
        table = pa.concat_tables(pending, promote_options="default") if pending else pa.table({})
        yield Chunk(table, errors)
    if not seen_any:
        yield bad_file(name, _EMPTY)


def _line_blocks(source: BinaryIO, size: int) -> Iterator[memoryview]:
    """Blocks of about `size` bytes that end at a line break (or at the end of the file).

    Each block is a view of one buffer that is read into again for the next block, so it is valid
    only until the next one is asked for. Reusing the memory saves a copy (unfinished line + new
    bytes) and a fresh allocation per block: ~0.6 s CPU on the 963 MB bench file.
    """
    buffer = bytearray(size)
    kept = 0  # bytes of an unfinished line at the front of the buffer
    while True:
        if kept == len(buffer):  # a line longer than the buffer: a bigger one (views of the old stay valid)
            grown = bytearray(2 * len(buffer))
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


def _read_into(source: BinaryIO, view: memoryview) -> int:
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    data = source.read(len(view))
    view[: len(data)] = data
    return len(data)


def _count_lines(block: memoryview) -> int:
    import numpy as np

    return int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n")))


def _jsonl_block_fast(block: memoryview, typed: TypedColumns) -> pa.Table | None:
    """The block as a table typed like the per-line reader would, or None to parse it line by line."""
    import pyarrow.json as pajson

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


def _is_temporal(type_: pa.DataType) -> bool:
    return pa.types.is_temporal(type_)


def _jsonl_lines(block: bytes, first: int, typed: TypedColumns, name: str, chunk_size: int) -> Iterator[Chunk]:
    """Line by line: one bad line is one error, and each value is checked against its column's type."""
    records: list[dict] = []
    where: list[str] = []
    errors: list[RowError] = []
    for lineno, raw in enumerate(block.split(b"\n"), first):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            errors.append(
                _error(
                    "BAD_ENCODING",
                    f"{name} line {lineno}: not valid utf-8 text",
                    value=raw.decode("utf-8", "backslashreplace").rstrip("\r"),
                )
            )
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            errors.append(
                _error(
                    "MALFORMED_ROW",
                    f"{name} line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})",
                    value=text,
                )
            )
            continue
        if not isinstance(value, dict):
            errors.append(
                _error(
                    "MALFORMED_ROW",
                    f"{name} line {lineno}: expected a JSON object, found {type(value).__name__}",
                    value=text,
                )
            )
            continue
        records.append(value)
        where.append(f"line {lineno}")
        if len(records) >= chunk_size:
            chunk = _records_chunk(typed, records, where, name)
            chunk.errors[:0] = errors
            yield chunk
            records, where, errors = [], [], []
    if records or errors:
        chunk = _records_chunk(typed, records, where, name)
        chunk.errors[:0] = errors
        yield chunk


def _read_json_array(source: BinaryIO, name: str, chunk_size: int) -> Iterator[Chunk]:
    # A JSON array is one document: it is loaded whole (not streamed). Use JSON lines for big files.
    data = source.read()
    if not data:
        yield bad_file(name, _EMPTY)
        return
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        yield bad_file(name, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
        return
    if not isinstance(document, list):
        yield bad_file(
            name,
            f"expected a JSON array of objects, found {type(document).__name__} (for one object per line use format: jsonl)",
        )
        return
    typed = TypedColumns()
    for start in range(0, len(document), chunk_size):
        records, where, errors = [], [], []
        for i, item in enumerate(document[start : start + chunk_size], start + 1):
            if isinstance(item, dict):
                records.append(item)
                where.append(f"item {i}")
            else:
                errors.append(
                    _error(
                        "MALFORMED_ROW",
                        f"{name} item {i}: expected a JSON object, found {type(item).__name__}",
                        value=json.dumps(item, default=str),
                    )
                )
        chunk = _records_chunk(typed, records, where, name)
        chunk.errors[:0] = errors
        yield chunk


# -- Parquet --------------------------------------------------------------------------------------


def _read_parquet(source: BinaryIO, name: str, chunk_size: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    source = seekable_copy(source)
    if source.seek(0, io.SEEK_END) == 0:
        yield bad_file(name, _EMPTY)
        return
    source.seek(0)
    parquet = pq.ParquetFile(source)
    for batch in parquet.iter_batches(batch_size=chunk_size):
        yield Chunk(pa.Table.from_batches([batch]))
