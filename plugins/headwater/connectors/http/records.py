"""Records out of response bodies: a small JSON path, nested values kept or flattened, Arrow chunks.

Records are gathered into chunks of `chunk_size` rows (one page at a time is held besides), typed
by `TypedColumns` so every chunk of a read gives a column the same Arrow type. A column first seen
in a later record joins the schema from then on (earlier chunks lack it, as for JSON lines files).
A record that is not an object, or a value that does not fit its column's type, becomes a row
error with the record, located by the primary key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

_TOKEN = re.compile(r"\.?([A-Za-z_@$][\w@$-]*)|\[(\d+)\]|\['([^']+)'\]|\[\"([^\"]+)\"\]")
_MISSING = object()


def parse_path(path: str | None) -> list[str | int]:
    """`$.data['@x'][0]` -> ['data', '@x', 0]; `$`, '' or None -> [] (the whole body)."""
    text = (path or "").strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"bad JSON path '{path}' at character {pos + 1}")
        name, index, quoted, dquoted = match.groups()
        steps.append(int(index) if index is not None else (name or quoted or dquoted))
        pos = match.end()
    return steps


def find(body: object, path: str | None, default: object = None) -> object:
    """The value at `path` in `body`, or `default` where the path leads nowhere."""
    value = body
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return default
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return default
            value = value[step]
    return value


def flatten(record: dict, separator: str, prefix: str = "") -> dict:
    """Nested objects become `parent<sep>child` columns; arrays stay one value (JSON text later)."""
    flat: dict = {}
    for key, value in record.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, separator, name))
        else:
            flat[name] = value
    return flat


class ChunkBuilder:
    """Collects records and cuts Arrow chunks of `chunk_size` rows.

    :param chunk_size: rows per chunk.
    :param columns: keep only these fields (None: every field seen).
    :param key_fields: fields that locate a record in messages (primary key, else the cursor).
    :param what: the endpoint, for messages.
    """

    def __init__(self, chunk_size: int, columns: list[str] | None, key_fields: list[str], what: str) -> None:
        from headwater.connectors.arrow_util import TypedColumns

        self.chunk_size = chunk_size
        self.columns = list(columns) if columns else None
        self.names: dict[str, None] = dict.fromkeys(self.columns or [])
        self.key_fields = key_fields
        self.what = what
        self.typed = TypedColumns()
        self.rows: list[dict] = []
        self.errors: list = []
        self.count = 0  # records taken so far (readable and not)

    def location(self, record: dict) -> str:
        if self.key_fields and all(k in record for k in self.key_fields):
            return ", ".join(f"{k}={'NULL' if record[k] is None else record[k]}" for k in self.key_fields)
        return f"record {self.count} of this read"

    def bad_record(self, record: object, reason: str) -> None:
        from headwater.records import RowError, render_value

        text = json.dumps(record, ensure_ascii=False, default=str)
        self.errors.append(
            RowError(
                row=None,
                stage="select",
                code="MALFORMED_ROW",
                column=None,
                value=render_value(text),
                message=f"{self.what}, record {self.count} of this read: {reason}",
                record=text,
                location=f"record {self.count} of this read",
            )
        )

    def add(self, record: dict) -> Iterator:
        """Take one (already flattened) record; yields a chunk when one is full."""
        if self.columns is not None:
            record = {c: record.get(c) for c in self.columns}
        else:
            for name in record:
                if name not in self.names:
                    self.names[name] = None
        self.rows.append(record)
        if len(self.rows) >= self.chunk_size:
            yield self.flush()

    def flush(self):
        """The chunk of what was collected (possibly no rows, only errors)."""
        import pyarrow as pa

        from headwater.connectors.base import Chunk
        from headwater.records import RowError, render_value

        names = list(self.names)
        rows, self.rows = self.rows, []
        errors, self.errors = self.errors, []
        if not names:
            return Chunk(pa.table({}), errors)  # no rows: records without fields are rejected before
        table, mismatches = self.typed.table(names, [[row.get(n) for row in rows] for n in names])
        for m in mismatches:
            record = rows[m.index]
            errors.append(
                RowError(
                    row=None,
                    stage="select",
                    code=m.code,
                    column=m.column,
                    value=render_value(m.value),
                    message=f"{self.what}: value of field '{m.column}' does not fit type {m.expected} "
                    "(taken from earlier records)",
                    record=json.dumps(record, ensure_ascii=False, default=str),
                    location=self.location(record),
                )
            )
        return Chunk(table, errors)
