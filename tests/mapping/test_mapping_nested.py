"""Nested targets (dotted field names), one source column to many fields, constants, shared
subexpressions across fields, run_date from the Airflow task, and type checks against the schema."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from headwater.errors import ConfigError
from headwater.mapping.engine import compile_mapping
from headwater.mapping.models import MappingConfig, check_mapping
from headwater.target_schemas import arrow_schema, load_target_schema

PERSON = """\
name: person
kind: profile
fields:
  - {name: id, type: string, required: true}
  - {name: person.name.first, type: string}
  - {name: person.name.last, type: string}
  - {name: email, type: string}
  - {name: person.age, type: integer}
  - {name: email_sha256, type: string}
  - {name: source, type: string}
  - {name: seen_on, type: date}
"""


@pytest.fixture
def schema(tmp_path: Path):
    (tmp_path / "person.yaml").write_text(PERSON)
    return load_target_schema("person", tmp_path)


def mapping(*fields: dict) -> MappingConfig:
    return MappingConfig.model_validate({"target": "person", "fields": list(fields)})


def test_dotted_fields_nest_as_structs(schema) -> None:
    assert str(arrow_schema(schema)) == (
        "id: string\n"
        "person: struct<name: struct<first: string, last: string>, age: int64>\n"
        "  child 0, name: struct<first: string, last: string>\n"
        "      child 0, first: string\n"
        "      child 1, last: string\n"
        "  child 1, age: int64\n"
        "email: string\n"
        "email_sha256: string\n"
        "source: string\n"
        "seen_on: date32[day]"
    )


def test_one_column_to_many_fields_constants_and_nesting(schema) -> None:
    compiled = compile_mapping(
        mapping(
            {"to": "id", "from": "ID"},
            {"to": "person.name.first", "expr": "initcap(trim(Name))"},
            {"to": "email", "from": "Email", "transform": ["trim", "lower"]},
            {"to": "email_sha256", "expr": "sha256(lower(trim(Email)))"},
            {"to": "person.age", "expr": "to_int(Age)"},
            {"to": "source", "value": "crm"},
            {"to": "seen_on", "expr": "run_date()"},
        ),
        schema,
    )
    table = pa.table(
        {"ID": ["1", "2"], "Name": [" ann ", None], "Email": [" A@X.io", None], "Age": ["41", "x"]}
    )
    result = compiled.apply(table, run_date=date(2026, 1, 2))
    assert result.table.to_pylist() == [
        {
            "id": "1",
            "person": {"name": {"first": "Ann", "last": None}, "age": 41},
            "email": "a@x.io",
            "email_sha256": hashlib.sha256(b"a@x.io").hexdigest(),
            "source": "crm",
            "seen_on": date(2026, 1, 2),
            "_hw_row": 0,
        }
    ]
    assert [(e.row, e.column, e.value, e.message) for e in result.errors] == [
        (1, "person.age", "x", "not a valid integer")
    ]


def test_shared_subexpression_rejects_in_every_field(schema) -> None:
    compiled = compile_mapping(
        mapping(
            {"to": "id", "from": "ID"},
            {"to": "person.age", "expr": "to_int(Age)"},
            {"to": "source", "expr": "to_string(to_int(Age) * 2)"},
        ),
        schema,
    )
    result = compiled.apply(pa.table({"ID": ["1", "2"], "Age": ["3", "x"]}))
    assert result.table.column("source").to_pylist() == ["6"]
    # computed once, reported for both fields that use it
    assert [(e.row, e.column) for e in result.errors] == [(1, "person.age"), (1, "source")]


def test_uuid_is_not_shared_between_fields(schema) -> None:
    compiled = compile_mapping(
        mapping({"to": "id", "expr": "uuid()"}, {"to": "source", "expr": "uuid()"}), schema
    )
    row = compiled.apply(pa.table({"x": [1]})).table.to_pylist()[0]
    assert row["id"] != row["source"]


def test_run_date_defaults_to_the_task_logical_date(schema, monkeypatch: pytest.MonkeyPatch) -> None:
    import airflow.sdk

    monkeypatch.setattr(
        airflow.sdk,
        "get_current_context",
        lambda: {"logical_date": datetime(2025, 7, 4, 6, tzinfo=UTC)},
        raising=False,
    )
    compiled = compile_mapping(
        mapping({"to": "id", "value": "a"}, {"to": "seen_on", "expr": "run_date()"}), schema
    )
    assert compiled.apply(pa.table({"x": [1]})).table.column("seen_on").to_pylist() == [date(2025, 7, 4)]


def test_expression_type_must_fit_the_field(schema) -> None:
    issues = check_mapping(
        mapping(
            {"to": "id", "from": "ID"},
            {"to": "person.age", "expr": "to_date(x)"},
            {"to": "seen_on", "expr": "to_int(x) > 1"},
            {"to": "source", "expr": "split(x, ',')"},
            {"to": "email", "expr": "to_int(x)"},
        ),
        schema,
        None,
    )
    assert issues == [
        (
            "mapping.fields[1].expr",
            "type mismatch: the expression gives a date, which cannot fill integer field 'person.age'",
        ),
        (
            "mapping.fields[2].expr",
            "type mismatch: the expression gives a boolean, which cannot fill date field 'seen_on'",
        ),
        (
            "mapping.fields[3].expr",
            "type mismatch: the expression gives an array, which cannot fill string field 'source'",
        ),
    ]
    with pytest.raises(ConfigError):
        compile_mapping(
            mapping({"to": "id", "from": "ID"}, {"to": "person.age", "expr": "to_date(x)"}), schema
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            "  - {name: address, type: string}\n  - {name: address.city, type: string}\n",
            "field 'address' cannot be both a field and the group of 'address.city'",
        ),
        ("  - {name: address..city, type: string}\n", "String should match pattern"),
        ("  - {name: Address.city, type: string}\n", "String should match pattern"),
    ],
)
def test_nested_field_names_are_checked(tmp_path: Path, fields: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nkind: profile\nfields:\n" + fields)
    with pytest.raises(ConfigError) as caught:
        load_target_schema("bad", tmp_path)
    assert message in str(caught.value)
