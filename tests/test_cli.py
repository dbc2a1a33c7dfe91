"""The `headwater` command: lint, schema, status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from headwater.cli import main
from headwater.config.json_schema import SCHEMA_PATH, render, source_json_schema

REPO = Path(__file__).resolve().parents[1]
INVALID = REPO / "tests" / "config" / "invalid_sources"


def test_lint_passes_on_shipped_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", *map(str, sorted((REPO / "include" / "sources").glob("*.yaml")))]) == 0
    assert "5 file(s) checked, 0 invalid, 0 issue(s)" in capsys.readouterr().err


def test_lint_prints_every_issue_with_its_location(capsys: pytest.CaptureFixture[str]) -> None:
    files = [INVALID / "typo_key.yaml", INVALID / "unknown_target_field.yaml", INVALID / "cursor_not_selected.yaml"]
    assert main(["lint", *map(str, files)]) == 1
    out, err = capsys.readouterr()
    assert f"{files[0]}: connector.cursr: unknown key 'cursr'; did you mean 'cursor'?" in out.splitlines()
    assert f"{files[1]}: mapping.fields[3].to: 'shoe_size' is not a field of target schema" in out
    assert f"{files[2]}: connector.cursor: cursor column 'modified' is not selected" in out
    assert "3 file(s) checked, 3 invalid, 3 issue(s)" in err


def test_committed_json_schema_matches_the_models() -> None:
    assert SCHEMA_PATH.read_text() == render(), "run `headwater schema` and commit schema/source.schema.json"
    assert main(["schema", "--check"]) == 0


def test_json_schema_accepts_shipped_sources_and_rejects_typos() -> None:
    schema = source_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((REPO / "include" / "sources").glob("*.yaml")):
        data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
        assert not list(validator.iter_errors(data)), path
    bad = json.loads(json.dumps(yaml.safe_load((INVALID / "typo_key.yaml").read_text()), default=str))
    assert list(validator.iter_errors(bad))


def test_status_prints_the_latest_run_of_every_source(tmp_path: Path, monkeypatch, capsys) -> None:
    from datetime import UTC, datetime

    from headwater.store import db, runs

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    db.reset_engines()
    assert main(["status"]) == 0
    assert "no runs recorded yet" in capsys.readouterr().out
    engine = db.get_engine()
    start = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    runs.record_run(engine, runs.RunRecord(source="crm", run_id="r1", status="failed", started_at=start, error_summary="connect: refused"))
    runs.record_run(engine, runs.RunRecord(source="crm", run_id="r2", status="success", rows_read=61, rows_loaded=58, started_at=start.replace(hour=7)))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "crm" in out and "success" in out and "58" in out
    assert "failed" not in out  # only the latest run per source
    db.reset_engines()


def test_lint_defaults_to_the_sources_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    shutil.copy(INVALID / "bad_mode.yaml", tmp_path / "bad_mode.yaml")
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(tmp_path))
    assert main(["lint"]) == 1
    assert "load.mode: expected one of 'append' or 'merge', got 'upsert'" in capsys.readouterr().out


def test_state_show_and_reset(tmp_path: Path, monkeypatch, capsys) -> None:
    from headwater.store import db, state

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    db.reset_engines()
    engine = db.get_engine()
    cursor_state = {"cursor": {"column": "updated_at", "type": "timestamp", "value": "2026-11-01T00:00:00"}, "keys_at_cursor": [[1]]}
    state.set_state(engine, "crm", cursor_state, run_id="r1")
    assert main(["state", "show", "crm"]) == 0
    assert '"value": "2026-11-01T00:00:00"' in capsys.readouterr().out
    assert main(["state", "reset", "crm", "--cursor", "2026-10-01T00:00:00", "--yes"]) == 0
    assert state.get_state(engine, "crm")["cursor"]["value"] == "2026-10-01T00:00:00"
    assert state.get_state(engine, "crm")["keys_at_cursor"] == []
    assert main(["state", "reset", "crm", "--yes"]) == 0
    assert state.get_state(engine, "crm") is None
    capsys.readouterr()
    assert main(["state", "show", "crm"]) == 0
    assert "no state for 'crm'" in capsys.readouterr().out
    db.reset_engines()
