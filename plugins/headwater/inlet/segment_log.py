"""The embedded event log: segment files of JSON lines under $HEADWATER_HOME/inlet/log/<stream>/.

Each inlet process writes its own segment per stream (name: creation time, pid, random), holds an
exclusive `flock` on it while it writes, and starts a new one past a size or an age. A record is
one line `<crc32 hex> <json>\\n`; a request's records are written with one `write` and made durable
with `fdatasync` before the inlet answers (requests that arrive together share one sync). A write
that fails is cut off again (`ftruncate`), and a reader takes only complete lines whose checksum
matches: a crash mid-write leaves at most a torn tail that is never read as a record, and no
process appends after it (a restarted inlet always starts a new segment).

A consumer's position is `{"done_before": name, "offsets": {segment: byte offset}}`: segments up
to `done_before` are read completely and closed, the others are read from their offset.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
import time
import zlib
from pathlib import Path

from headwater import settings
from headwater.inlet.log import Backlog, EventLog, LogFull, ReadResult, encode, received

SUFFIX = ".log"
_READ_BLOCK = 1 << 20


def _frame(payload: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _unframe(line: bytes) -> bytes | None:
    """The payload of a complete line, or None when its checksum does not match (never a record)."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:]
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    return payload if zlib.crc32(payload) == crc else None


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.write_lock = threading.Lock()
        self.sync_lock = threading.Lock()
        self.fd = -1
        self.written = self.synced = 0
        self._open()

    def _open(self) -> None:
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(2)}{SUFFIX}"
        self.path = self.folder / name
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, settings.file_mode())
        fcntl.flock(fd, fcntl.LOCK_EX)  # readers see an active segment by this lock
        _fsync_dir(self.folder)  # the new name survives a crash too
        self.fd, self.size, self.opened = fd, 0, time.monotonic()

    def rotate_if_due(self, extra: int) -> None:
        """Close the segment past its size or age (caller holds write_lock)."""
        too_big = self.size and self.size + extra > settings.inlet_segment_bytes()
        if too_big or time.monotonic() - self.opened > settings.inlet_segment_seconds():
            with self.sync_lock:
                os.fdatasync(self.fd)
                self.synced = self.written
                os.close(self.fd)  # releases the flock: readers may now finish it
                self._open()

    def write(self, data: bytes) -> int:
        """Append `data` (caller holds write_lock); on failure cut the segment back to where it was."""
        start = self.size
        try:
            view = memoryview(data)
            while view:
                done = os.write(self.fd, view)
                view = view[done:]
        except OSError:
            try:
                os.ftruncate(self.fd, start)
            except OSError:  # cannot even cut it back: abandon the segment, start another
                with self.sync_lock:
                    os.close(self.fd)
                    self._open()
            raise
        self.size += len(data)
        self.written += 1
        return self.written

    def sync(self, seq: int) -> None:
        """Return once write number `seq` is on disk; one fdatasync serves every write before it."""
        with self.sync_lock:
            if self.synced >= seq:
                return
            target = self.written
            os.fdatasync(self.fd)
            self.synced = target

    def close(self) -> None:
        with self.write_lock, self.sync_lock:
            if self.fd >= 0:
                os.fdatasync(self.fd)
                os.close(self.fd)
                self.fd = -1


class SegmentLog(EventLog):
    name = "segments"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._writers: dict[str, _Writer] = {}
        self._lock = threading.Lock()
        self._sizes: dict[str, tuple[float, int]] = {}

    def folder(self, stream: str) -> Path:
        return settings.private_mkdir(self.root / stream)

    # --- writer -----------------------------------------------------------------------------

    def append(self, stream: str, events: list[dict] | list[bytes]) -> None:
        data = b"".join(_frame(encode(e)) for e in events)
        if self._stream_bytes(stream) + len(data) > settings.inlet_log_max_bytes():
            raise LogFull(f"the log of stream {stream!r} is full")
        with self._lock:
            writer = self._writers.get(stream)
            if writer is None:
                writer = self._writers[stream] = _Writer(self.folder(stream))
        with writer.write_lock:
            writer.rotate_if_due(len(data))
            seq = writer.write(data)
        writer.sync(seq)

    def _stream_bytes(self, stream: str) -> int:
        """Bytes the stream's segments hold, looked at again at most once a second."""
        now = time.monotonic()
        seen = self._sizes.get(stream)
        if seen is None or now - seen[0] > 1.0:
            total = 0
            folder = self.root / stream
            if folder.is_dir():
                total = sum(e.stat().st_size for e in os.scandir(folder) if e.name.endswith(SUFFIX))
            seen = self._sizes[stream] = (now, total)
        return seen[1]

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()

    # --- reader -----------------------------------------------------------------------------

    def _segments(self, stream: str) -> list[Path]:
        folder = self.root / stream
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX))

    def read(self, stream: str, consumer: str, position: dict | None, limit: int) -> ReadResult:
        done_before = (position or {}).get("done_before") or ""
        offsets = dict((position or {}).get("offsets") or {})
        events: list[dict] = []
        notes: list[str] = []
        finished: dict[str, bool] = {}
        for path in self._segments(stream):
            if path.name <= done_before:
                continue
            start = int(offsets.get(path.name, 0))
            if len(events) < limit:
                end, active, torn, bad = self._read_segment(path, start, limit - len(events), events)
                if torn:
                    notes.append(f"{path.name}: a torn record of {torn} bytes at its end was skipped (a crash mid-write)")
                if bad:
                    notes.append(f"{path.name}: {bad} line(s) with a wrong checksum skipped")
                offsets[path.name] = end
            else:
                end, active = start, _is_active(path)
            finished[path.name] = not active and end >= path.stat().st_size
        # Closed, completely read segments at the front leave the position: it stays small.
        for name in sorted(finished):
            if not finished[name]:
                break
            done_before = name
            offsets.pop(name, None)
        offsets = {k: v for k, v in offsets.items() if k > done_before}
        return ReadResult(events, {"done_before": done_before, "offsets": offsets}, notes)

    def _read_segment(self, path: Path, start: int, limit: int, out: list[dict]) -> tuple[int, bool, int, int]:
        """Complete records of `path` from `start` into `out` (at most `limit`).

        (offset after the last line taken, segment still written, torn tail bytes skipped, bad lines).
        """
        import json

        bad = torn = 0
        with open(path, "rb") as handle:
            active = _locked(handle.fileno())
            handle.seek(start)
            offset = start
            pending = b""
            while len(out) < limit:
                block = handle.read(_READ_BLOCK)
                if not block:
                    break
                pending += block
                lines = pending.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if len(out) >= limit:
                        # give back what was not taken: the offset stays at the last line taken
                        pending = b""
                        break
                    offset += len(line) + 1
                    payload = _unframe(line)
                    if payload is None:
                        bad += 1
                        continue
                    out.append(json.loads(payload))
            if pending and not active and len(out) < limit:
                # a dead writer's unfinished last line: never a record, passed over for good
                torn = len(pending)
                offset += torn
        return offset, active, torn, bad

    def release(self, stream: str, consumer: str, position: dict | None) -> None:
        """Delete closed segments this consumer has finished that are older than the retention."""
        done_before = (position or {}).get("done_before") or ""
        horizon = time.time() - settings.inlet_retention_seconds()
        for path in self._segments(stream):
            if path.name > done_before:
                break
            try:
                if path.stat().st_mtime < horizon and not _is_active(path):
                    path.unlink()
            except FileNotFoundError:
                pass

    def backlog(self, stream: str, consumer: str, position: dict | None) -> Backlog:
        import json

        done_before = (position or {}).get("done_before") or ""
        offsets = (position or {}).get("offsets") or {}
        count, oldest = 0, None
        for path in self._segments(stream):
            if path.name <= done_before:
                continue
            with open(path, "rb") as handle:
                handle.seek(int(offsets.get(path.name, 0)))
                data = handle.read()
            lines = data.split(b"\n")[:-1]
            count += len(lines)
            if oldest is None:
                for line in lines:
                    payload = _unframe(line)
                    if payload is not None:
                        oldest = received(json.loads(payload))
                        break
        return Backlog(count, oldest)


def _locked(fd: int) -> bool:
    """Whether a writer holds the segment (an exclusive flock)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _is_active(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return _locked(handle.fileno())
    except FileNotFoundError:
        return False


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
