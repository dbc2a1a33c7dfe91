"""A throwaway lake folder per test (HEADWATER_LAKE_URI / HEADWATER_HOME point into tmp_path)."""

from __future__ import annotations

import pytest


@pytest.fixture
def lake(tmp_path, monkeypatch):
    root = tmp_path / "lake"
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEADWATER_LAKE_URI", str(root))
    monkeypatch.delenv("HEADWATER_LAKE_CONN_ID", raising=False)
    return root
