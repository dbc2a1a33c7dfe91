"""The source-file contract: every file of the bad-config corpus gives the exact, located message a
person needs, read together as the DAG file reads a folder, and from `headwater lint` as a user runs it."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from headwater.config.loader import LoadedSources, load_source, load_sources
from headwater.errors import ConfigError

from .corpus import OWNERS, write_corpus

HERE = Path(__file__).parent
REPO = HERE.parents[1]
INVALID = HERE / "invalid_sources"
SHIPPED = HERE.parents[1] / "include" / "sources"

# (fixture file, location inside the file, exact message)
CASES = [
    pytest.param("unknown_connector_type", "connector.type", "unknown type 'oracle'; valid types: 'local_files', 's3', 'gcs', 'azure_blob', 'sftp', 'sqlite', 'postgres', 'mysql', 'mssql', 'redshift', 'bigquery', 'http_api', 'dynamics', 'salesforce_marketing_cloud', 'salesforce', 'http_inlet'", id="unknown_connector_type"),
    pytest.param("missing_type", "connector", "'type' is missing; valid types: 'local_files', 's3', 'gcs', 'azure_blob', 'sftp', 'sqlite', 'postgres', 'mysql', 'mssql', 'redshift', 'bigquery', 'http_api', 'dynamics', 'salesforce_marketing_cloud', 'salesforce', 'http_inlet'", id="missing_type"),
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
    pytest.param("unknown_target_field", "mapping.fields[3].to", "'shoe_size' is not a field of target schema 'customer_profile'; fields: customer_id, anonymous_id, crm_id, loyalty_id, email, phone, first_name, last_name, full_name, email_sha256, city, country, birth_date, signup_date, loyalty_tier, loyalty_points, lifetime_value, marketing_opt_in, updated_at", id="unknown_target_field"),
    pytest.param("unknown_target_schema", "mapping.target", "target schema 'customers' not found; available schemas: customer_profile, event", id="unknown_target_schema"),
    pytest.param("bad_expression", "mapping.fields[3].expr", "unknown function 'lowr' at position 7; did you mean 'lower'?", id="bad_expression"),
    pytest.param("unknown_source_column", "mapping.fields[3].from", "column 'fname' is not in the source; available columns: id, email, updated_at", id="unknown_source_column"),
    pytest.param("expectation_unknown_column", "validate.expectations[1].column", "expectation on unknown column 'mail'; mapped columns: anonymous_id, birth_date, city, country, crm_id, customer_id, email, email_sha256, first_name, full_name, last_name, lifetime_value, loyalty_id, loyalty_points, loyalty_tier, marketing_opt_in, phone, signup_date, updated_at", id="expectation_unknown_column"),
    pytest.param("unknown_expectation", "validate.expectations[1].type", "unknown expectation type 'expect_column_to_be_nice'; did you mean expect_column_to_exist, expect_column_values_to_be_unique, expect_column_type_to_be?", id="unknown_expectation"),
    pytest.param("bad_ratio", "validate.max_error_ratio", "input should be less than or equal to 1, got 1.5", id="bad_ratio"),
    pytest.param("bad_mode", "load.mode", "expected one of 'append' or 'merge', got 'upsert'", id="bad_load_mode"),
    pytest.param("bad_format", "connector.format", "expected one of 'csv', 'jsonl', 'json' or 'parquet', got 'xls'", id="bad_file_format"),
    pytest.param("merge_without_key", "load.primary_key", "merge needs a primary key: set load.primary_key or mapping.record_key", id="merge_without_key"),
    pytest.param("partition_unknown", "load.partition_by[0]", "'region' is not a field of the target schema", id="partition_unknown"),
    pytest.param("alert_yaml_on", "monitor.alerts[0]", "`on` is read by YAML as the boolean true; name the key `events`", id="alert_yaml_on"),
    pytest.param("alert_bad_event", "monitor.alerts[0].events[0]", "expected one of 'failure', 'no_data', 'threshold_exceeded', 'success', 'late', 'stale', 'repeated_failures' or 'recovered', got 'crash'", id="alert_bad_event"),
    pytest.param("deleted_not_boolean", "mapping.deleted", "deleted 'email' must be a boolean field, it is string", id="deleted_not_boolean"),
    pytest.param("yaml_syntax", "line 4, column 1", "invalid YAML: did not find expected ',' or ']'", id="yaml_syntax"),
    pytest.param("empty", "", "expected a mapping of sections (connector, mapping, ...), got an empty file", id="empty_file"),
    # --- issue 8, item 2: bounded parsing (one named error per file, nothing stalls or crashes) ---
    pytest.param("deep_nesting", "line 19, column 72", "nested deeper than 64 levels; a source file may nest at most 64", id="deep_nesting"),
    pytest.param("alias_bomb", "line 26, column 31", "more than 50,000 YAML nodes (aliases counted as what they expand to); a source file describes one source", id="alias_bomb_in_expectation"),
    pytest.param("too_many_aliases", "line 120, column 59", "more than 100 aliases (*name); write the values out", id="too_many_aliases"),
    pytest.param("recursive_alias", "line 1, column 19", "alias *loop is inside its own anchor (a recursive structure)", id="recursive_alias"),
    pytest.param("unknown_keys_100k", "line 24988, column 1", "more than 50,000 YAML nodes (aliases counted as what they expand to); a source file describes one source", id="unknown_keys_100k"),
    pytest.param("unknown_keys_2k", "", "… and 1,950 more issue(s)", id="issues_capped"),
    pytest.param("too_large", "", "the file is larger than 1,048,576 bytes, the limit of a source file", id="too_large"),
    pytest.param("fifo", "", "not a regular file", id="fifo_not_a_file"),
    pytest.param("bad_date", "", "cannot load this file (ValueError: day is out of range for month)", id="last_line_of_defence"),
    pytest.param("not_utf8", "", "cannot read file: 'utf-8' codec can't decode byte 0xe9 in position 17: invalid continuation byte", id="not_utf8"),
    pytest.param("multiple_documents", "line 19, column 1", "invalid YAML: expected a single document in the stream, but found another document", id="multiple_documents"),
    pytest.param("python_tag", "line 1, column 14", "invalid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'", id="python_tag"),
    # --- item 3: config that would silently do something else ---
    pytest.param("duplicate_section", "line 19, column 1", "duplicate key 'connector' (first at line 1, column 1); YAML would silently keep only the last one", id="duplicate_section"),
    pytest.param("duplicate_from", "line 11, column 35", "duplicate key 'from' (first at line 11, column 25); YAML would silently keep only the last one", id="duplicate_from"),
    pytest.param("expectation_misspelt_arg", "validate.expectations[1].regx", "unknown argument 'regx' of expect_column_values_to_match_regex; did you mean 'regex'?", id="expectation_misspelt_arg"),
    pytest.param("expectation_unknown_arg", "validate.expectations[1].window", "unknown argument 'window' of expect_column_values_to_be_unique; valid arguments: column, condition_parser, mostly, row_condition, meta, notes, description", id="expectation_unknown_arg"),
    # conflicts between files: the file named after a DAG id owns it, a source whose lake table is its default owns that table
    pytest.param("conflict_hijacker", "dag_id", "DAG id 'conflict_owner' belongs to {dir}/conflict_owner.yaml, the file named after it; choose another dag_id for this file", id="dag_id_hijack"),
    pytest.param("broken_hijacker", "dag_id", "DAG id 'conflict_owner' belongs to {dir}/conflict_owner.yaml, the file named after it; choose another dag_id for this file", id="broken_dag_id_hijack"),
    pytest.param("conflict_id_a", "dag_id", "DAG id 'shared_dag' is also claimed by {dir}/conflict_id_b.yaml; no file is named shared_dag.yaml, so none of them gets the DAG: change all but one dag_id", id="dag_id_conflict_a"),
    pytest.param("conflict_id_b", "dag_id", "DAG id 'shared_dag' is also claimed by {dir}/conflict_id_a.yaml; no file is named shared_dag.yaml, so none of them gets the DAG: change all but one dag_id", id="dag_id_conflict_b"),
    pytest.param("table_hijacker", "load.table", "lake table 'table_owner' is written by {dir}/table_owner.yaml (its default table); choose another load.table", id="lake_table_hijack"),
    pytest.param("table_a", "load.table", "lake table 'shared_table' is also written by {dir}/table_b.yaml; give each source its own load.table", id="lake_table_conflict_a"),
    pytest.param("table_b", "load.table", "lake table 'shared_table' is also written by {dir}/table_a.yaml; give each source its own load.table", id="lake_table_conflict_b"),
]


# the files a conflict case needs beside it (lint sees conflicts only between the files it is given)
PARTNERS = {
    "conflict_hijacker": ["conflict_owner"],
    "broken_hijacker": ["conflict_owner"],
    "conflict_id_a": ["conflict_id_b"],
    "conflict_id_b": ["conflict_id_a"],
    "table_hijacker": ["table_owner"],
    "table_a": ["table_b"],
    "table_b": ["table_a"],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "sources")[0].parent


@pytest.fixture(scope="module")
def loaded_corpus(corpus: Path) -> LoadedSources:
    """The whole corpus read together, as the DAG file reads a sources folder."""
    return load_sources(corpus)


@pytest.mark.parametrize(("name", "loc", "message"), CASES)
def test_invalid_source_reports_location_and_message(
    name: str, loc: str, message: str, corpus: Path, loaded_corpus: LoadedSources
) -> None:
    path = corpus / f"{name}.yaml"
    found = [(issue.file, issue.loc, issue.message) for issue in loaded_corpus.errors[str(path)]]
    assert (str(path), loc, message.format(dir=corpus)) in found, found


@pytest.fixture(scope="module")
def lint_runs(corpus: Path) -> dict[str, subprocess.CompletedProcess]:
    """`headwater lint FILE [partners]` for every case, as a user runs it (a subprocess each, 4 at a time)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}

    def lint(name: str) -> subprocess.CompletedProcess:
        files = [str(corpus / f"{n}.yaml") for n in (name, *PARTNERS.get(name, []))]
        return subprocess.run(
            [str(REPO / ".venv" / "bin" / "headwater"), "lint", *files],
            env=env, capture_output=True, text=True, timeout=300,
        )

    names = [case.values[0] for case in CASES]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(names, pool.map(lint, names), strict=True))


@pytest.mark.parametrize(("name", "loc", "message"), CASES)
def test_lint_exits_non_zero_naming_file_and_location(
    name: str, loc: str, message: str, corpus: Path, lint_runs: dict[str, subprocess.CompletedProcess]
) -> None:
    run = lint_runs[name]
    assert run.returncode == 1, run.stdout + run.stderr
    expected = f"{corpus / name}.yaml: {loc}: " if loc else f"{corpus / name}.yaml: "
    assert expected + message.format(dir=corpus) in run.stdout.splitlines(), run.stdout[-3000:]


def test_every_corpus_file_is_in_the_table(corpus: Path) -> None:
    covered = {case.values[0] for case in CASES}
    assert {p.stem for p in corpus.glob("*.yaml")} == covered | set(OWNERS)
    assert len(covered) >= 40


def test_owners_keep_their_dag_and_table(loaded_corpus: LoadedSources) -> None:
    assert sorted(s.dag_id for s in loaded_corpus.sources) == sorted(OWNERS)


def test_every_invalid_file_has_a_placeholder(corpus: Path, loaded_corpus: LoadedSources) -> None:
    """Each file under its own name, except the two that claim one id with no owner: they share it."""
    ids = {Path(f).stem: loaded_corpus.placeholder_of(f).dag_id for f in loaded_corpus.errors}
    expected = {name: name for name in ids} | {"conflict_id_a": "shared_dag", "conflict_id_b": "shared_dag"}
    assert ids == expected
    assert loaded_corpus.placeholders["shared_dag"].files == [str(corpus / "conflict_id_a.yaml"), str(corpus / "conflict_id_b.yaml")]
    assert loaded_corpus.placeholders["shared_dag"].schedule is None


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


def test_a_new_file_cannot_take_over_a_dag_id(tmp_path: Path) -> None:
    """Before: whichever file sorted first kept the DAG, so a new `a.yaml` declaring `dag_id: crm`
    took `crm.yaml`'s DAG over and `crm.yaml` was reported as the duplicate."""
    text = (HERE / "valid_base.yaml").read_text()
    (tmp_path / "crm.yaml").write_text(text)
    (tmp_path / "a.yaml").write_text("dag_id: crm\n" + text)
    loaded = load_sources(tmp_path)
    assert [(s.dag_id, s.path) for s in loaded.sources] == [("crm", str(tmp_path / "crm.yaml"))]
    [issue] = loaded.errors[str(tmp_path / "a.yaml")]
    assert issue.message == f"DAG id 'crm' belongs to {tmp_path / 'crm.yaml'}, the file named after it; choose another dag_id for this file"
    assert loaded.placeholder_of(str(tmp_path / "a.yaml")).dag_id == "a"


def test_anchors_and_merge_keys_within_the_limits_are_allowed(tmp_path: Path) -> None:
    """Aliases are allowed (within the node and alias budgets); a `<<:` merge is not a duplicate key."""
    text = (HERE / "valid_base.yaml").read_text().replace(
        "    - {to: customer_id, from: id}",
        "    - &field {to: customer_id, from: id}\n    - {<<: *field, to: crm_id}",
    )
    path = tmp_path / "anchors.yaml"
    text += "    - {type: expect_column_values_to_be_unique, column: &col email}\n"
    text += "    - {type: expect_column_values_to_not_be_null, column: *col}\n" * 98  # 99 aliases in all
    path.write_text(text)
    source = load_source(path)
    assert [f.to for f in source.config.mapping.fields][:2] == ["customer_id", "crm_id"]
    assert source.config.mapping.fields[1].from_ == "id"
    assert len(source.config.validate_.expectations) == 100
