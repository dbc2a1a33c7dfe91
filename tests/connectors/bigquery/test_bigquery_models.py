"""The `connector:` section of a BigQuery source: what is accepted and the exact messages otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from headwater.connectors.models import BigQueryConnector


def make(**fields) -> BigQueryConnector:
    return BigQueryConnector(type="bigquery", conn_id="gcp", **fields)


@pytest.mark.parametrize("table", ["orders", "shop.orders", "my-project.shop.orders", "my-project:shop.orders"])
def test_table_names(table) -> None:
    assert make(table=table).table == table


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"table": "a.b.c.d"}, "table must be `table`, `dataset.table` or `project.dataset.table`", id="four_parts"),
        pytest.param({"table": "t", "query": "SELECT 1"}, "set exactly one of `table` or `query` (not both)", id="both"),
        pytest.param({}, "set exactly one of `table` or `query` (one is required)", id="neither"),
        pytest.param({"query": "DELETE FROM t WHERE true"}, "query must be a single read-only SELECT", id="delete"),
        pytest.param({"table": "t", "where": "true); DROP TABLE t; --"}, "where must be", id="where_second_statement"),
        pytest.param(
            {"table": "t", "columns": ["a"], "cursor": {"column": "b"}}, "cursor column 'b' is not selected", id="cursor_unselected"
        ),
        pytest.param({"table": "t", "read_api": "grpc"}, "Input should be 'auto', 'storage' or 'rest'", id="read_api"),
        pytest.param({"table": "t", "maximum_bytes_billed": 0}, "greater than 0", id="bytes_billed"),
    ],
)
def test_invalid(fields, message) -> None:
    with pytest.raises(ValidationError) as info:
        make(**fields)
    assert message in str(info.value)


def test_where_partition_filter_is_kept() -> None:
    cfg = make(table="shop.events", where="_PARTITIONDATE >= DATE_SUB(CURRENT_DATE(), INTERVAL 3 DAY)")
    assert cfg.where.startswith("_PARTITIONDATE")
