"""The reading interface every connector hook implements, and the `Chunk` it yields.

No heavy imports here: pyarrow appears only in type annotations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.records import RowError

    from .positions import Run

SELECT_STAGE = "select"


@dataclass
class Chunk:
    """Up to `chunk_size` rows of source columns (no `_hw_row`), plus rows that could not be read.

    `errors` are rows that are NOT in `table` (malformed lines, undecodable bytes, unreadable
    files), so their `row` is None; the message names the file and line or the record.
    `notes` are remarks for the run record (e.g. duplicate column names renamed).

    File sources set `origin` (the file's key). `withdrawn` means the file could not be read to
    the end (a BAD_FILE error): select drops every row and row error of that origin, earlier
    chunks included, since the file is not recorded as read and is read whole again next run.

    `runs` say where the table's rows are in the source (`positions.Run`, in row order, covering
    every row); empty when the reader does not know. Select stages them as the location index.
    """

    table: pa.Table
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    origin: str | None = None
    withdrawn: bool = False
    runs: list[Run] = field(default_factory=list)


class SourceReader:
    """Mixin of every connector hook: check, then stream chunks, then report the new state.

    Usage: `desc = hook.check()`; `for chunk in hook.read(state): ...`; once the iterator is
    exhausted, `hook.next_state()` is what to commit after a successful load and
    `hook.watermark_description()` says it in words. `hook.notes` collects remarks for the run
    record (files skipped, state ignored, ...).
    """

    notes: list[str]

    def check(self) -> str:
        """Prove the source is reachable and the selection exists; return a short description.

        Raises `ConnectionCheckError` (cannot connect, object missing) or `SelectionError`
        (columns, cursor or query do not match what the source holds).
        """
        raise NotImplementedError

    def read(self, state: dict | None) -> Iterator[Chunk]:
        """Stream the selection, starting after `state` (the last committed state, or None)."""
        raise NotImplementedError

    def next_state(self) -> dict | None:
        """State to commit once everything read has been loaded (valid after `read` is exhausted)."""
        raise NotImplementedError

    def watermark_description(self) -> str | None:
        """Human text of `next_state()`, e.g. `updated_at = 2026-11-02T10:00:00 (2 rows at that value)`."""
        raise NotImplementedError
