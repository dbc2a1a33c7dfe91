"""Compression of source files: which one a file uses, and a decompressing stream for it.

gzip and bz2 use the standard library (their errors name the damage well); zstd uses pyarrow's
codec. zip is not a stream but a folder: `file_formats` reads each member as its own file.
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


def decompress(fileobj: BinaryIO, kind: str | None) -> BinaryIO:
    """A readable stream of the decompressed bytes (not seekable, except for plain files)."""
    if kind is None:
        return fileobj
    if kind == "gzip":
        return gzip.GzipFile(fileobj=fileobj, mode="rb")  # type: ignore[return-value]
    if kind == "bz2":
        return bz2.BZ2File(fileobj, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        import pyarrow as pa

        native = pa.CompressedInputStream(pa.PythonFile(fileobj, mode="r"), "zstd")
        return io.BufferedReader(_NativeReader(native), buffer_size=1 << 20)  # type: ignore[return-value]
    raise ValueError(f"unknown compression {kind!r}")


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
