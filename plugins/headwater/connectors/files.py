"""Local files source hook: a glob on the worker's disk, read file by file with `file_formats`.

Listing and incremental state come from `FileSource`. A file's version is its (mtime, size); keys
are paths relative to the include folder when the file is under it, so a deployment that moves
the include folder does not re-read everything.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import BaseHook

from headwater import settings

from .file_source import FileEntry, FileSource, static_prefix
from .models import LocalFilesConnector


class LocalFilesHook(BaseHook, FileSource):
    """
    Read files matching a glob on the local disk (CSV, JSON lines, JSON arrays, Parquet; compressed).

    :param config: the source's `connector:` section (`type: local_files`). `conn_id` (an `fs`
        connection) is accepted for symmetry with remote file sources and not used.
    """

    conn_name_attr = "fs_conn_id"
    default_conn_name = "fs_default"
    conn_type = "fs"
    hook_name = "Local files (Headwater)"

    def __init__(self, config: LocalFilesConnector, **kwargs) -> None:
        super().__init__(**kwargs)
        self.connector = config
        self.notes: list[str] = []
        self._next_state: dict | None = None

    def get_conn(self) -> None:
        return None

    def _key(self, path: Path) -> str:
        try:
            return path.relative_to(settings.include_dir()).as_posix()
        except ValueError:
            return path.as_posix()

    def _path(self, key: str) -> Path:
        path = Path(key)
        return path if path.is_absolute() else settings.include_dir() / path

    def pattern(self) -> str:
        return self._key(self.connector.resolved_pattern())

    def location(self) -> str:
        return str(self.connector.resolved_pattern())

    def list_entries(self, prefix: str) -> list[FileEntry]:
        base = self._path(prefix) if prefix else settings.include_dir()
        if base.is_file():
            paths = [base]
        else:
            # os.walk does not follow links to folders; links to files are checked below
            paths = [Path(root) / name for root, _, names in os.walk(base) for name in names]
        entries = []
        root = os.path.realpath(base.parent if base.is_file() else base)
        for path in paths:
            if path.is_symlink() and not _inside(os.path.realpath(path), root):
                # whoever can drop files in the folder must not make the worker read others
                self.notes.append(f"skipped {path}: a link to a file outside {root}")
                continue
            stat = path.stat()
            entries.append(
                FileEntry(self._key(path), stat.st_size, stat.st_mtime, f"{stat.st_mtime_ns}:{stat.st_size}")
            )
        return entries

    def display_name(self, entry: FileEntry) -> str:
        return str(self._path(entry.key))

    def open_entry(self, entry: FileEntry):
        return self._path(entry.key).open("rb")

    def check(self) -> str:
        description = super().check()
        folder = self._path(static_prefix(self.pattern()))
        if description.startswith("no file") and not folder.exists():
            return description.replace("; the select", f"; folder {folder} does not exist; the select", 1)
        return description

    def list_files(self) -> tuple[list[Path], int]:
        """Matching files as paths, sorted, and how many matches the exclude patterns removed."""
        entries, excluded = self.matching()
        return [self._path(e.key) for e in entries], excluded


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
