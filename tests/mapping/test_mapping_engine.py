"""Running a mapping on Arrow tables: output shape, casting, rejected rows and their RowErrors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from headwater.errors import ConfigError, SelectionError
from headwater.mapping.engine import CompiledMapping, MappingError, compile_mapping
from headwater.mapping.models import MappingConfig
from headwater.records import ROW_ID, RowError
from headwater.settings import PROJECT_ROOT
from headwater.target_schemas import arrow_schema, load_target_schema

SCHEMAS = PROJECT_ROOT / "include" / "schemas"
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def compiled(target: str, *fields: dict, **extra: Any) -> CompiledMapping:
    config = MappingConfig.model_validate({"target": target, "fields": list(fields), **extra})
    return compile_mapping(config, load_target_schema(target, SCHEMAS))


def event_mapping(**overrides: dict) -> CompiledMapping:
    fields = {
        "event_id": {"to": "event_id", "from": "Id"},
        "event_type": {"to": "event_type", "from": "Type", "transform": ["trim", "lower"]},
        "occurred_at": {"to": "occurred_at", "from": "When"},
        "quantity": {"to": "quantity", "from": "Qty", "default": 1},
        "amount": {"to": "amount", "from": "Amount"},
    }
    fields.update(overrides)
    return compiled("event", *fields.values())


def events(**columns: list) -> pa.Table:
    data = {
        "Id": ["e1", "e2", "e3"],
        "Type": [" Purchase ", "VISIT", "purchase"],
        "When": ["2024-03-01T10:00:00Z", "2024-03-02 09:30", "2024-03-03"],
        "Qty": ["2", "", None],
        "Amount": ["9.99", "0", "12.5"],
        ROW_ID: [100, 101, 102],
    }
    data.update(columns)
    return pa.table(data)


def codes(errors: list[RowError]) -> list[tuple[int | None, str, str | None, str | None]]:
    return [(e.row, e.code, e.column, e.value) for e in errors]


def test_output_is_the_target_schema_plus_row_id() -> None:
    result = event_mapping().apply(events(), now=NOW)
    schema = load_target_schema("event", SCHEMAS)
    assert result.table.schema == arrow_schema(schema).append(pa.field(ROW_ID, pa.int64()))
    assert result.table.to_pylist() == [
        {"event_id": "e1", "event_type": "purchase", "occurred_at": datetime(2024, 3, 1, 10, tzinfo=UTC),
         "customer_id": None, "anonymous_id": None, "email": None, "product_id": None, "quantity": 2, "amount": 9.99, "currency": None,
         "channel": None, "properties": None, ROW_ID: 100},
        {"event_id": "e2", "event_type": "visit", "occurred_at": datetime(2024, 3, 2, 9, 30, tzinfo=UTC),
         "customer_id": None, "anonymous_id": None, "email": None, "product_id": None, "quantity": 1, "amount": 0.0, "currency": None,
         "channel": None, "properties": None, ROW_ID: 101},
        {"event_id": "e3", "event_type": "purchase", "occurred_at": datetime(2024, 3, 3, tzinfo=UTC),
         "customer_id": None, "anonymous_id": None, "email": None, "product_id": None, "quantity": 1, "amount": 12.5, "currency": None,
         "channel": None, "properties": None, ROW_ID: 102},
    ]  # fmt: skip
    assert result.errors == []
    assert (result.rows_in, result.rows_mapped, result.rows_rejected) == (3, 3, 0)


@pytest.mark.parametrize(
    ("columns", "kept", "errors"),
    [
        pytest.param(
            {"Qty": ["2", "two", None]},
            [100, 102],
            [(101, "CAST_FAILED", "quantity", "two")],
            id="bad_integer",
        ),
        pytest.param(
            {"Amount": ["9.99", "1,5", "x"]},
            [100],
            [(101, "CAST_FAILED", "amount", "1,5"), (102, "CAST_FAILED", "amount", "x")],
            id="bad_floats",
        ),
        pytest.param(
            {"When": ["2024-03-01", "2024-02-30", "tomorrow"]},
            [100],
            [
                (101, "CAST_FAILED", "occurred_at", "2024-02-30"),
                (102, "CAST_FAILED", "occurred_at", "tomorrow"),
            ],
            id="bad_timestamps_are_not_also_required_missing",
        ),
        pytest.param(
            {"Id": ["e1", None, "  "]},
            [100],
            [(101, "REQUIRED_MISSING", "event_id", None), (102, "REQUIRED_MISSING", "event_id", None)],
            id="required_missing_and_blank",
        ),
        pytest.param(
            {"Id": [None, "e2", "e3"], "Qty": ["x", "1", "1"], "When": ["bad", "2024-03-01", "2024-03-01"]},
            [101, 102],
            [
                (100, "REQUIRED_MISSING", "event_id", None),
                (100, "CAST_FAILED", "occurred_at", "bad"),
                (100, "CAST_FAILED", "quantity", "x"),
            ],
            id="several_errors_one_row_in_field_order",
        ),
    ],
)
def test_rejected_rows(columns: dict, kept: list[int], errors: list) -> None:
    result = event_mapping().apply(events(**columns), now=NOW)
    assert result.table.column(ROW_ID).to_pylist() == kept
    assert codes(result.errors) == errors
    assert all(e.stage == "map" for e in result.errors)
    assert result.rows_rejected == 3 - len(kept)


def test_error_messages_and_record() -> None:
    table = events(Qty=["2", "two", None], When=["2024-03-01", "2024-03-01", "01/02/2024"])
    table = table.append_column("Seen", pa.array([date(2024, 1, 1)] * 3))
    result = event_mapping().apply(table, now=NOW)
    first, second = result.errors
    assert first.message == "not a valid integer"
    assert second.message == "not a valid ISO-8601 timestamp (expected e.g. 2024-03-01T10:00:00Z)"
    assert json.loads(first.record) == {
        "Id": "e2",
        "Type": "VISIT",
        "When": "2024-03-01",
        "Qty": "two",
        "Amount": "0",
        "Seen": "2024-01-01",
    }
    assert result.errors_by_code() == {"CAST_FAILED": 2}


def test_required_field_message() -> None:
    result = event_mapping().apply(events(Type=["click", None, "x"]), now=NOW)
    [error] = result.errors
    assert error == RowError(
        101,
        "map",
        "REQUIRED_MISSING",
        "event_type",
        None,
        "required field 'event_type' has no value",
        error.record,
    )


def test_format_and_default() -> None:
    mapping = event_mapping(
        occurred_at={"to": "occurred_at", "from": "When", "format": "%d/%m/%Y %H:%M"},
        event_type={"to": "event_type", "from": "Type", "default": "unknown"},
    )
    result = mapping.apply(
        events(When=["01/03/2024 10:00", "31/04/2024 10:00", "02/03/2024 23:59"], Type=["a", "", None]),
        now=NOW,
    )
    assert codes(result.errors) == [(101, "CAST_FAILED", "occurred_at", "31/04/2024 10:00")]
    assert result.errors[0].message == "not a valid timestamp in format '%d/%m/%Y %H:%M'"
    assert result.table.column("event_type").to_pylist() == ["a", "unknown"]
    assert result.table.column("occurred_at").to_pylist() == [
        datetime(2024, 3, 1, 10, tzinfo=UTC),
        datetime(2024, 3, 2, 23, 59, tzinfo=UTC),
    ]


def test_expressions_constants_and_now() -> None:
    mapping = compiled(
        "customer_profile",
        {"to": "email", "from": "E-mail", "transform": ["trim", "lower"]},
        {"to": "email_sha256", "expr": "sha256(lower(trim(`E-mail`)))"},
        {"to": "full_name", "expr": "concat(trim(first), ' ', trim(`Last Name`))"},
        {"to": "country", "value": "US"},
        {"to": "loyalty_points", "value": 0},
        {"to": "marketing_opt_in", "value": True},
        {"to": "signup_date", "value": date(2020, 1, 1)},
        {"to": "updated_at", "expr": "now()"},
        {"to": "city", "expr": "iif(is_null(city), 'unknown', upper(city))"},
    )
    table = pa.table({"E-mail": [" A@B.com "], "first": ["Ann "], "Last Name": ["Lee"], "city": [None]})
    [row] = mapping.apply(table, now=NOW).table.to_pylist()
    assert row["email"] == "a@b.com"
    assert row["email_sha256"] == "fb98d44ad7501a959f3f4f4a3f004fe2d9e581ea6207e218c4b02c08a4d75adf"
    assert row["full_name"] == "Ann Lee"
    assert (row["country"], row["loyalty_points"], row["marketing_opt_in"]) == ("US", 0, True)
    assert row["signup_date"] == date(2020, 1, 1)
    assert row["updated_at"] == NOW
    assert row["city"] == "unknown"
    assert row[ROW_ID] == 0  # no _hw_row in the input: positions


def test_typed_database_columns() -> None:
    mapping = compiled(
        "customer_profile",
        {"to": "crm_id", "from": "id"},
        {"to": "loyalty_points", "from": "points"},
        {"to": "lifetime_value", "from": "ltv"},
        {"to": "marketing_opt_in", "from": "opt_in"},
        {"to": "birth_date", "from": "born"},
        {"to": "updated_at", "from": "modified"},
    )
    table = pa.table({
        "id": pa.array([7], pa.int32()),
        "points": pa.array([12.0]),
        "ltv": pa.array([Decimal("1234.50")]),
        "opt_in": pa.array([1], pa.int8()),
        "born": pa.array([datetime(1990, 3, 1, 0, 0)], pa.timestamp("ms")),
        "modified": pa.array([datetime(2024, 3, 1, 10)], pa.timestamp("us", "Europe/Paris")),
    })  # fmt: skip
    [row] = mapping.apply(table, now=NOW).table.to_pylist()
    assert (row["crm_id"], row["loyalty_points"], row["lifetime_value"]) == ("7", 12, 1234.5)
    assert (row["marketing_opt_in"], row["birth_date"]) == (True, date(1990, 3, 1))
    assert row["updated_at"] == datetime(2024, 3, 1, 10, tzinfo=UTC)


def test_chunked_and_dictionary_input() -> None:
    chunked = pa.Table.from_batches([
        pa.record_batch({"Id": ["a"], "Type": pa.array(["x"]).dictionary_encode(), "When": ["2024-01-01"],
                         "Qty": ["1"], "Amount": ["1"], ROW_ID: [5]}),
        pa.record_batch({"Id": ["b"], "Type": pa.array(["y"]).dictionary_encode(), "When": ["2024-01-02"],
                         "Qty": ["q"], "Amount": ["2"], ROW_ID: [6]}),
    ])  # fmt: skip
    result = event_mapping().apply(chunked, now=NOW)
    assert result.table.column("event_type").to_pylist() == ["x"]
    assert codes(result.errors) == [(6, "CAST_FAILED", "quantity", "q")]


@pytest.mark.parametrize(
    "blank",
    [" ", "\t\n", "\u00a0", "\u3000\u2003", "\u2028", ""],
    ids=["space", "tab_newline", "nbsp", "ideographic_em", "line_sep", "empty"],
)
def test_required_text_that_is_only_whitespace_is_missing(blank: str) -> None:
    # The check tests for whitespace without trimming; it must agree with trimming on Unicode spaces.
    result = event_mapping().apply(events(Id=["e1", blank, f"{blank}x{blank}"]), now=NOW)
    assert codes(result.errors) == [(101, "REQUIRED_MISSING", "event_id", None)]
    assert result.table.column("event_id").to_pylist() == ["e1", f"{blank}x{blank}"]


def test_missing_source_columns() -> None:
    table = events().drop_columns(["When", "Amount"])
    with pytest.raises(SelectionError) as caught:
        event_mapping().apply(table)
    assert str(caught.value) == (
        "mapping to target 'event' reads columns 'Amount', 'When', which the source does not have; "
        "available columns: Id, Type, Qty"
    )


def test_runtime_type_error_names_the_field() -> None:
    mapping = compiled("customer_profile", {"to": "loyalty_points", "expr": "born + 1"})
    with pytest.raises(
        MappingError,
        match="cannot map field 'loyalty_points' of target 'customer_profile': "
        "operator '\\+' needs numbers, got date32",
    ):
        mapping.apply(pa.table({"born": [date(2024, 1, 1)]}))


def test_compile_rejects_mapping_that_does_not_fit_the_schema() -> None:
    config = MappingConfig.model_validate({"target": "event", "fields": [{"to": "evnt_id", "from": "x"}]})
    with pytest.raises(ConfigError) as caught:
        compile_mapping(config, load_target_schema("event", SCHEMAS), file="shop.yaml")
    assert [str(i) for i in caught.value.issues][:2] == [
        "shop.yaml: mapping.fields[0].to: 'evnt_id' is not a field of target schema 'event'; did you mean "
        "'event_id'? fields: event_id, event_type, occurred_at, customer_id, anonymous_id, email, product_id, "
        "quantity, amount, currency, channel, properties",
        "shop.yaml: mapping.fields: required field 'event_id' of target schema 'event' is not mapped",
    ]


def test_empty_table() -> None:
    result = event_mapping().apply(events().slice(0, 0))
    assert result.table.num_rows == 0
    assert result.table.column_names[-1] == ROW_ID


def test_source_columns() -> None:
    mapping = compiled(
        "customer_profile",
        {"to": "email", "from": "E"},
        {"to": "full_name", "expr": "a || `b c`"},
        {"to": "country", "value": "US"},
    )
    assert mapping.source_columns == {"E", "a", "b c"}


def test_large_table_is_vectorised() -> None:
    # 200k rows through every kind of conversion; row-by-row Python would take far longer.
    n = 200_000
    mapping = event_mapping(
        email={"to": "email", "expr": "lower(trim(Email))"},
        channel={"to": "channel", "expr": "iif(to_float(Amount) > 5, 'big', 'small')"},
    )
    table = events(
        Id=[f"e{i}" for i in range(n)],
        Type=["purchase", "visit"] * (n // 2),
        When=["2024-03-01T10:00:00+02:00", "2024-03-01 10:00:00.123"] * (n // 2),
        Qty=[str(i % 7) for i in range(n - 1)] + ["oops"],
        Amount=["9.99", "1"] * (n // 2),
        **{ROW_ID: list(range(n))},
    ).append_column("Email", pa.array([" X@Y.com "] * n))
    result = mapping.apply(table, now=NOW)
    assert result.rows_mapped == n - 1
    assert codes(result.errors) == [(n - 1, "CAST_FAILED", "quantity", "oops")]
    assert result.table.column("channel").to_pylist()[:2] == ["big", "small"]
