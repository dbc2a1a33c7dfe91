"""`file_drop`: the run's signals as one CSV or JSON-lines file in a folder (local or object storage).

Signals are buffered and written by `finish()`: one file per run (more only beyond `batch_size`
signals), named `<audience>-<destination>-<run>-<part>-<content hash>.<ext>`. The name carries a
hash of the file's signals, so a retry that finds the same unacknowledged signals rewrites the same
file, and a retry after a partial delivery never overwrites a file already acknowledged. Written
atomically: a local file is written under a temporary name and renamed; on object storage the
object appears only when its upload completes. The storage code is the lake's (`lake.storage`,
credentials from an aws / wasb / google_cloud_platform connection).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from typing import Any

from .base import DestinationHook, Outcome, connection
from .registry import sends_variables


class FileDropHook(DestinationHook):
    def __init__(self, *, variable_types: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variables = list(variable_types or {}) if sends_variables(self.config) else []
        self._buffer: list[dict] = []
        self.written: list[str] = []

    def _filesystem(self) -> tuple[Any, str]:
        from headwater.lake import storage
        from headwater.lake.credentials import options_from_connection

        options = None
        if self.config.conn_id:
            conn = connection(self.config.conn_id)
            options = options_from_connection(conn.conn_type, conn.login, conn.password, conn.extra_dejson,
                                              self.config.conn_id, conn.host)
        return storage.filesystem(self.folder, options)

    @property
    def folder(self) -> str:
        """The configured folder; a relative local path is under $HEADWATER_HOME."""
        from headwater import settings
        from headwater.lake import storage

        uri = self.config.uri
        if storage.is_remote(uri) or os.path.isabs(uri):
            return uri
        return str(settings.home() / uri)

    def check(self) -> None:
        import pyarrow.fs as pafs

        fs, path = self._filesystem()
        if isinstance(fs, pafs.LocalFileSystem):
            from pathlib import Path

            from headwater import settings

            settings.private_mkdir(Path(path))  # customer data: HEADWATER_UMASK, as the lake
        else:
            fs.get_file_info(path)  # reaches the store with the credentials; raises if it cannot

    def send(self, op: str, batch: list[dict]) -> Outcome:
        self._buffer += batch
        return Outcome()

    def finish(self) -> Outcome:
        signals, self._buffer = self._buffer, []
        if not signals:
            return Outcome()
        fs, folder = self._filesystem()
        size = self.config.batch_size
        from headwater.lake.staging import safe_name

        for part, start in enumerate(range(0, len(signals), size)):
            chunk = signals[start:start + size]
            digest = hashlib.sha256("".join(s["key"] for s in chunk).encode()).hexdigest()[:12]
            name = f"{safe_name(self.audience)}-{self.config.name}-{safe_name(self.run_id)}-{part:05d}-{digest}.{self.config.format}"
            self._write(fs, f"{folder.rstrip('/')}/{name}", self._render(chunk))
        return Outcome(acked=signals)

    def _render(self, chunk: list[dict]) -> bytes:
        out = io.StringIO()
        rows = []
        for s in chunk:
            values = json.loads(s["variables"]) if s["variables"] else {}
            row = {"op": s["op"], "profile_id": s["profile_id"], "identity": s["identity"], "idempotency_key": s["key"]}
            row.update({v: values.get(v) for v in self.variables})
            rows.append(row)
        if self.config.format == "jsonl":
            for row in rows:
                out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=["op", "profile_id", "identity", "idempotency_key", *self.variables])
            writer.writeheader()
            writer.writerows(rows)
        return out.getvalue().encode()

    def _write(self, fs: Any, path: str, data: bytes) -> None:
        import pyarrow.fs as pafs

        if isinstance(fs, pafs.LocalFileSystem):
            from headwater import settings

            temp = f"{path}.tmp-{os.getpid()}"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, settings.file_mode())
            with open(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        else:
            with fs.open_output_stream(path) as stream:
                stream.write(data)
        self.written.append(path)
