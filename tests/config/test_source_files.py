"""The source-file contract: every invalid fixture gives the exact, located message a person needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.config.loader import load_source, load_sources
from headwater.errors import ConfigError

HERE = Path(__file__).parent
INVALID = HERE / "invalid_sources"
SHIPPED = HERE.parents[1] / "include" / "sources"

# (fixture file, location inside the file, exact message)
CASES = [
    pytest.param("unknown_connector_type", "connector.type", "unknown type 'oracle'; valid types: 'local_files', 's3', 'gcs', 'azure_blob', 'sftp', 'sqlite', 'postgres', 'mysql'", id="unknown_connector_type"),
    pytest.param("missing_type", "connector", "'type' is missing; valid types: 'local_files', 's3', 'gcs', 'azure_blob', 'sftp', 'sqlite', 'postgres', 'mysql'", id="missing_type"),
    pytest.param("typo_key", "connector.cursr", "unknown key 'cursr'; did you mean 'cursor'?", id="typo_key"),
    pytest.param("unknown_top_key", "schedul", "unknown key 'schedul'; did you mean 'schedule'?", id="unknown_top_key"),
    pytest.param("cursor_not_selected", "connector.cursor", "cursor column 'modified' is not selected; add it to connector.columns", id="cursor_not_selected"),
    pytest.param("missing_conn", "connector.conn_id", "required key 'conn_id' is missing", id="missing_conn_id"),
    pytest.param("table_and_query", "connector", "set exactly one of `table` or `query` (not both)", id="table_and_query"),
    pytest.param("write_query", "connector.query", "query must be a single read-only SELECT or WITH statement; it starts with DELETE", id="write_query"),
    pytest.param("bad_cron", "schedule", "invalid cron expression '61 * * * *' (expected 5 fields: minute hour day month weekday)", id="bad_cron"),
    pytest.param("cron_and_interval", "schedule", "choose one of cron, interval or assets, not cron and interval", id="cron_and_interval"),
    pytest.param("bad_interval", "schedule.interval", "expected a duration like '30s', '15m', '6h', '1d' or '2w', got 'soon'", id="bad_interval"),
    pytest.param("bad_preset", "schedule", "unknown preset '@fortnightly'; valid presets: @once, @hourly, @daily, @weekly, @monthly, @yearly", id="bad_preset"),
    pytest.param("unknown_target_field", "mapping.fields[3].to", "'shoe_size' is not a field of target schema 'customer_profile'; fields: customer_id, crm_id, loyalty_id, email, phone, first_name, last_name, full_name, email_sha256, city, country, birth_date, signup_date, loyalty_tier, loyalty_points, lifetime_value, marketing_opt_in, updated_at", id="unknown_target_field"),
    pytest.param("unknown_target_schema", "mapping.target", "target schema 'customers' not found; available schemas: customer_profile, event", id="unknown_target_schema"),
    pytest.param("bad_expression", "mapping.fields[3].expr", "unknown function 'lowr' at position 7; did you mean 'lower'?", id="bad_expression"),
    pytest.param("unknown_source_column", "mapping.fields[3].from", "column 'fname' is not in the source; available columns: id, email, updated_at", id="unknown_source_column"),
    pytest.param("expectation_unknown_column", "validate.expectations[1].column", "expectation on unknown column 'mail'; mapped columns: birth_date, city, country, crm_id, customer_id, email, email_sha256, first_name, full_name, last_name, lifetime_value, loyalty_id, loyalty_points, loyalty_tier, marketing_opt_in, phone, signup_date, updated_at", id="expectation_unknown_column"),
    pytest.param("unknown_expectation", "validate.expectations[1].type", "unknown expectation type 'expect_column_to_be_nice'; did you mean expect_column_to_exist, expect_column_values_to_be_unique, expect_column_type_to_be?", id="unknown_expectation"),
    pytest.param("bad_ratio", "validate.max_error_ratio", "input should be less than or equal to 1, got 1.5", id="bad_ratio"),
    pytest.param("bad_mode", "load.mode", "expected one of 'append' or 'merge', got 'upsert'", id="bad_load_mode"),
    pytest.param("bad_format", "connector.format", "expected one of 'csv', 'jsonl', 'json' or 'parquet', got 'xls'", id="bad_file_format"),
    pytest.param("merge_without_key", "load.primary_key", "merge needs a primary key: set load.primary_key or mapping.record_key", id="merge_without_key"),
    pytest.param("partition_unknown", "load.partition_by[0]", "'region' is not a field of the target schema", id="partition_unknown"),
    pytest.param("alert_yaml_on", "monitor.alerts[0]", "`on` is read by YAML as the boolean true; name the key `events`", id="alert_yaml_on"),
    pytest.param("alert_bad_event", "monitor.alerts[0].events[0]", "expected one of 'failure', 'no_data', 'threshold_exceeded' or 'success', got 'crash'", id="alert_bad_event"),
    pytest.param("deleted_not_boolean", "mapping.deleted", "deleted 'email' must be a boolean field, it is string", id="deleted_not_boolean"),
    pytest.param("yaml_syntax", "line 4, column 1", "invalid YAML: did not find expected ',' or ']'", id="yaml_syntax"),
    pytest.param("empty", "", "expected a mapping of sections (connector, mapping, ...), got an empty file", id="empty_file"),
]


@pytest.mark.parametrize(("name", "loc", "message"), CASES)
def test_invalid_source_reports_location_and_message(name: str, loc: str, message: str) -> None:
    path = INVALID / f"{name}.yaml"
    with pytest.raises(ConfigError) as raised:
        load_source(path)
    found = [(issue.file, issue.loc, issue.message) for issue in raised.value.issues]
    assert (str(path), loc, message) in found, found


def test_every_invalid_fixture_is_in_the_table() -> None:
    covered = {case.values[0] for case in CASES}
    assert {p.stem for p in INVALID.glob("*.yaml")} == covered


def test_all_errors_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    text = (HERE / "valid_base.yaml").read_text()
    text = text.replace("type: postgres", "type: postgres\n  chunk_size: 0").replace("target: customer_profile", "target: customer_profile\n  colour: blue")
    path = tmp_path / "two_problems.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_source(path)
    locs = {issue.loc for issue in raised.value.issues}
    assert {"connector.chunk_size", "mapping.colour"} <= locs
    assert str(path) in str(raised.value)


def test_valid_base_loads_and_defaults_dag_id_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "crm_customers.yaml"
    path.write_text((HERE / "valid_base.yaml").read_text())
    source = load_source(path)
    assert source.dag_id == "crm_customers"
    assert source.lake_table == "crm_customers"
    assert source.config.validate_.max_error_ratio == 0.05


def test_every_shipped_source_is_valid() -> None:
    loaded = load_sources(SHIPPED)
    assert loaded.errors == {}
    assert {s.dag_id for s in loaded.sources} >= {"demo_crm_contacts", "demo_purchase_events", "demo_loyalty_members"}


def test_broken_file_does_not_hide_the_others(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text((HERE / "valid_base.yaml").read_text())
    (tmp_path / "bad.yaml").write_text((INVALID / "typo_key.yaml").read_text())
    loaded = load_sources(tmp_path)
    assert [s.dag_id for s in loaded.sources] == ["good"]
    assert list(loaded.errors) == [str(tmp_path / "bad.yaml")]


def test_duplicate_dag_id_is_reported(tmp_path: Path) -> None:
    text = "dag_id: same\n" + (HERE / "valid_base.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    loaded = load_sources(tmp_path)
    assert [s.dag_id for s in loaded.sources] == ["same"]
    [issue] = loaded.errors[str(tmp_path / "b.yaml")]
    assert issue.message == f"DAG id 'same' is already used by {tmp_path / 'a.yaml'}"
