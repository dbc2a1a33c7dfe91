"""Compression of source files: which one a file uses, and a decompressing stream for it.

gzip and bz2 use the standard library (their errors name the damage well); zstd uses pyarrow's
codec. zip is not a stream but a folder: `file_formats` reads each member as its own file.

A decompressing stream stops with `ExpansionLimitExceeded` once a file expands more than
`settings.max_expansion_ratio()` times its compressed size (plus 64 MiB of slack, so small,
very repetitive files pass): a gzip bomb of 8 MiB would otherwise expand to gigabytes of rows.
"""

from __future__ import annotations

import bz2
import gzip
import io
import shutil
import tempfile
from pathlib import PurePosixPath
from typing import BinaryIO

SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".zip": "zip"}
_SPOOL_IN_MEMORY = 64 << 20
EXPANSION_SLACK_BYTES = 64 << 20


class ExpansionLimitExceeded(ValueError):
    """A compressed file expands beyond the configured ratio (a file-level error: BAD_FILE)."""


def compression_of(name: str, setting: str = "auto") -> str | None:
    """The compression a file uses (`gzip`, `bz2`, `zstd`, `zip`), or None for plain files."""
    if setting == "none":
        return None
    if setting != "auto":
        return setting
    return SUFFIXES.get(PurePosixPath(name.lower()).suffix)


def without_suffix(name: str) -> str:
    """`a.csv.gz` -> `a.csv`: the name that tells the format."""
    suffix = PurePosixPath(name).suffix
    return name[: -len(suffix)] if suffix.lower() in SUFFIXES else name


def decompress(fileobj: BinaryIO, kind: str | None, *, max_ratio: float | None = None) -> BinaryIO:
    """A readable stream of the decompressed bytes (not seekable, except for plain files).

    `max_ratio`: the expansion limit (default `settings.max_expansion_ratio()`; 0 turns it off).
    """
    if kind is None:
        return fileobj
    counted = _Counted(fileobj)
    if kind == "gzip":
        stream = gzip.GzipFile(fileobj=counted, mode="rb")
    elif kind == "bz2":
        stream = bz2.BZ2File(counted, mode="rb")
    elif kind == "zstd":
        import pyarrow as pa

        native = pa.CompressedInputStream(pa.PythonFile(counted, mode="r"), "zstd")
        stream = io.BufferedReader(_NativeReader(native), buffer_size=1 << 20)
    else:
        raise ValueError(f"unknown compression {kind!r}")
    return limit_expansion(stream, lambda: counted.count, max_ratio)  # type: ignore[return-value]


def limit_expansion(stream: BinaryIO, compressed_bytes, max_ratio: float | None = None) -> BinaryIO:
    """`stream` (decompressed bytes) raising ExpansionLimitExceeded past `max_ratio` x
    `compressed_bytes()` (the compressed bytes read so far, or a zip member's compressed size)."""
    if max_ratio is None:
        from headwater import settings

        max_ratio = settings.max_expansion_ratio()
    if not max_ratio:
        return stream
    return io.BufferedReader(_Limited(stream, compressed_bytes, max_ratio), buffer_size=1 << 20)  # type: ignore[return-value]


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


class _Counted(io.RawIOBase):
    """A compressed input that counts the bytes the decompressor has taken from it."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Limited(io.RawIOBase):
    """Decompressed bytes, counted against the compressed bytes behind them."""

    def __init__(self, stream: BinaryIO, compressed_bytes, max_ratio: float) -> None:
        super().__init__()
        self._stream, self._compressed, self._ratio = stream, compressed_bytes, max_ratio
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.count > EXPANSION_SLACK_BYTES:
            compressed = max(self._compressed(), 1)
            if self.count > self._ratio * compressed + EXPANSION_SLACK_BYTES:
                raise ExpansionLimitExceeded(
                    f"decompresses to more than {self._ratio:g}x its compressed size ({_mib(self.count)} from "
                    f"{_mib(compressed)}); a gzip bomb? Raise HEADWATER_MAX_EXPANSION_RATIO if the file is genuine"
                )
        return n

    def close(self) -> None:
        self._stream.close()
        super().close()


def seekable_copy(stream: BinaryIO, *, force: bool = False) -> BinaryIO:
    """`stream` itself when it can seek, else a temporary copy (memory up to 64 MiB, then disk).

    `force`: copy even a seekable stream (decompressors seek by decompressing again from the start).
    """
    try:
        if stream.seekable() and not force:
            return stream
    except (AttributeError, OSError, ValueError):
        pass
    copy = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
    shutil.copyfileobj(stream, copy, 1 << 20)
    copy.seek(0)
    return copy  # type: ignore[return-value]


class _NativeReader(io.RawIOBase):
    """A pyarrow input stream as a Python raw stream (so it can be buffered and read by lines)."""

    def __init__(self, native) -> None:
        super().__init__()
        self._native = native

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._native.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._native.close()
        super().close()
