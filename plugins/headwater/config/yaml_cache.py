"""Parsed-YAML cache, keyed by file content, so unchanged source files are not re-parsed.

Airflow re-parses the DAG file every few minutes in a fresh process; building a YAML document's
Python objects costs ~1-2 ms per source file, which dominates parse time at a thousand sources.
Like `.pyc` files, the parsed data is cached on disk, keyed by a hash of the file's bytes, so a
changed file can never be served stale.

The entries are MessagePack (msgspec), which decodes to plain data only: whoever can write the
cache folder can change what a source file seems to say (as they could the file itself), but
cannot run code in the dag-processor, as a pickle cache would let them. YAML dates and datetimes
travel as tagged extension values so the models see the same types as from the YAML. An entry is
written only when it decodes back to equal data, and any problem reading or writing the cache
falls back to parsing: it is an optimisation only. Folders are created 0700 and entries 0600
(see `settings.private_mkdir`).
"""

from __future__ import annotations

import hashlib
import os
from datetime import date, datetime
from pathlib import Path

import msgspec

from headwater import settings
from headwater.config import safe_yaml

_VERSION = b"2"  # bump when the cached shape changes (1: pickle)
_DATE, _DATETIME = 1, 2  # msgpack extension codes
_MAX_ENTRY_BYTES = 16 * safe_yaml.MAX_BYTES  # a larger entry was not written by us: ignore it


def cache_dir() -> Path:
    return settings.home() / "cache" / "yaml"


def _ext_hook(code: int, data: memoryview) -> object:
    text = bytes(data).decode()
    if code == _DATE:
        return date.fromisoformat(text)
    if code == _DATETIME:
        return datetime.fromisoformat(text)
    raise ValueError(f"unknown extension {code}")


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(ext_hook=_ext_hook)


def _tagged(value: object) -> object:
    """`value` with dates and datetimes as extension values (msgspec would write them as strings)."""
    if isinstance(value, dict):
        return {_tagged(k): _tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, datetime):
        return msgspec.msgpack.Ext(_DATETIME, value.isoformat().encode())
    if isinstance(value, date):
        return msgspec.msgpack.Ext(_DATE, value.isoformat().encode())
    return value


def load_yaml(raw: bytes) -> object:
    """The YAML document in `raw`, from the cache when these exact bytes were parsed before."""
    if os.environ.get("HEADWATER_YAML_CACHE", "1") == "0":
        return safe_yaml.load(raw)
    key = hashlib.blake2b(_VERSION + raw, digest_size=16).hexdigest()
    entry = cache_dir() / key[:2] / f"{key}.msgpack"
    try:
        with open(entry, "rb") as f:
            blob = f.read(_MAX_ENTRY_BYTES + 1)
        if len(blob) <= _MAX_ENTRY_BYTES:
            return _DECODER.decode(blob)
    except Exception:
        pass
    data = safe_yaml.load(raw)  # YAML errors propagate: the caller reports them
    try:
        blob = _ENCODER.encode(_tagged(data))
        if _DECODER.decode(blob) != data:  # e.g. a !!set: not worth a cache entry
            return data
        settings.private_mkdir(entry.parent)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, settings.file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, entry)  # atomic: concurrent parsers never read half a file
    except Exception:  # an optimisation only: never fail a parse because of the cache
        pass
    return data
