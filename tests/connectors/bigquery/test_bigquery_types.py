"""BigQuery schema -> Arrow types, and conforming what either read path returns (no service needed)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
from google.cloud.bigquery import SchemaField

from headwater.connectors.bigquery_types import arrow_schema, arrow_type, conform


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param(SchemaField("n", "NUMERIC"), pa.decimal128(38, 9), id="numeric"),
        pytest.param(SchemaField("n", "NUMERIC", precision=10, scale=2), pa.decimal128(10, 2), id="numeric_10_2"),
        pytest.param(SchemaField("n", "NUMERIC", precision=12), pa.decimal128(12, 0), id="numeric_12"),
        pytest.param(SchemaField("n", "BIGNUMERIC"), pa.decimal256(76, 38), id="bignumeric"),
        pytest.param(SchemaField("n", "BIGNUMERIC", precision=50, scale=20), pa.decimal256(50, 20), id="bignumeric_50_20"),
        pytest.param(SchemaField("t", "TIMESTAMP"), pa.timestamp("us", tz="UTC"), id="timestamp_utc"),
        pytest.param(SchemaField("t", "DATETIME"), pa.timestamp("us"), id="datetime_naive"),
        pytest.param(SchemaField("d", "DATE"), pa.date32(), id="date"),
        pytest.param(SchemaField("b", "BOOLEAN"), pa.bool_(), id="bool"),
        pytest.param(SchemaField("b", "BYTES"), pa.binary(), id="bytes"),
        pytest.param(SchemaField("j", "JSON"), pa.string(), id="json_text"),
        pytest.param(SchemaField("a", "INT64", mode="REPEATED"), pa.list_(pa.int64()), id="array"),
        pytest.param(
            SchemaField("r", "RECORD", mode="REPEATED", fields=[SchemaField("x", "NUMERIC", precision=5, scale=1),
                                                               SchemaField("y", "STRING", mode="REPEATED")]),
            pa.list_(pa.struct([("x", pa.decimal128(5, 1)), ("y", pa.list_(pa.string()))])),
            id="array_of_struct",
        ),
    ],
)
def test_arrow_type(field, expected) -> None:
    assert arrow_type(field) == expected


def test_unknown_type_names_the_column() -> None:
    with pytest.raises(TypeError, match="column 'x' has BigQuery type FOO"):
        arrow_type(SchemaField("x", "FOO"))


def test_conform_narrows_decimals_exactly_and_refuses_to_round() -> None:
    schema = arrow_schema([SchemaField("n", "NUMERIC", precision=10, scale=2)])
    wide = pa.table({"n": pa.array([Decimal("12.340000000"), None], pa.decimal128(38, 9))})
    assert conform(wide, schema).column("n").to_pylist() == [Decimal("12.34"), None]
    bad = pa.table({"n": pa.array([Decimal("12.345000000")], pa.decimal128(38, 9))})
    with pytest.raises(pa.ArrowInvalid):
        conform(bad, schema)


def test_conform_renames_list_items_and_drops_the_json_extension() -> None:
    schema = arrow_schema([SchemaField("tags", "STRING", mode="REPEATED"), SchemaField("doc", "JSON")])
    storage_style = pa.table(
        {
            "doc": pa.array(['{"a":1}']),
            "tags": pa.array([["x"]], pa.list_(pa.field("l", pa.string()))),  # the Storage Read API's item name
        }
    )
    table = conform(storage_style, schema)
    assert table.schema == schema and table.to_pylist() == [{"tags": ["x"], "doc": '{"a":1}'}]
