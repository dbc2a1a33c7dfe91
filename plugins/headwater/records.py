"""Row-level errors shared by every stage, and the shape they take in the quarantine table.

Every row a stage rejects becomes a `RowError` that names the row (`_hw_row`, the row's position in
this run's read), an error code, the column and the offending value. Nothing rejected is dropped
silently: the load stage writes them to the quarantine lake table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Column added by select to every row: its 0-based position in this run's read. Stages carry it
# through so a quarantined row can always be traced back to what was read.
ROW_ID = "_hw_row"
# Optional column a hand-built select may add: where the row is in its source (see RowError.location).
# Headwater's select does not: it stages a location index instead (lake/locations.py).
LOCATION = "_hw_location"


@dataclass(frozen=True)
class RowError:
    """One problem with one row (a row may have several)."""

    row: int | None  # value of ROW_ID; None when the row could not be parsed at all
    stage: str  # select | map | validate
    code: str  # e.g. MALFORMED_ROW, CAST_FAILED, REQUIRED_MISSING, expect_column_values_to_not_be_null
    column: str | None
    value: str | None  # offending value rendered as text (truncated)
    message: str
    record: str | None = None  # the whole row as JSON (or the raw line), when known
    # Where the row is in its source, so a person can find it there: "<file>:line 12" for files
    # ("<file>:row 5" for Parquet), "table 'contacts', id=42" (primary key; else the cursor value,
    # else "row N of this read") for SQL sources. Map and validate fill it from select's index.
    location: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


MAX_VALUE_CHARS = 500


def render_value(value: object) -> str | None:
    """Text form of an offending value for the quarantine table (bounded in size)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def tally(errors: list[RowError], counts: dict[str, int] | None = None) -> dict[str, int]:
    """Count errors by code (into `counts` when given, so a stage can add chunk after chunk)."""
    counts = {} if counts is None else counts
    for error in errors:
        counts[error.code] = counts.get(error.code, 0) + 1
    return counts


def rejected_rows(errors: list[RowError]) -> set[int]:
    """The distinct rows these errors reject (a row with two errors counts once)."""
    return {e.row for e in errors if e.row is not None}
