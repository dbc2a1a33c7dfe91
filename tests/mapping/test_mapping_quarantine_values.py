"""What a map-stage quarantine entry shows: the value as the source had it, the source row, where
the row is (issue 9, item 9); and dates outside what the lake can read are quarantined (item 4)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from headwater.mapping.engine import CompiledMapping, compile_mapping
from headwater.mapping.models import MappingConfig
from headwater.records import LOCATION, ROW_ID
from headwater.settings import PROJECT_ROOT
from headwater.target_schemas import load_target_schema

SCHEMAS = PROJECT_ROOT / "include" / "schemas"
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
RANGE = "is outside the range the lake can read (0001-01-01 to 9999-12-31)"


def profile(*fields: dict) -> CompiledMapping:
    config = MappingConfig.model_validate({"target": "customer_profile", "fields": list(fields)})
    return compile_mapping(config, load_target_schema("customer_profile", SCHEMAS))


def errors(mapping: CompiledMapping, table: pa.Table) -> list[tuple]:
    result = mapping.apply(table, now=NOW)
    return [(e.row, e.code, e.column, e.value, e.message) for e in result.errors]


def test_cast_failed_shows_the_source_value_not_an_intermediate_one() -> None:
    mapping = profile({"to": "loyalty_points", "expr": "to_int(substr(trim(p), 1, 3)) * 2"})
    table = pa.table({"p": ["  12 ", " 4x5 "], ROW_ID: [7, 8]})
    assert errors(mapping, table) == [(8, "CAST_FAILED", "loyalty_points", " 4x5 ", "not a valid integer")]


def test_transform_and_field_cast_show_the_source_value() -> None:
    mapping = profile({"to": "birth_date", "from": "born", "transform": ["trim"], "format": "%d/%m/%Y"})
    table = pa.table({"born": ["  01/02/1990", " 31/02/1990 "], ROW_ID: [0, 1]})
    assert errors(mapping, table) == [
        (1, "CAST_FAILED", "birth_date", " 31/02/1990 ", "not a valid date in format '%d/%m/%Y'")
    ]


def test_several_source_columns_are_shown_by_name() -> None:
    mapping = profile({"to": "signup_date", "expr": "to_date(concat(y, '-', m, '-', d))"})
    table = pa.table({"y": ["2024", "2024"], "m": ["02", "13"], "d": ["01", "01"], "other": ["a", "b"]})
    [(row, code, column, value, _)] = errors(mapping, table)
    assert (row, code, column) == (1, "CAST_FAILED", "signup_date")
    assert json.loads(value) == {"d": "01", "m": "13", "y": "2024"}


def test_failure_inside_a_branch_shows_the_source_value() -> None:
    mapping = profile(
        {"to": "signup_date", "expr": "iif(contains(s, '/'), to_date(trim(s), '%d/%m/%Y'), null)"}
    )
    table = pa.table({"s": [" 99/99/2024 ", "x"]})
    assert errors(mapping, table) == [
        (0, "CAST_FAILED", "signup_date", " 99/99/2024 ", "not a valid date in format '%d/%m/%Y'")
    ]


def test_record_and_location_from_the_row() -> None:
    mapping = profile({"to": "loyalty_points", "from": "p"})
    table = pa.table({"p": ["1", "x"], ROW_ID: [0, 1], LOCATION: ["a.csv:line 2", "a.csv:line 3"]})
    [error] = mapping.apply(table, now=NOW).errors
    assert json.loads(error.record) == {"p": "x"}
    assert error.location == "a.csv:line 3"
    without = mapping.apply(table.drop_columns([LOCATION]), now=NOW).errors
    assert without[0].location is None


def year_zero_dates() -> pa.Array:
    # What a database column can hand over: Arrow holds year 0, Python and deltalake cannot.
    return pa.array(["0000-01-01", "2024-03-01", None]).cast(pa.date32())


@pytest.mark.parametrize(
    ("field", "table", "shown", "message"),
    [
        pytest.param(
            {"to": "birth_date", "from": "d"},
            pa.table({"d": year_zero_dates()}),
            "0000-01-01",
            f"date 0000-01-01 {RANGE}",
            id="database_date_passed_through",
        ),
        pytest.param(
            {"to": "birth_date", "expr": "to_date(s)"},
            pa.table({"s": ["0000-01-01", "2024-03-01", None]}),
            "0000-01-01",
            f"date 0000-01-01 {RANGE}",
            id="to_date_of_year_0",
        ),
        pytest.param(
            {"to": "birth_date", "from": "s"},
            pa.table({"s": ["0000-01-01", "2024-03-01", ""]}),
            "0000-01-01",
            f"date 0000-01-01 {RANGE}",
            id="iso_text_of_year_0",
        ),
        pytest.param(
            {"to": "birth_date", "expr": "date_add(to_date(s), -2024, 'year')"},
            pa.table({"s": ["2024-03-01", "4048-03-01", None]}),
            "2024-03-01",  # what the source had; the message names the value computed from it
            "date_add gives a date outside the range the lake can read (0001-01-01 to 9999-12-31)",
            id="arithmetic",
        ),
        pytest.param(
            {"to": "updated_at", "from": "t"},
            pa.table({"t": pa.array([9_344_463_120_000, 1_709_287_200, None], pa.timestamp("s", tz="UTC"))}),
            "298084-03-31T08:00:00Z",  # Arrow's own text cast would wrap it round to year -29596
            f"timestamp 298084-03-31T08:00:00Z {RANGE}",
            id="timestamp_beyond_microseconds",
        ),
    ],
)
def test_out_of_range_dates_are_quarantined(field: dict, table: pa.Table, shown: str, message: str) -> None:
    result = profile(field).apply(table, now=NOW)
    [error] = result.errors
    assert (error.row, error.code, error.column, error.value, error.message) == (
        0,
        "OUT_OF_RANGE",
        field["to"],
        shown,
        message,
    )
    assert json.loads(error.record)  # the source row, even with a value Python cannot hold
    assert result.table.num_rows == 2
    assert result.table.to_pylist()  # every value left is one Python (and the lake's readers) can hold


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("date_add(to_date(s), 8000, 'year')", "date_add gives a date outside"),
        (
            "date_add(to_date(s), 9000000000000, 'week')",
            "date_add by more than 10,000 years gives a date outside",
        ),
        ("date_add(to_timestamp(s), 9000000000000, 'second')", "date_add by more than 10,000 years"),
        ("date_add(to_date(s), 3000000, 'day')", "date 10237-11-20 is outside"),
    ],
)
def test_date_arithmetic_beyond_the_range_rejects_the_row_not_the_batch(expr: str, message: str) -> None:
    # Before: an Arrow overflow or parse error failed the whole batch (the task).
    result = profile({"to": "updated_at", "expr": expr}).apply(pa.table({"s": ["2024-03-01"]}), now=NOW)
    [error] = result.errors
    assert (error.code, error.value) == ("OUT_OF_RANGE", "2024-03-01")
    assert error.message.startswith(message)


def test_dates_at_the_edges_are_kept() -> None:
    table = pa.table(
        {"s": ["0001-01-01", "9999-12-31"], "t": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"]}
    )
    mapping = profile({"to": "birth_date", "from": "s"}, {"to": "updated_at", "from": "t"})
    result = mapping.apply(table, now=NOW)
    assert result.errors == []
    assert result.table.column("birth_date").to_pylist() == [date(1, 1, 1), date(9999, 12, 31)]
