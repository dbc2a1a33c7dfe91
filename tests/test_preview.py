"""`headwater preview`: map and validate the first rows of a source; nothing loaded, no state written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headwater.cli import main
from headwater.commands import preview as preview_module

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with its size and mtime, except the parsed-YAML cache."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "cache" not in p.relative_to(root).parts
    }


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of include/ and an empty HEADWATER_HOME: nothing can be written elsewhere."""
    from headwater.store import db

    shutil.copytree(REPO / "include", tmp_path / "include", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(tmp_path / "include"))
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(tmp_path / "include" / "sources"))
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    for name in (
        "HEADWATER_LAKE_URI",
        "HEADWATER_STORE_URL",
        "HEADWATER_STORE_CONN_ID",
        "HEADWATER_LOOKUPS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    db.reset_engines()
    yield tmp_path
    db.reset_engines()


@pytest.mark.parametrize(
    ("source", "columns", "expectations"),
    [
        (
            "demo_crm_contacts",
            ["crm_id", "email", "email_sha256", "full_name", "birth_date"],
            ["expect_column_values_to_not_be_null(email)", "expect_column_values_to_be_unique(crm_id)"],
        ),
        (
            "demo_loyalty_members",
            ["loyalty_id", "loyalty_tier", "loyalty_points"],
            ["expect_column_values_to_be_in_set(loyalty_tier)"],
        ),
        (
            "demo_purchase_events",
            ["event_id", "occurred_at", "amount"],
            ["expect_column_values_to_be_between(amount)"],
        ),
    ],
)
def test_preview_demo_sources_writes_nothing(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    source: str,
    columns: list[str],
    expectations: list[str],
) -> None:
    before = snapshot(workspace)
    assert main(["preview", source, "--rows", "5"]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 rows mapped onto" in out
    for name in columns + expectations:
        assert name in out
    assert "passed" in out
    assert "nothing was loaded or written" in out
    assert snapshot(workspace) == before  # no lake, no store, no staging, no state; include/ untouched
    home = workspace / "home"
    assert not (home / "lake").exists() and not (home / "headwater.db").exists()


def test_preview_ignores_and_keeps_the_stored_watermark(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from headwater.store import db, state

    engine = db.get_engine()
    db.create_all(engine)
    stored = {
        "cursor": {"column": "updated_at", "value": "2999-01-01 00:00:00", "type": "str"},
        "keys_at_cursor": [],
    }
    state.set_state(engine, "demo_loyalty_members", stored, "run-1")
    before = snapshot(workspace)
    assert main(["preview", "demo_loyalty_members", "--rows", "3"]) == 0
    assert "3 of 3 rows mapped" in capsys.readouterr().out  # read from the initial value, not the watermark
    assert state.get_state(engine, "demo_loyalty_members") == stored
    assert snapshot(workspace) == before


def test_preview_stops_the_reader_after_n_rows(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.connectors import registry

    readers = []
    real = registry.make_hook

    def spy(config, **kwargs):
        hook = real(config, **kwargs)
        read = hook.read

        def tracked(state, **kw):
            assert state is None
            readers.append(read(state, **kw))
            return readers[-1]

        hook.read = tracked
        return hook

    monkeypatch.setattr(registry, "make_hook", spy)
    source = preview_module.find_source("demo_loyalty_members")
    described, sample, errors = preview_module.read_sample(source, 7)
    assert sample.num_rows == 7 and sample.column("_hw_row").to_pylist() == list(range(7))
    assert readers and readers[0].gi_frame is None  # generator closed: the connection is released


def test_preview_shows_rejected_rows_and_failed_expectations(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = workspace / "include" / "demo" / "tiny.csv"
    data.write_text("id,email,points\n1,a@x.io,10\n2,not-an-email,20\n3,c@x.io,lots\n")
    (workspace / "include" / "sources" / "tiny.yaml").write_text(
        """
connector: {type: local_files, path: demo/tiny.csv, format: csv}
mapping:
  target: customer_profile
  fields:
    - {to: crm_id, from: id}
    - {to: email, from: email}
    - {to: loyalty_points, from: points}
    - {to: email_sha256, expr: "sha256_salted(email, 'pii_salt')"}
validate:
  max_error_ratio: 1
  expectations:
    - {type: expect_column_values_to_match_regex, column: email, regex: "@"}
""".lstrip()
    )
    monkeypatch.setenv("AIRFLOW_VAR_PII_SALT", "pepper")
    assert main(["preview", str(workspace / "include" / "sources" / "tiny.yaml")]) == 0
    out = capsys.readouterr().out
    assert "2 of 3 rows mapped" in out
    assert "CAST_FAILED loyalty_points: not a valid integer" in out
    assert "expect_column_values_to_match_regex email" in out
    assert "failed" in out


def test_unknown_source(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no source file or DAG id 'nope'; sources: demo_crm_contacts, demo_loyalty_members" in err


def test_missing_salt_is_reported(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "include" / "sources" / "salted.yaml").write_text(
        """
connector: {type: local_files, path: demo/crm_contacts.csv, format: csv}
mapping:
  target: customer_profile
  fields:
    - {to: email_sha256, expr: "sha256_salted(Email, 'hw_test_missing_salt')"}
""".lstrip()
    )
    assert main(["preview", "salted", "--rows", "2"]) == 1
    assert "Airflow Variable 'hw_test_missing_salt', which is not set" in capsys.readouterr().err
