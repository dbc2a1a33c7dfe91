"""Connector config models and the registry: every invalid case pins its exact message."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from headwater.connectors import models
from headwater.connectors.models import Connector, LocalFilesConnector, PostgresConnector, SqliteConnector
from headwater.connectors.registry import REGISTRY, UnknownConnectorType, get_spec, load_hook

ADAPTER = TypeAdapter(Connector)


def issues(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in info.value.errors()]


PG = {"type": "postgres", "conn_id": "crm_pg"}

INVALID = [
    pytest.param(
        {**PG, "query": "DELETE FROM contacts"},
        "postgres.query",
        "Value error, query must be a single read-only SELECT or WITH statement; it starts with DELETE",
        id="delete_query",
    ),
    pytest.param(
        {**PG, "query": "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"},
        "postgres.query",
        "Value error, query must be read-only; it contains DELETE",
        id="data_modifying_cte",
    ),
    pytest.param(
        {**PG, "query": "SELECT 1; DROP TABLE t"},
        "postgres.query",
        "Value error, query must be a single statement; remove the ';' and what follows it",
        id="two_statements",
    ),
    pytest.param(
        {**PG, "query": "SELECT * INTO copy_t FROM t"},
        "postgres.query",
        "Value error, query must be read-only; it contains INTO",
        id="select_into",
    ),
    pytest.param(
        {**PG, "query": "SELECT * FROM t FOR UPDATE"},
        "postgres.query",
        "Value error, query must be read-only; it contains UPDATE",
        id="for_update",
    ),
    pytest.param({**PG, "query": " ; "}, "postgres.query", "Value error, query is empty", id="empty_query"),
    pytest.param(
        dict(PG),
        "postgres",
        "Value error, set exactly one of `table` or `query` (one is required)",
        id="no_selection",
    ),
    pytest.param(
        {**PG, "table": "t", "query": "SELECT 1"},
        "postgres",
        "Value error, set exactly one of `table` or `query` (not both)",
        id="table_and_query",
    ),
    pytest.param(
        {"type": "postgres", "table": "t"}, "postgres.conn_id", "Field required", id="pg_conn_id_required"
    ),
    pytest.param(
        {"type": "mysql", "table": "t"}, "mysql.conn_id", "Field required", id="mysql_conn_id_required"
    ),
    pytest.param(
        {**PG, "table": "t", "columns": ["id"], "cursor": {"column": "updated_at"}},
        "postgres",
        "Value error, cursor column 'updated_at' is not selected; add it to connector.columns",
        id="cursor_not_selected",
    ),
    pytest.param(
        {**PG, "table": "t", "columns": ["updated_at"], "primary_key": "id"},
        "postgres",
        "Value error, primary key column 'id' is not selected; add it to connector.columns",
        id="key_not_selected",
    ),
    pytest.param(
        {**PG, "table": "a.b.c"},
        "postgres.table",
        "Value error, table must be `name` or `schema.name`, got 'a.b.c'",
        id="three_part_table",
    ),
    pytest.param(
        {**PG, "table": "t", "chunk_size": 0},
        "postgres.chunk_size",
        "Input should be greater than 0",
        id="chunk_size_zero",
    ),
    pytest.param(
        {**PG, "table": "t", "colums": ["id"]},
        "postgres.colums",
        "Extra inputs are not permitted",
        id="typo_key",
    ),
    pytest.param(
        {"type": "sqlite", "table": "t"},
        "sqlite",
        "Value error, set exactly one of `conn_id` (an Airflow sqlite connection) or `database` (a file path)",
        id="sqlite_no_location",
    ),
    pytest.param(
        {"type": "sqlite", "table": "t", "conn_id": "x", "database": "x.db"},
        "sqlite",
        "Value error, set exactly one of `conn_id` (an Airflow sqlite connection) or `database` (a file path)",
        id="sqlite_two_locations",
    ),
    pytest.param(
        {"type": "mongo", "conn_id": "x"},
        "",
        "Input tag 'mongo' found using 'type' does not match any of the expected tags: "
        "'local_files', 's3', 'gcs', 'azure_blob', 'sftp', 'sqlite', 'postgres', 'mysql', 'mssql', 'redshift', 'bigquery', 'http_api', 'dynamics', 'salesforce_marketing_cloud', 'salesforce', 'http_inlet'",
        id="unknown_type",
    ),
    pytest.param(
        {"type": "local_files", "path": "x/*.csv", "csv": {"header": False}},
        "local_files.csv",
        "Value error, csv.column_names is required when csv.header is false",
        id="csv_no_header_no_names",
    ),
    pytest.param(
        {"type": "local_files", "path": "x/*.csv", "csv": {"encoding": "nope"}},
        "local_files.csv.encoding",
        "Value error, unknown encoding 'nope' (e.g. utf-8, latin-1, cp1252)",
        id="csv_bad_encoding",
    ),
    pytest.param(
        {"type": "local_files", "path": "x/*.xml", "format": "xml"},
        "local_files.format",
        "Input should be 'csv', 'jsonl', 'json' or 'parquet'",
        id="bad_format",
    ),
    pytest.param(
        {"type": "local_files", "path": "x.csv", "csv": {"delimiter": ";;"}},
        "local_files.csv.delimiter",
        "String should have at most 1 character",
        id="long_delimiter",
    ),
]


@pytest.mark.parametrize(("data", "loc", "message"), INVALID)
def test_invalid_config_messages(data, loc, message):
    assert issues(data) == [(loc, message)]


def test_read_only_query_accepted_and_trailing_semicolon_dropped():
    query = "WITH recent AS (SELECT * FROM t)\nSELECT id, replace(name, ';', ',') AS \"update\" FROM recent -- note;\n;"
    config = ADAPTER.validate_python({**PG, "query": query})
    assert isinstance(config, PostgresConnector)
    assert config.query == query.strip().rstrip(";").strip()


def test_defaults_and_primary_key_string():
    config = ADAPTER.validate_python({**PG, "table": "public.contacts", "primary_key": "id"})
    assert config.primary_key == ["id"]
    assert config.chunk_size == 50_000
    assert config.cursor is None and config.columns is None


def test_cursor_initial_value_keeps_type():
    config = ADAPTER.validate_python({**PG, "table": "t", "cursor": {"column": "id", "initial_value": 100}})
    assert config.cursor.initial_value == 100


def test_local_files_defaults(include_dir):
    config = ADAPTER.validate_python({"type": "local_files", "path": "demo/*.csv"})
    assert isinstance(config, LocalFilesConnector)
    assert (config.format, config.compression, config.incremental, config.chunk_size) == (
        None,
        "auto",
        True,
        100_000,
    )
    assert config.csv.delimiter == "," and config.csv.header is True
    assert config.resolved_pattern() == include_dir / "demo/*.csv"


def test_sqlite_database_resolves_against_include_dir(include_dir):
    config = ADAPTER.validate_python({"type": "sqlite", "database": "db/crm.db", "table": "t"})
    assert isinstance(config, SqliteConnector)
    assert config.database_path() == include_dir / "db/crm.db"


def test_registry_covers_exactly_the_union():
    literals = {get_args(m.model_fields["type"].annotation)[0] for m in get_args(get_args(Connector)[0])}
    assert set(REGISTRY) == literals
    for name, spec in REGISTRY.items():
        assert get_args(spec.config_model.model_fields["type"].annotation) == (name,)


def test_unknown_type_message():
    with pytest.raises(
        UnknownConnectorType,
        match=r"^unknown connector type 'mongo'; valid types: azure_blob, bigquery, dynamics, gcs, http_api, http_inlet, local_files, mssql, mysql, postgres, redshift, s3, salesforce, salesforce_marketing_cloud, sftp, sqlite$",
    ):
        get_spec("mongo")


def test_load_hook_returns_provider_subclasses():
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
    from airflow.providers.mysql.hooks.mysql import MySqlHook
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    from headwater.connectors.base import SourceReader

    expected = {"postgres": PostgresHook, "mysql": MySqlHook, "sqlite": SqliteHook, "bigquery": BigQueryHook}
    for name, spec in REGISTRY.items():
        hook = load_hook(spec)
        assert issubclass(hook, SourceReader)
        if name in expected:
            assert issubclass(hook, expected[name])


def test_config_modules_import_no_heavy_packages():
    code = (
        "import sys, headwater.connectors.models, headwater.connectors.registry, headwater.connectors.base;"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'pandas', 'sqlalchemy', 'adbc_driver_postgresql')"
        " or m.startswith('airflow.providers')];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": models.__file__.rsplit("/headwater/", 1)[0]},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_type_table_is_the_registry() -> None:
    from pathlib import Path

    from headwater.connectors.registry import hook_class_name

    text = (Path(__file__).resolve().parents[2] / "docs" / "connectors.md").read_text()
    table = text.split("<!-- types:", 1)[1].split("<!-- /types -->", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")][1:]  # after the header
    expected = [f"| `{name}` | {spec.reads} | `{hook_class_name(spec)}` |" for name, spec in REGISTRY.items()]
    assert rows == expected, "docs/connectors.md: the type table must list the registry's types"


def test_select_operators_come_from_the_registry() -> None:
    import headwater.operators as operators
    from headwater.operators.select import SelectOperator, select_operator_for

    for name, spec in REGISTRY.items():
        cls = getattr(operators, spec.operator)
        assert issubclass(cls, SelectOperator) and cls.connector_type == name
        assert select_operator_for(name) is cls
