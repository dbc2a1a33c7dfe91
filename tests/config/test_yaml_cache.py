"""The parsed-YAML cache holds data only (no pickle), keeps YAML's types, and is private; so are the
SQLite store and the local lake folder."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from headwater.config import yaml_cache

YAML = b"""
start: 2024-01-01
at: 2024-01-01 10:30:00
at_utc: 2024-01-01T10:30:00+02:00
on: [1, 2.5, null, true, "x"]
nested: {a: [{b: 2}]}
"""


class _Plant:
    """Unpickling this creates `path`: what an attacker with write access to the cache would plant."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture
def cache_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEADWATER_YAML_CACHE", "1")
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HEADWATER_UMASK", raising=False)
    return tmp_path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_planted_cache_entry_cannot_run_code(cache_on: Path) -> None:
    """Before: the cache unpickled `<key>.pickle` at every parse, so this ran `touch`."""
    marker = cache_on / "pwned"
    for version, suffix in ((b"1", "pickle"), (b"2", "msgpack")):  # the old layout and the new one
        key = hashlib.blake2b(version + YAML, digest_size=16).hexdigest()
        entry = yaml_cache.cache_dir() / key[:2] / f"{key}.{suffix}"
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_bytes(pickle.dumps(_Plant(marker)))
    data = yaml_cache.load_yaml(YAML)
    assert not marker.exists()
    assert data["nested"] == {"a": [{"b": 2}]}


def test_cached_data_keeps_yaml_types(cache_on: Path) -> None:
    cold = yaml_cache.load_yaml(YAML)
    assert list(yaml_cache.cache_dir().glob("*/*.msgpack")), "nothing was cached"
    warm = yaml_cache.load_yaml(YAML)
    assert warm == cold
    assert type(warm["start"]) is date and warm["start"] == date(2024, 1, 1)
    assert warm["at"] == datetime(2024, 1, 1, 10, 30) and warm["at"].tzinfo is None
    assert warm["at_utc"] == datetime(2024, 1, 1, 8, 30, tzinfo=UTC)
    assert warm["at_utc"].utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)
    assert [type(v) for v in warm[True]] == [int, float, type(None), bool, str]  # YAML 1.1: `on` is true


def test_cache_files_are_private(cache_on: Path) -> None:
    yaml_cache.load_yaml(YAML)
    [entry] = yaml_cache.cache_dir().glob("*/*.msgpack")
    assert _mode(entry) == 0o600
    for folder in (entry.parent, yaml_cache.cache_dir(), yaml_cache.cache_dir().parent, cache_on / "home"):
        assert _mode(folder) == 0o700, folder


def test_store_and_lake_are_private_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: 0644 database file, 0755 folders (the process umask)."""
    from headwater.lake.storage import lake_root
    from headwater.store import db

    monkeypatch.delenv("HEADWATER_UMASK", raising=False)
    old = os.umask(0o022)  # what a login shell has
    try:
        database = tmp_path / "state" / "headwater.db"
        db.get_engine(f"sqlite:///{database}")
        lake = tmp_path / "data" / "lake"
        lake_root(str(lake))
    finally:
        os.umask(old)
        db.reset_engines()
    assert _mode(database) == 0o600 and _mode(database.parent) == 0o700
    assert _mode(lake) == 0o700 and _mode(lake.parent) == 0o700
    wal = database.with_name("headwater.db-wal")
    assert not wal.exists() or _mode(wal) == 0o600


def test_umask_setting_widens_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.lake.storage import lake_root

    monkeypatch.setenv("HEADWATER_UMASK", "027")
    old = os.umask(0o022)
    try:
        lake_root(str(tmp_path / "lake"))
    finally:
        os.umask(old)
    assert _mode(tmp_path / "lake") == 0o750
