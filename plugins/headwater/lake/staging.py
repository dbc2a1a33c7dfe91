"""Run-scoped staging: the Arrow IPC parts stages hand to each other.

Layout: `{lake}/_staging/{dag_id}/{run_id}/{stage}/part-NNNNN.arrow`. XCom carries only the part
URIs. A retried task calls `reset(stage)` first so it replaces its own parts instead of adding to them.

Parts are Arrow IPC files, not Parquet: a staged part is written once and read once by the next
task, so encoding it (Parquet pages, compression) is pure cost. On a local lake parts are
uncompressed and read through a memory map, which costs almost nothing: the next task's Arrow
buffers are the page-cache pages the previous task wrote (bench/README.md, file_throughput). On an
object store, where bytes cross the network, parts are lz4-frame compressed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from headwater.lake import storage

if TYPE_CHECKING:
    import pyarrow as pa

STAGING_DIR = "_staging"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PART = re.compile(r"^part-(\d+)\.arrow$")
_STAGE = re.compile(r"^[A-Za-z0-9_-]+$")


def safe_name(value: str) -> str:
    """A folder name for any id: unsafe characters replaced, plus a short hash when anything changed.

    Airflow run ids contain ':' and '+' (`manual__2026-11-01T00:00:00+00:00`), which some object
    stores and tools mishandle; the hash keeps two ids that differ only there apart.
    """
    cleaned = _UNSAFE.sub("_", value).strip("._") or "_"
    if cleaned == value:
        return value
    return f"{cleaned}-{hashlib.sha1(value.encode()).hexdigest()[:8]}"


class Staging:
    """Arrow IPC parts of one DAG run.

    :param dag_id: the DAG (one per source).
    :param run_id: the Airflow run id; any text.
    :param root: lake root; `settings.lake_uri()` when None.
    """

    def __init__(self, dag_id: str, run_id: str, root: str | None = None):
        self.dag_id = dag_id
        self.run_id = run_id
        self.root = storage.lake_root(root)
        self.uri = storage.join(self.root, STAGING_DIR, safe_name(dag_id), safe_name(run_id))
        self._fs, self._path = storage.filesystem(self.uri)
        self._remote = storage.is_remote(self.uri)
        self._next: dict[str, int] = {}

    def _stage_path(self, stage: str) -> str:
        if not _STAGE.match(stage):
            raise ValueError(f"stage name {stage!r} must be letters, digits, '_' or '-'")
        return storage.join(self._path, stage)

    def _to_uri(self, path: str) -> str:
        # Local paths stay paths; a remote path goes back under this run's URI (an Azure path
        # is `container/...` while its URI is `abfs://container@account.../...`).
        if not self._remote:
            return path
        if not path.startswith(self._path):
            raise ValueError(f"{path} is not under this run's staging folder {self._path}")
        return self.uri + path[len(self._path) :]

    def _from_uri(self, uri: str) -> str:
        return storage.fs_path(uri)

    def _existing(self, stage: str) -> list[tuple[int, str]]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self._stage_path(stage), allow_not_found=True)
        found = []
        for info in self._fs.get_file_info(selector):
            match = _PART.match(info.base_name)
            if match and info.type == pafs.FileType.File:
                found.append((int(match.group(1)), info.path))
        return sorted(found)

    def write(self, stage: str, table: pa.Table) -> str:
        """Write one part of `stage`; returns its URI. Numbers continue after existing parts."""
        import pyarrow.ipc as ipc

        folder = self._stage_path(stage)
        if stage not in self._next:
            existing = self._existing(stage)
            self._next[stage] = existing[-1][0] + 1 if existing else 0
        number = self._next[stage]
        self._next[stage] = number + 1
        self._fs.create_dir(folder, recursive=True)
        path = storage.join(folder, f"part-{number:05d}.arrow")
        # Local: uncompressed, so writing is a copy into the page cache and reading a memory map.
        # Remote: lz4 frame (~3x smaller here) because the bytes go over the network twice.
        options = ipc.IpcWriteOptions(compression="lz4" if self._remote else None)
        # Locally, write aside and rename: a file another process has memory-mapped is never
        # truncated under it (that would be a SIGBUS, not an exception), and a part that exists is
        # complete. Object stores have no cheap rename, and their uploads appear whole anyway.
        target = path if self._remote else storage.join(folder, f".part-{number:05d}.arrow.tmp")
        with self._fs.open_output_stream(target) as sink, ipc.new_file(sink, table.schema, options=options) as out:
            out.write_table(table)  # the table's chunks become record batches: no combine copy
        if target != path:
            self._fs.move(target, path)
        return self._to_uri(path)

    def parts(self, stage: str) -> list[str]:
        """URIs of the parts of `stage`, in write order."""
        return [self._to_uri(path) for _, path in self._existing(stage)]

    def read(self, uris: Iterable[str]) -> Iterator[pa.Table]:
        """Each part as a table, one at a time (memory bounded by the largest part)."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        for uri in uris:
            path = self._from_uri(uri)
            if self._remote:
                with self._fs.open_input_file(path) as source:
                    table = ipc.open_file(source).read_all()
            else:
                # The table's buffers point into the mapping and keep it alive after `close`;
                # pages are read on first touch and belong to the page cache, not the heap.
                with pa.memory_map(path) as source:
                    table = ipc.open_file(source).read_all()
            yield table

    def reset(self, stage: str) -> None:
        """Remove a stage's parts (call first in a task that may be a retry)."""
        self._delete(self._stage_path(stage))
        self._next[stage] = 0

    def cleanup(self) -> None:
        """Remove this run's staging folder."""
        self._delete(self._path)
        self._next.clear()

    def _delete(self, path: str) -> None:
        import pyarrow.fs as pafs

        if self._fs.get_file_info(path).type != pafs.FileType.NotFound:
            self._fs.delete_dir(path)
