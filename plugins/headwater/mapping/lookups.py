"""Lookup tables: small CSV or YAML files in `include/lookups/` (or `HEADWATER_LOOKUPS_DIR`) and the
`lookup(table, key, column)` function that reads them.

A table's first column is its key. The file and the column are checked when the DAG file is
parsed (stdlib only); the table is read once per process and file version, and joined on Arrow.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml

from headwater import settings
from headwater.mapping.context import EvalContext
from headwater.mapping.kernel import as_string
from headwater.mapping.registry import register

SUFFIXES = (".csv", ".yaml", ".yml")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class LookupTableError(ValueError):
    """A lookup table that cannot be used; the message says why."""


def lookups_dir() -> Path:
    override = os.environ.get("HEADWATER_LOOKUPS_DIR")
    return Path(override) if override else settings.include_dir() / "lookups"


def available() -> list[str]:
    folder = lookups_dir()
    return sorted({p.stem for p in folder.glob("*") if p.suffix in SUFFIXES}) if folder.is_dir() else []


def table_path(name: str) -> Path:
    """The file of table `name`; LookupTableError listing the available tables when there is none."""
    if _NAME.match(name) and ".." not in name:
        for suffix in SUFFIXES:
            path = lookups_dir() / f"{name}{suffix}"
            if path.is_file():
                return path
    listed = ", ".join(available()) or "none"
    raise LookupTableError(f"lookup table '{name}' not found in {lookups_dir()} (available: {listed})")


def load_table(name: str) -> tuple[list[str], list[dict[str, str | None]]]:
    """(column names, rows as text) of lookup table `name`."""
    path = table_path(name)
    return _read(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _read(path: str, mtime_ns: int) -> tuple[list[str], list[dict[str, str | None]]]:
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    if isinstance(data, dict):  # {key: {column: value}}: the key column is called "key"
        rows = [{"key": k, **(v if isinstance(v, dict) else {"value": v})} for k, v in data.items()]
    elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
        rows = data
    else:
        raise LookupTableError(f"{path}: a lookup table is a list of rows or a mapping of key to row")
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    text = [{c: None if r.get(c) is None else _str(r.get(c)) for c in columns} for r in rows]
    return columns, text


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(values: tuple) -> str | None:
    table, column = values[0], values[2]
    try:
        columns, _ = load_table(table)
    except (LookupTableError, OSError, yaml.YAMLError, csv.Error) as exc:
        return str(exc)
    if not columns:
        return f"lookup table '{table}' is empty"
    if column not in columns:
        return f"lookup table '{table}' has no column '{column}' (columns: {', '.join(columns)})"
    return None


@register(
    "lookup(table: string, key, column: string) -> string",
    "Value of `column` in the row of lookup table `table` (include/lookups/<table>.csv or .yaml) whose "
    "first column equals `key` (as text, exact); null when there is no such row.",
    literals={0: str, 2: str},
    check=_check,
)
def lookup(ctx: EvalContext, table: str, key: Any, column: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    cache_key = ("lookup", table, column)
    if cache_key not in ctx.cache:
        columns, rows = load_table(table)
        keys = [r[columns[0]] for r in rows]
        # The first row wins when a key repeats.
        first: dict[str, str | None] = {}
        for k, r in zip(keys, rows, strict=True):
            if k is not None:
                first.setdefault(k, r.get(column))
        ctx.cache[cache_key] = (
            pa.array(list(first), pa.string()),
            pa.array(list(first.values()), pa.string()),
        )
    keys, values = ctx.cache[cache_key]
    index = pc.index_in(ctx.broadcast(as_string(key)), value_set=keys)
    return pc.take(values, index)
