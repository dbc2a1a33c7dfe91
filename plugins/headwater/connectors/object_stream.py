"""A seekable, streaming file object over ranged reads of one remote object (S3, Azure Blob).

The format readers need `seek` (CSV rewinds after reading the header, Parquet reads its footer
first), but an object must never be read whole into memory. `RangedReader` streams from the
current position and, on a seek, drops the stream and opens a new one at the new offset.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from headwater.errors import SourceInterrupted

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
    :param name: the object's location, for messages.

    A failure of the store while reading raises `SourceInterrupted`, never a short read.
    """

    def __init__(self, size: int, open_at: OpenAt, name: str = "the object") -> None:
        super().__init__(size)
        self._name = name
        self._open_at = open_at
        self._pieces: Iterator[bytes] | None = None
        self._piece = memoryview(b"")

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        if not self._piece:
            try:
                if self._pieces is None:
                    self._pieces = iter(self._open_at(self._pos))
                self._piece = memoryview(next(self._pieces, b""))
            except Exception as exc:
                self._drop_stream()
                # Not an OSError: the format reader must not take a dropped connection, a timeout
                # or a 5xx for a damaged file (and record it as read); the task fails and retries.
                raise SourceInterrupted(
                    f"reading {self._name} failed at byte {self._pos:,} of {self._size:,}: {type(exc).__name__}: {exc}"
                ) from exc
            if not self._piece:
                # The store ended the stream early. Not a short file: the size was listed, so
                # the bytes are missing, and parsing what arrived would record a truncated read.
                raise SourceInterrupted(
                    f"the store ended the stream of {self._name} at byte {self._pos:,} of {self._size:,}"
                )
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


def ranged_file(size: int, open_at: OpenAt, name: str = "the object") -> io.BufferedReader:
    """A buffered, seekable binary file over `open_at` (usable in `with`); `name` is for messages."""
    return io.BufferedReader(RangedReader(size, open_at, name), buffer_size=CHUNK_BYTES)


class GuardedReader(io.RawIOBase):
    """A seekable remote file object whose failures raise `SourceInterrupted` (for SDK readers
    such as GCS's `BlobReader`, whose transport errors are `OSError`s a format reader would take
    for a damaged file)."""

    def __init__(self, inner, name: str) -> None:
        super().__init__()
        self._inner, self._name = inner, name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._inner.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def readinto(self, buffer) -> int:
        try:
            data = self._inner.read(len(buffer))
        except Exception as exc:
            raise SourceInterrupted(
                f"reading {self._name} failed at byte {self._inner.tell():,}: {type(exc).__name__}: {exc}"
            ) from exc
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def guarded_file(inner, name: str) -> io.BufferedReader:
    """`inner` (a seekable binary file) buffered, with its failures raised as `SourceInterrupted`."""
    return io.BufferedReader(GuardedReader(inner, name), buffer_size=CHUNK_BYTES)
