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
    assert "7 file(s) checked, 0 invalid, 0 issue(s)" in capsys.readouterr().err


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


def test_status_lists_every_source_as_the_sources_page_does(tmp_path: Path, monkeypatch, capsys) -> None:
    from datetime import UTC, datetime

    from headwater.store import db, runs
    from headwater.ui.page import render
    from headwater.ui.sources import source_rows

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    db.reset_engines()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    for name in ("demo_crm_contacts", "demo_loyalty_members", "example_mysql_orders"):
        assert name in out  # never run, still listed
    assert out.count("never run") == 7
    engine = db.get_engine()
    start = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    failure = "connect: could not reach 127.0.0.1:5432 (connection refused)"
    runs.record_run(engine, runs.RunRecord(source="demo_crm_contacts", run_id="r1", status="failed", started_at=start, error_summary=failure))
    runs.record_run(engine, runs.RunRecord(source="demo_loyalty_members", run_id="r1", status="failed", started_at=start, error_summary="old"))
    runs.record_run(engine, runs.RunRecord(source="demo_loyalty_members", run_id="r2", status="success", rows_read=61, rows_loaded=58, started_at=start.replace(hour=7)))
    runs.record_run(engine, runs.RunRecord(source="retired_source", run_id="r9", status="success", rows_read=3, started_at=start))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert failure in out  # the message, as on the Sources page; not just "top errors -"
    assert failure in render(source_rows())
    assert "58" in out and "old" not in out  # only the latest run per source
    assert out.count("never run") == 5
    assert "retired_source" in out and "(no source file)" in out
    db.reset_engines()


def test_lint_walks_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(INVALID / "bad_mode.yaml", folder / "bad_mode.yaml")
    shutil.copy(INVALID / "typo_key.yaml", folder / "typo_key.yml")
    shutil.copy(REPO / "include" / "sources" / "demo_crm_contacts.yaml", folder / "good.yaml")
    (folder / "notes.txt").write_text("not a source")
    assert main(["lint", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert f"{folder / 'bad_mode.yaml'}: load.mode: expected one of" in out
    assert f"{folder / 'typo_key.yml'}: connector.cursr: unknown key 'cursr'" in out
    assert "3 file(s) checked, 2 invalid, 2 issue(s)" in err
    assert main(["lint", str(REPO / "include" / "sources")]) == 0
    assert "7 file(s) checked, 0 invalid" in capsys.readouterr().err
    assert main(["lint", str(tmp_path / "missing"), str(folder / "good.yaml")]) == 1
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'missing'}: no such file or folder" in out
    assert "1 file(s) checked, 0 invalid" in err


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
    state.set_state(engine, "demo_loyalty_members", cursor_state, run_id="r1")
    assert main(["state", "show", "demo_loyalty_members"]) == 0
    assert '"value": "2026-11-01T00:00:00"' in capsys.readouterr().out
    assert main(["state", "reset", "demo_loyalty_members", "--cursor", "2026-10-01T00:00:00", "--yes"]) == 0
    assert state.get_state(engine, "demo_loyalty_members")["cursor"]["value"] == "2026-10-01T00:00:00"
    assert state.get_state(engine, "demo_loyalty_members")["keys_at_cursor"] == []
    assert main(["state", "reset", "demo_loyalty_members", "--yes"]) == 0
    assert state.get_state(engine, "demo_loyalty_members") is None
    capsys.readouterr()
    assert main(["state", "show", "demo_loyalty_members"]) == 0
    assert "no state for 'demo_loyalty_members'" in capsys.readouterr().out
    db.reset_engines()


def test_state_reset_without_a_terminal_refuses_unless_yes(tmp_path: Path, monkeypatch, capsys) -> None:
    import io

    from headwater.store import db, state

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    db.reset_engines()
    engine = db.get_engine()
    state.set_state(engine, "demo_crm_contacts", {"files": {"a.csv": {"size": 1}}}, run_id="r1")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script or cron job: nobody to answer
    assert main(["state", "reset", "demo_crm_contacts"]) == 2
    assert "no terminal to ask on; add --yes" in capsys.readouterr().err
    assert state.get_state(engine, "demo_crm_contacts") is not None
    assert main(["state", "reset", "demo_crm_contacts", "--yes"]) == 0
    assert state.get_state(engine, "demo_crm_contacts") is None
    db.reset_engines()


def test_state_of_an_unknown_source_fails_with_did_you_mean(tmp_path: Path, monkeypatch, capsys) -> None:
    from headwater.store import db, state

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    db.reset_engines()
    for action in (["reset", "demo_crm_contact", "--yes"], ["show", "demo_crm_contact"]):
        assert main(["state", *action]) == 1
        assert "no source 'demo_crm_contact'; did you mean 'demo_crm_contacts'?" in capsys.readouterr().err
    assert main(["state", "reset", "zzz", "--yes"]) == 1
    assert "no source 'zzz'; sources: demo_crm_contacts, demo_loyalty_members" in capsys.readouterr().err
    # a known source without state is no error; state kept for a source whose file is gone is shown
    assert main(["state", "reset", "demo_crm_contacts", "--yes"]) == 0
    assert "nothing to reset" in capsys.readouterr().out
    state.set_state(db.get_engine(), "retired_source", {"files": {}}, run_id="r1")
    assert main(["state", "show", "retired_source"]) == 0
    db.reset_engines()


def test_cli_uses_the_airflow_home_of_make_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from headwater.local_airflow import airflow_home, cli_environment

    monkeypatch.delenv("HEADWATER_AIRFLOW_HOME", raising=False)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    assert airflow_home() == str(REPO / ".airflow")  # scripts/airflow-env.sh's default
    monkeypatch.setenv("AIRFLOW_HOME", "/opt/airflow")  # a container's
    assert airflow_home() == "/opt/airflow"
    monkeypatch.setenv("HEADWATER_AIRFLOW_HOME", "/tmp/hw-airflow")  # moves make run's home too
    assert airflow_home() == "/tmp/hw-airflow"
    monkeypatch.delenv("_AIRFLOW_PROCESS_CONTEXT", raising=False)
    with cli_environment():
        assert os.environ["AIRFLOW_HOME"] == "/tmp/hw-airflow"
        assert os.environ["_AIRFLOW_PROCESS_CONTEXT"] == "server"
    assert os.environ["AIRFLOW_HOME"] == "/opt/airflow" and "_AIRFLOW_PROCESS_CONTEXT" not in os.environ
