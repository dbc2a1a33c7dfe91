"""Audience files: every problem located (file, path, what is expected); broken files become
placeholder DAGs; the shipped demo audience builds; the committed JSON Schema matches the models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from headwater.activation.loader import audience_from, load_audiences
from headwater.config.json_schema import AUDIENCE_SCHEMA_PATH, audience_json_schema, render_audience
from headwater.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
HOOK = {"name": "hook", "type": "webhook", "conn_id": "c"}
BASE = {"condition": "marketing_opt_in", "destinations": [HOOK]}


def _issues(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        audience_from(Path("aud.yaml"), data)
    return [(i.loc, i.message) for i in caught.value.issues]


CASES = [
    pytest.param({**BASE, "condition": "country = "}, "condition",
                 "invalid expression: expected a value at position 10, found end of expression", id="syntax"),
    pytest.param({**BASE, "condition": "lowr(country) = 'gb'"}, "condition",
                 "invalid expression: unknown function 'lowr' at position 0; did you mean 'lower'?", id="unknown_function"),
    pytest.param({**BASE, "condition": "upper(country)"}, "condition",
                 "the condition must be true or false for a profile, but 'upper(country)' gives a string", id="not_boolean"),
    pytest.param({**BASE, "condition": "shoe_size > 40"}, "condition",
                 "'shoe_size' at position 0 is not an attribute of profile schema 'customer_profile' nor an identity "
                 "(identity_<namespace>); attributes: customer_id, anonymous_id, crm_id, loyalty_id, email, phone, first_name, last_name, "
                 "full_name, email_sha256, city, country, birth_date, signup_date, loyalty_tier, loyalty_points, "
                 "lifetime_value, marketing_opt_in, updated_at", id="unknown_attribute"),
    pytest.param({**BASE, "variables": [{"name": "n", "expr": "upper(to_date(first_name))"}]}, "variables[0].expr",
                 "invalid expression: type mismatch at position 6: argument 's' of 'upper' must be a string, got a date",
                 id="variable_type"),
    pytest.param({**BASE, "variables": [{"name": "n", "from": "first_name", "expr": "x"}]}, "variables[0]",
                 "give exactly one of 'from' and 'expr'", id="variable_from_and_expr"),
    pytest.param({**BASE, "destinations": [{**HOOK, "type": "webhok"}]}, "destinations[0].type",
                 "unknown type 'webhok'; valid types: 'webhook', 'sql_table', 'file_drop', 'customerio', 'ad_audience', "
                 "'salesforce_marketing_cloud'", id="unknown_destination_type"),
    pytest.param({**BASE, "destinations": [{**HOOK, "conn": "c"}]}, "destinations[0].conn",
                 "unknown key 'conn'; did you mean 'conn_id'?", id="typo_in_destination"),
    pytest.param({**BASE, "destinations": [{"name": "ads", "type": "ad_audience", "conn_id": "c", "audience_id": "1",
                                            "signals": ["add", "modify"]}]}, "destinations[0].signals",
                 "destination type 'ad_audience' does not support 'modify'; it supports: add, remove", id="unsupported_signal"),
    pytest.param({**BASE, "destinations": [{"name": "ads", "type": "ad_audience", "conn_id": "c", "audience_id": "1",
                                            "send_variables": True}]}, "destinations[0].send_variables",
                 "destination type 'ad_audience' does not take variables", id="unsupported_variables"),
    pytest.param({**BASE, "destinations": [{"name": "ads", "type": "ad_audience", "conn_id": "c", "audience_id": "1",
                                            "identity": "crm_id"}]}, "destinations[0].identity",
                 "'ad_audience' matches people by hashed email or phone, not 'crm_id'", id="hashed_identity"),
    pytest.param({**BASE, "destinations": [HOOK, HOOK]}, "destinations[1].name",
                 "destination 'hook' is defined twice", id="duplicate_destination"),
    pytest.param({**BASE, "destinations": []}, "destinations",
                 "list should have at least 1 item after validation, not 0", id="no_destination"),
    pytest.param({**BASE, "schedule": {"cron": "@daily", "sources": ["crm"]}}, "schedule",
                 "choose one of cron, interval, assets or sources", id="schedule_two_triggers"),
]


@pytest.mark.parametrize(("data", "loc", "message"), CASES)
def test_invalid_audience_names_the_path(data: dict, loc: str, message: str) -> None:
    assert (loc, message) in _issues(data)


def test_unknown_source_in_schedule() -> None:
    with pytest.raises(ConfigError) as caught:
        audience_from(Path("aud.yaml"), {**BASE, "schedule": {"sources": ["crmm"]}}, sources={"crm"})
    assert [(i.loc, i.message) for i in caught.value.issues] == [("schedule.sources[0]", "no source 'crmm'; sources: crm")]


def test_every_issue_at_once() -> None:
    issues = _issues({"condition": "nope(", "destinations": [{"name": "x", "type": "webhook"}], "extra": 1})
    assert {loc for loc, _ in issues} == {"condition", "destinations[0].conn_id", "extra"}


def test_broken_audience_file_becomes_a_placeholder_dag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.dag_builder import INVALID_TAG, build_all

    folder = tmp_path / "audiences"
    folder.mkdir()
    (folder / "good.yaml").write_text(yaml.safe_dump(BASE))
    (folder / "bad.yaml").write_text(yaml.safe_dump({**BASE, "condition": "1 +"}))
    (folder / "junk.yaml").write_text("condition: [unclosed\n")
    monkeypatch.setenv("HEADWATER_AUDIENCES_DIR", str(folder))
    dags = build_all()
    assert [t.task_id for t in dags["audience_good"].tasks] == ["connect", "select", "map", "validate", "deliver", "monitor"]
    for dag_id in ("audience_bad", "audience_junk"):
        assert INVALID_TAG in dags[dag_id].tags
        assert [t.task_id for t in dags[dag_id].tasks] == ["invalid_audience_file"]
    message = dags["audience_bad"].get_task("invalid_audience_file").message
    assert f"{folder / 'bad.yaml'}: condition: invalid expression: expected a value at position 3" in message
    assert "demo_crm_contacts" in dags  # the sources are untouched


def test_shipped_demo_audience_builds() -> None:
    loaded = load_audiences(REPO / "include" / "audiences", sources={"demo_crm_contacts", "demo_loyalty_members"})
    assert loaded.errors == {}
    assert [a.dag_id for a in loaded.audiences] == ["audience_demo_gold_members"]
    for audience in loaded.audiences:
        data = json.loads(json.dumps(yaml.safe_load(Path(audience.path).read_text()), default=str))  # dates as YAML text
        jsonschema.validate(data, audience_json_schema())


def test_committed_audience_schema_matches_the_models() -> None:
    assert AUDIENCE_SCHEMA_PATH.read_text() == render_audience(), "run `headwater schema`"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**BASE, "destinations": [{**HOOK, "type": "nope"}]}, json.loads(render_audience()))
