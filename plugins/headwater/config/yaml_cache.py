"""Parsed-YAML cache, keyed by file content, so unchanged source files are not re-parsed.

Airflow re-parses the DAG file every few minutes in a fresh process; building a YAML document's
Python objects costs ~1 ms per source file, which dominates parse time at a thousand sources.
Like `.pyc` files, the parsed data is cached on disk, keyed by a hash of the file's bytes, so a
changed file can never be served stale. The cache is an optimisation only: any problem reading
or writing it falls back to parsing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import yaml

from headwater import settings

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser is ~9x faster than pure Python
_VERSION = b"1"  # bump when the cached shape changes


def cache_dir() -> Path:
    return settings.home() / "cache" / "yaml"


def load_yaml(raw: bytes) -> object:
    """The YAML document in `raw`, from the cache when these exact bytes were parsed before."""
    if os.environ.get("HEADWATER_YAML_CACHE", "1") == "0":
        return yaml.load(raw, Loader=_LOADER)
    key = hashlib.blake2b(_VERSION + raw, digest_size=16).hexdigest()
    entry = cache_dir() / key[:2] / f"{key}.pickle"
    try:
        return pickle.loads(entry.read_bytes())
    except Exception:
        pass
    data = yaml.load(raw, Loader=_LOADER)  # YAML errors propagate: the caller reports them
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, entry)  # atomic: concurrent parsers never read half a file
    except OSError:
        pass
    return data
