"""Where Headwater keeps things, read from the environment.

Embedded defaults (a folder lake, a SQLite store under `.headwater/`) make a laptop work with
nothing installed; production points the same names at object storage and PostgreSQL.
No secret is ever read from here: credentials come from Airflow connections
(`HEADWATER_STORE_CONN_ID`, `HEADWATER_LAKE_CONN_ID`).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    # abspath, not resolve(): this runs for every source at every DAG parse, and resolve() stats
    return Path(os.path.abspath(os.path.expanduser(value))) if value else default


def home() -> Path:
    """Working folder for the embedded defaults (lake folder, SQLite store)."""
    return _path("HEADWATER_HOME", PROJECT_ROOT / ".headwater")


def include_dir() -> Path:
    """Folder that relative paths in source files (demo data, suites, lookups) resolve against."""
    return _path("HEADWATER_INCLUDE_DIR", PROJECT_ROOT / "include")


def sources_dir() -> Path:
    """Folder of source YAML files; one file, one DAG."""
    return _path("HEADWATER_SOURCES_DIR", include_dir() / "sources")


def schemas_dir() -> Path:
    """Folder of target schemas (`<name>.yaml`)."""
    return _path("HEADWATER_SCHEMAS_DIR", include_dir() / "schemas")


def lake_uri() -> str:
    """Root of the data lake: a local folder, or s3://, gs://, abfs:// by configuration."""
    value = os.environ.get("HEADWATER_LAKE_URI")
    if value:
        return value.rstrip("/")
    return str(home() / "lake")


def lake_conn_id() -> str | None:
    """Airflow connection holding object-storage credentials for the lake, if any."""
    return os.environ.get("HEADWATER_LAKE_CONN_ID") or None


def store_conn_id() -> str | None:
    """Airflow connection (postgres) of the profile/run store; wins over HEADWATER_STORE_URL."""
    return os.environ.get("HEADWATER_STORE_CONN_ID") or None


def store_url() -> str:
    """SQLAlchemy URL of the profile/run store when no connection is configured (no secrets here)."""
    return os.environ.get("HEADWATER_STORE_URL") or f"sqlite:///{home() / 'headwater.db'}"


def _number(env: str, default: float) -> float:
    value = os.environ.get(env)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{env} must be a number, not {value!r}") from None


def max_expansion_ratio() -> float:
    """How many times its compressed size a source file may expand (0: no limit). Default 100."""
    return _number("HEADWATER_MAX_EXPANSION_RATIO", 100)


def max_select_bytes() -> int:
    """Bytes of rows one run may read from files before select stops with an error (0: no limit).

    Counted as Arrow bytes, about what select stages. Default 16 GiB."""
    return int(_number("HEADWATER_MAX_SELECT_BYTES", 16 << 30))


def validate_engine() -> str:
    """How the validate stage evaluates expectations (`HEADWATER_VALIDATE_ENGINE`).

    `auto` (default): the standard row-level expectations on Arrow, with GX's result objects, and
    GX's pandas engine for the rest; `gx`: everything through GX's pandas engine (slower; the way
    to rule the Arrow path out if a result ever looks wrong).
    """
    value = (os.environ.get("HEADWATER_VALIDATE_ENGINE") or "auto").strip().lower()
    if value not in ("auto", "gx"):
        raise ValueError(f"HEADWATER_VALIDATE_ENGINE must be 'auto' or 'gx', not {value!r}")
    return value


def umask() -> int:
    """Permission bits Headwater withholds from the files it creates (`HEADWATER_UMASK`, octal).

    Default 077: the SQLite store, the local lake and the parse cache hold customer data and what
    the dag-processor trusts, so only their owner may read them. Set e.g. 027 to share with a group.
    """
    value = os.environ.get("HEADWATER_UMASK")
    return int(value, 8) & 0o777 if value else 0o077


def file_mode() -> int:
    return 0o666 & ~umask()


def dir_mode() -> int:
    return 0o777 & ~umask()


def private_mkdir(path: Path) -> Path:
    """Create `path` and its missing parents with `dir_mode()` (existing folders are left as they are)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=dir_mode())
            os.chmod(folder, dir_mode())  # mkdir's mode is filtered by the process umask too
        except FileExistsError:
            pass
    return path


# --- streaming inlet (docs/streaming.md) -------------------------------------------------------


def inlet_log_backend() -> str:
    """Where the inlet logs events before it acknowledges them: `segments` (embedded) or `redis`."""
    value = (os.environ.get("HEADWATER_INLET_LOG") or "segments").strip().lower()
    if value not in ("segments", "redis"):
        raise ValueError(f"HEADWATER_INLET_LOG must be 'segments' or 'redis', not {value!r}")
    return value


def inlet_log_dir() -> Path:
    """Folder of the embedded event log (one sub-folder of segment files per stream)."""
    return _path("HEADWATER_INLET_LOG_DIR", home() / "inlet" / "log")


def inlet_redis_url() -> str:
    """Redis of the `redis` log backend (host, port, db number; no password here)."""
    return os.environ.get("HEADWATER_INLET_REDIS_URL") or "redis://127.0.0.1:6379/0"


def inlet_log_max_bytes() -> int:
    """Bytes one stream's log may hold before the inlet answers 413 + Retry-After. Default 10 GiB."""
    return int(_number("HEADWATER_INLET_LOG_MAX_BYTES", 10 << 30))


def inlet_segment_bytes() -> int:
    """A segment file is closed and a new one started past this size. Default 64 MiB."""
    return int(_number("HEADWATER_INLET_SEGMENT_BYTES", 64 << 20))


def inlet_segment_seconds() -> float:
    """... or once it is this old. Default 1 hour."""
    return _number("HEADWATER_INLET_SEGMENT_SECONDS", 3600)


def inlet_retention_seconds() -> float:
    """Closed segments older than this are deleted (Redis: entries trimmed). Default 7 days."""
    return _number("HEADWATER_INLET_RETENTION_SECONDS", 7 * 86400)


def inlet_redis_max_events() -> int:
    """Entries one Redis stream may hold before the inlet answers 413 + Retry-After. Default 10 million."""
    return int(_number("HEADWATER_INLET_REDIS_MAX_EVENTS", 10_000_000))
