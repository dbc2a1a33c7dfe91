"""A seekable, streaming file object over ranged reads of one remote object (S3, Azure Blob).

The format readers need `seek` (CSV rewinds after reading the header, Parquet reads its footer
first), but an object must never be read whole into memory. `RangedReader` streams from the
current position and, on a seek, drops the stream and opens a new one at the new offset.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

# Size of the pieces pulled from the network and of the BufferedReader's buffer.
CHUNK_BYTES = 1 << 20

OpenAt = Callable[[int], Iterator[bytes]]


class SeekableStream(io.RawIOBase):
    """Position bookkeeping shared by the streaming readers: a seek only drops the open stream.

    Subclasses implement `readinto` (open a stream at `self._pos` when none is open) and
    `_drop_stream` (close it).
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target != self._pos:
            self._drop_stream()
            self._pos = target
        return self._pos

    def close(self) -> None:
        self._drop_stream()
        super().close()

    def _drop_stream(self) -> None:
        raise NotImplementedError


class RangedReader(SeekableStream):
    """Raw binary reader of `size` bytes; `open_at(offset)` streams the bytes from `offset` on.

    :param size: object size in bytes (as listed).
    :param open_at: returns an iterator of byte pieces starting at the given offset; a generator
        is closed (releasing its connection) when the reader seeks elsewhere or is closed.
    """

    def __init__(self, size: int, open_at: OpenAt) -> None:
        super().__init__(size)
        self._open_at = open_at
        self._pieces: Iterator[bytes] | None = None
        self._piece = memoryview(b"")

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        if not self._piece:
            if self._pieces is None:
                self._pieces = iter(self._open_at(self._pos))
            self._piece = memoryview(next(self._pieces, b""))
            if not self._piece:
                return 0  # the store ended the stream early: treat as end of file
        n = min(len(buffer), len(self._piece))
        buffer[:n] = self._piece[:n]
        self._piece = self._piece[n:]
        self._pos += n
        return n

    def _drop_stream(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        self._pieces = None
        self._piece = memoryview(b"")


def ranged_file(size: int, open_at: OpenAt) -> io.BufferedReader:
    """A buffered, seekable binary file over `open_at` (usable in `with`)."""
    return io.BufferedReader(RangedReader(size, open_at), buffer_size=CHUNK_BYTES)
