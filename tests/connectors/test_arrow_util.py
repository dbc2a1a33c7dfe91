"""Typing Python rows into Arrow with one schema per read, and re-chunking."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from headwater.connectors.arrow_util import TypedColumns, rechunk
from headwater.connectors.base import Chunk
from headwater.records import RowError


def test_type_fixed_by_first_values_and_misfits_reported_not_truncated():
    typed = TypedColumns()
    table, bad = typed.table(["n"], [[1, 2, None]])
    assert table.schema.field("n").type == pa.int64() and bad == []
    table, bad = typed.table(["n"], [[3, 1.5, 4.0, "x"]])
    assert table.column("n").to_pylist() == [3, 4]
    assert [(m.index, m.value, m.expected) for m in bad] == [(1, 1.5, "int64"), (3, "x", "int64")]


def test_all_null_column_becomes_text_and_keeps_that_type():
    typed = TypedColumns()
    first, _ = typed.table(["a"], [[None, None]])
    later, bad = typed.table(["a"], [[5, "x"]])
    assert first.schema == later.schema == pa.schema([("a", pa.string())])
    assert later.column("a").to_pylist() == ["5", "x"] and bad == []


def test_hints_win_over_inference():
    typed = TypedColumns({"a": pa.float64()})
    table, _ = typed.table(["a"], [[None]])
    assert table.schema.field("a").type == pa.float64()
    table, _ = typed.table(["a"], [[1, 2]])
    assert table.column("a").to_pylist() == [1.0, 2.0]


def test_mixed_numbers_infer_double_and_decimals_are_widened():
    typed = TypedColumns()
    table, _ = typed.table(["x", "d"], [[1, 2.5], [Decimal("1.50"), None]])
    assert table.schema.field("x").type == pa.float64()
    assert table.schema.field("d").type == pa.decimal128(38, 2)
    table, bad = typed.table(["x", "d"], [[3, 4], [Decimal("123456789.25"), None]])
    assert bad == [] and table.column("d").to_pylist() == [Decimal("123456789.25"), None]


def test_rechunk_cuts_exact_sizes_and_carries_errors():
    error = RowError(row=None, stage="select", code="MALFORMED_ROW", column=None, value=None, message="m")
    parts = [Chunk(pa.table({"a": list(range(7))}), [error]), Chunk(pa.table({"a": list(range(7, 10))}))]
    out = list(rechunk(parts, 4))
    assert [c.table.num_rows for c in out] == [4, 4, 2]
    assert out[0].errors == [error] and out[1].errors == [] and out[2].errors == []
    assert [v for c in out for v in c.table.column("a").to_pylist()] == list(range(10))
    trailing = list(
        rechunk([Chunk(pa.table({"a": [1]})), Chunk(pa.table({"a": pa.array([], pa.int64())}), [error])], 1)
    )
    assert [(c.table.num_rows, len(c.errors)) for c in trailing] == [(1, 0), (0, 1)]


def test_marked_values_are_reported_with_their_reason_never_converted():
    from datetime import date

    from headwater.connectors.arrow_util import BadValue

    zero = BadValue("0000-00-00", "VALUE_OUT_OF_RANGE", "is 0000-00-00")
    typed = TypedColumns({"d": pa.date32()})
    table, bad = typed.table(["d", "t"], [[date(2024, 2, 29), zero], ["a", zero]])
    assert table.column("d").to_pylist() == [date(2024, 2, 29)]
    assert table.column("t").to_pylist() == ["a"]  # never the marker's text in a text column
    assert {(m.index, m.column, m.value, m.code, m.reason) for m in bad} == {
        (1, "d", "0000-00-00", "VALUE_OUT_OF_RANGE", "is 0000-00-00"),
        (1, "t", "0000-00-00", "VALUE_OUT_OF_RANGE", "is 0000-00-00"),
    }
    # a column that starts with a marker is typed from the other values, not as text
    typed = TypedColumns()
    table, bad = typed.table(["d"], [[zero, date(2024, 1, 1)]])
    assert table.schema.field("d").type == pa.date32() and len(bad) == 1
