"""What every file-based source shares, wherever the files live (local disk, S3, GCS, Azure, SFTP).

A file source hook only says how to list its files and how to open one; this mixin does the rest:
glob and exclude filtering, incremental state (each file's version: etag/generation, or mtime and
size), forced re-ingest of chosen files, and reading each file with `file_formats`.

State: `{"files": {key: {"version": str, "mtime": float, "size": int}}, "missing": {key: float}}`.
A file is read when its key is new or its version changed, so the same version of a file is never
ingested twice, even when two files share a modification time or a run is retried (state only
advances after load commits). A file no longer listed is remembered in `missing` (since when) and
forgotten after `connector.forget_missing_after_days`; one that comes back before then, unchanged,
is not read again. A listing that finds no file at all marks nothing missing: an empty answer by
mistake (a mount not there, a wrong credential scope) must not lead to reading everything again.
The state is kept in the store, never in XCom (`store/state.py`).

A file counts as read only when every row of it is accounted for (in a chunk, or a row error). A
file that cannot be read to its end (a BAD_FILE error) is not recorded and its chunks are marked
`withdrawn`: select drops what it staged from it, and the next run reads it again whole.
"""

from __future__ import annotations

import fnmatch
import functools
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from headwater.errors import HeadwaterError

from .base import Chunk, SourceReader
from .compression import compression_of
from .file_formats import bad_file, detect_format, read_file


@dataclass(frozen=True)
class FileEntry:
    """One file as listed by its store. `key` is stable across runs (used in state and messages)."""

    key: str
    size: int
    mtime: float  # seconds since the epoch, UTC
    version: str  # what changes when the content changes: etag, generation, or "mtime:size"

    @property
    def state(self) -> dict:
        return {"version": self.version, "mtime": self.mtime, "size": self.size}


class ReadLimitExceeded(HeadwaterError):
    """A run read more from its files than `settings.max_select_bytes()` allows."""


def has_wildcard(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def static_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard, cut back to a folder boundary (`data/2026/`)."""
    if not has_wildcard(pattern):
        return pattern
    head = pattern[: min(pattern.index(ch) for ch in "*?[" if ch in pattern)]
    return head[: head.rfind("/") + 1]


def glob_match(key: str, pattern: str) -> bool:
    """Glob on `/`-separated keys: `*` stays within a folder, `**` crosses folders."""
    return _glob_regex(pattern).fullmatch(key) is not None


@functools.lru_cache(maxsize=64)  # called once per listed file: compile each pattern once
def _glob_regex(pattern: str):
    import re

    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


class FileSource(SourceReader):
    """Mixin for file source hooks. Subclasses set `self.connector` (the `connector:` section) and implement the three methods.

    (Not `self.config`: provider hooks such as AwsBaseHook already have a `config` attribute.)

    Config fields used: path, exclude, format, compression, csv, incremental, chunk_size.
    """

    connector: Any
    notes: list[str]
    _next_state: dict | None = None

    # -- what a store implements -----------------------------------------------------------------
    def list_entries(self, prefix: str) -> list[FileEntry]:
        """Every file under `prefix` (keys in the same form as `config.path`)."""
        raise NotImplementedError

    def open_entry(self, entry: FileEntry) -> AbstractContextManager[IO[bytes]]:
        """A binary, readable stream of the file's content (streamed, never read whole)."""
        raise NotImplementedError

    def location(self) -> str:
        """Where the files are, for messages: `s3://bucket/prefix`, `sftp://host/folder`."""
        raise NotImplementedError

    @contextmanager
    def translated_errors(self) -> Iterator[None]:
        """Turn the store's client errors into messages that say what to fix (around check)."""
        yield

    def display_name(self, entry: FileEntry) -> str:
        """How a file is named in error messages and the quarantine table (its full location)."""
        return entry.key

    # -- shared ----------------------------------------------------------------------------------
    def pattern(self) -> str:
        return str(self.connector.path)

    def matching(self) -> tuple[list[FileEntry], int]:
        """Files matching `path`, sorted by key, and how many `exclude` removed."""
        pattern = self.pattern()
        prefix = static_prefix(pattern)
        if has_wildcard(pattern):
            found = [e for e in self.list_entries(prefix) if glob_match(e.key, pattern)]
        else:
            # a single file, or a folder/prefix: everything under it
            found = [e for e in self.list_entries(prefix) if e.key == pattern or e.key.startswith(pattern.rstrip("/") + "/")]
        kept = [e for e in found if not self._excluded(e.key, prefix)]
        return sorted(kept, key=lambda e: e.key), len(found) - len(kept)

    def _excluded(self, key: str, prefix: str) -> bool:
        relative = key[len(prefix) :] if key.startswith(prefix) else key
        name = key.rsplit("/", 1)[-1]
        # fnmatch's `*` also matches `/`, so `archive/*` excludes a whole folder.
        return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in self.connector.exclude)

    def check(self) -> str:
        with self.translated_errors():
            files, excluded = self.matching()
        dropped = f" ({excluded} excluded)" if excluded else ""
        if not files:
            return f"no file matches {self.location()}{dropped}; the select stage will record no data"
        size = sum(e.size for e in files)
        return f"{len(files)} file{'s' if len(files) != 1 else ''} ({size:,} bytes) match {self.location()}{dropped}"

    def read(self, state: dict | None, *, reingest: list[str] | None = None) -> Iterator[Chunk]:
        cfg = self.connector
        self.notes = []
        self._next_state = None  # only a read that ran to the end has a state to commit
        known: dict = dict((state or {}).get("files") or {}) if cfg.incremental else {}
        files, excluded = self.matching()
        if excluded:
            self.notes.append(f"{excluded} file(s) excluded by connector.exclude")
        if not files:
            self.notes.append(f"no file matches {self.location()}")
        forced = [e.key for e in files if any(glob_match(e.key, p) or e.key == p for p in reingest or [])]
        if forced:
            self.notes.append(f"re-ingesting on request: {', '.join(forced)}")
        read_now: dict = {}
        skipped = 0
        unread: list[str] = []
        self._read_bytes = 0
        for entry in files:
            if entry.key not in forced and _same_version(known.get(entry.key), entry):
                skipped += 1
                continue
            complete = True
            for chunk in self._read_entry(entry):
                chunk.origin = entry.key
                if any(e.code == "BAD_FILE" for e in chunk.errors):
                    complete = False
                chunk.withdrawn = not complete
                self.notes.extend(chunk.notes)
                chunk.notes = []
                self._count_bytes(chunk, entry)
                yield chunk
            if complete:
                read_now[entry.key] = entry.state
            else:
                unread.append(self.display_name(entry))
        if skipped:
            self.notes.append(f"{skipped} file(s) unchanged since the last run, skipped")
        if unread:
            self.notes.append(
                f"{len(unread)} file(s) could not be read to the end and are not recorded as read (read again next run): "
                + ", ".join(unread)
            )
        if cfg.incremental:
            retention = getattr(cfg, "forget_missing_after_days", DEFAULT_RETENTION_DAYS)
            self._next_state, forgotten = next_file_state(
                state, read_now, {e.key for e in files}, retention_days=retention, now=time.time()
            )
            if forgotten:
                self.notes.append(f"forgot {forgotten} file(s) no longer listed for {retention:g} day(s)")
        else:
            self._next_state = None

    def _read_entry(self, entry: FileEntry) -> Iterator[Chunk]:
        cfg = self.connector
        compression = compression_of(entry.key, cfg.compression)
        fmt = cfg.format or detect_format(entry.key)
        name = self.display_name(entry)
        if fmt is None and compression != "zip":  # a zip's members are told apart by their own names
            yield bad_file(name, "cannot tell the format from the extension; set connector.format")
            return
        self.log.info("Reading %s as %s (%s bytes)", name, fmt or "zip", f"{entry.size:,}")
        with self.open_entry(entry) as stream:
            yield from read_file(stream, name=name, fmt=fmt, compression=compression, csv=cfg.csv, chunk_size=cfg.chunk_size)

    def _count_bytes(self, chunk: Chunk, entry: FileEntry) -> None:
        """Stop the run once its rows pass the per-run limit: a decompression bomb, or a glob that
        matched far more than meant, must not fill the staging disk."""
        from headwater import settings

        self._read_bytes += chunk.table.nbytes
        limit = settings.max_select_bytes()
        if limit and self._read_bytes > limit:
            raise ReadLimitExceeded(
                f"this run read more than {limit:,} bytes of rows (the limit, HEADWATER_MAX_SELECT_BYTES) "
                f"while reading {self.display_name(entry)}; nothing of this run is loaded or recorded. "
                "Raise the limit if the data is genuine, or narrow connector.path"
            )

    def next_state(self) -> dict | None:
        return self._next_state

    def watermark_description(self) -> str | None:
        files = (self._next_state or {}).get("files")
        if not files:
            return None
        newest = max(v["mtime"] for v in files.values())
        when = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{len(files)} file{'s' if len(files) != 1 else ''} read so far; newest modified {when}"


DEFAULT_RETENTION_DAYS = 30


def next_file_state(
    state: dict | None, read_now: dict, listed: set[str], *, retention_days: float, now: float
) -> tuple[dict, int]:
    """The state after a read: files read now recorded, unlisted files marked or forgotten.

    Returns the new state and how many entries were forgotten. `listed` is every key the listing
    returned (read or skipped). An empty listing changes nothing but the files read.
    """
    files = {**((state or {}).get("files") or {}), **read_now}
    missing = dict((state or {}).get("missing") or {})
    forgotten = 0
    if listed:
        limit = now - retention_days * 86_400
        for key in list(files):
            if key in listed:
                missing.pop(key, None)
                continue
            since = missing.setdefault(key, now)
            if since <= limit:
                del files[key]
                del missing[key]
                forgotten += 1
        for key in [k for k in missing if k not in files]:  # forgotten by hand: keep the two in step
            del missing[key]
    new = {"files": files}
    if missing:
        new["missing"] = missing
    return new, forgotten


def _same_version(known: dict | None, entry: FileEntry) -> bool:
    if not known:
        return False
    if "version" in known:
        return known["version"] == entry.version
    # state written before versions were recorded: (mtime, size)
    return known.get("mtime") == entry.mtime and known.get("size") == entry.size
