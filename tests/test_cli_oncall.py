"""The on-call commands of `headwater`: `runs` (run history) and `new` (a source file to start from)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from headwater.cli import main
from headwater.config.json_schema import SCHEMA_PATH
from headwater.connectors.registry import REGISTRY


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh SQLite metadata store under a temporary HEADWATER_HOME."""
    from headwater.store import db

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    db.reset_engines()
    yield db.get_engine()
    db.reset_engines()


def test_runs_lists_history_most_recent_first(store, capsys: pytest.CaptureFixture[str]) -> None:
    from headwater.store import runs

    start = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    runs.record_run(store, runs.RunRecord(
        source="demo_loyalty_members", run_id="run_old", status="failed", started_at=start,
        ended_at=start.replace(second=30), errors_by_code={"bad_email": 7, "null_key": 2},
    ))
    runs.record_run(store, runs.RunRecord(
        source="demo_loyalty_members", run_id="run_new", status="success", rows_read=61, rows_mapped=60,
        rows_quarantined=3, rows_loaded=58, api_calls=4, watermark_before="2026-10-31", watermark_after="2026-11-01",
        started_at=start.replace(hour=7), ended_at=start.replace(hour=7, minute=2),
    ))
    runs.record_run(store, runs.RunRecord(source="demo_crm_contacts", run_id="other", status="success", started_at=start))
    assert main(["runs", "demo_loyalty_members"]) == 0
    out = capsys.readouterr().out
    assert out.index("run_new") < out.index("run_old") and "other" not in out
    [new] = [line for line in out.splitlines() if "run_new" in line]
    for text in ("success", "2026-11-01 07:00:00", "120.0s", "61", "60", "3", "58", "4", "2026-10-31 → 2026-11-01"):
        assert text in new, text
    [old] = [line for line in out.splitlines() if "run_old" in line]
    assert "failed" in old and "30.0s" in old and "bad_email×7, null_key×2" in old

    assert main(["runs", "demo_loyalty_members", "--limit", "1", "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["run_id"] == "run_new" and record["rows_loaded"] == 58 and record["watermark_after"] == "2026-11-01"


def test_runs_of_a_known_source_without_runs_and_of_a_retired_source(store, capsys) -> None:
    from headwater.store import runs

    assert main(["runs", "demo_crm_contacts"]) == 0
    assert "no runs recorded for 'demo_crm_contacts'" in capsys.readouterr().out
    assert main(["runs", "demo_crm_contacts", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    runs.record_run(store, runs.RunRecord(source="retired_source", run_id="r9", status="success"))
    assert main(["runs", "retired_source"]) == 0  # its file is gone, its history is not
    assert "r9" in capsys.readouterr().out


def test_runs_of_an_unknown_source_exits_2_with_close_names(store, capsys) -> None:
    assert main(["runs", "demo_crm_contact"]) == 2
    assert "no source 'demo_crm_contact'; did you mean 'demo_crm_contacts'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["runs", "demo_crm_contacts", "--limit", "0"])


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_new_writes_a_source_that_lints_and_matches_the_schema(type_name: str, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "sources"
    assert main(["new", type_name, f"my_{type_name}", "--dir", str(folder)]) == 0
    path = folder / f"my_{type_name}.yaml"
    text = path.read_text()
    assert f"type: {type_name}" in text and "CHANGE_ME" in text
    capsys.readouterr()
    assert main(["lint", str(path)]) == 0, capsys.readouterr().out
    data = json.loads(json.dumps(yaml.safe_load(text), default=str))
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    assert not [e.message for e in validator.iter_errors(data)]
    # a comment per described field of the type's config model, taken from the model
    model = REGISTRY[type_name].config_model
    for name, info in model.model_fields.items():
        if info.description and name != "type":
            assert " ".join(info.description.split()) in text, name


def test_new_refuses_to_overwrite_unknown_types_and_bad_names(tmp_path: Path, capsys) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text("# mine\n")
    assert main(["new", "postgres", "crm", "--dir", str(tmp_path)]) == 1
    assert "exists; add --force" in capsys.readouterr().err
    assert path.read_text() == "# mine\n"
    assert main(["new", "postgres", "crm", "--dir", str(tmp_path), "--force"]) == 0
    assert "type: postgres" in path.read_text()
    assert main(["new", "postgress", "x", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown connector type 'postgress'" in err and "postgres" in err and "http_api" in err
    assert main(["new", "postgres", "a/b", "--dir", str(tmp_path)]) == 2
    assert not (tmp_path / "a").exists()


def test_state_set_moves_the_cursor_after_confirmation(store, monkeypatch, capsys) -> None:
    import io

    from headwater.store import state

    cursor_state = {"cursor": {"column": "updated_at", "type": "timestamp", "value": "2026-11-01T00:00:00"}, "keys_at_cursor": [[1]]}
    state.set_state(store, "demo_loyalty_members", cursor_state, run_id="r1")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script: nobody to answer
    assert main(["state", "set", "demo_loyalty_members", "--cursor", "2026-10-01T00:00:00"]) == 2
    assert "no terminal to ask on; add --yes" in capsys.readouterr().err
    assert state.get_state(store, "demo_loyalty_members") == cursor_state

    class Terminal(io.StringIO):  # someone at a terminal who answers the question
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["state", "set", "demo_loyalty_members", "--cursor", "2026-10-01T00:00:00"]) == 1
    assert state.get_state(store, "demo_loyalty_members") == cursor_state
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["state", "set", "demo_loyalty_members", "--cursor", "2026-10-01T00:00:00"]) == 0
    moved = state.get_state(store, "demo_loyalty_members")
    assert moved["cursor"] == {**cursor_state["cursor"], "value": "2026-10-01T00:00:00"}
    assert moved["keys_at_cursor"] == []


def test_state_set_refusals(store, capsys) -> None:
    from headwater.store import state

    with pytest.raises(SystemExit):  # --cursor is what `set` sets
        main(["state", "set", "demo_loyalty_members", "--yes"])
    capsys.readouterr()
    assert main(["state", "set", "demo_loyalty_members", "--cursor", "5", "--yes"]) == 2
    assert "set `connector.cursor.initial_value`" in capsys.readouterr().err
    state.set_state(store, "demo_crm_contacts", {"files": {"a.csv": {"size": 1}}}, run_id="r1")
    assert main(["state", "set", "demo_crm_contacts", "--cursor", "5", "--yes"]) == 2
    assert "is not a cursor source" in capsys.readouterr().err
    assert state.get_state(store, "demo_crm_contacts") == {"files": {"a.csv": {"size": 1}}}
    assert main(["state", "set", "demo_crm_contact", "--cursor", "5", "--yes"]) == 1
    assert "did you mean 'demo_crm_contacts'?" in capsys.readouterr().err
