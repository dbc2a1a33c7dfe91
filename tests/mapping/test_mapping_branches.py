"""Branches of case / iif / coalesce / decode run only on their own rows; to_date and to_timestamp
read several formats; the try_ functions give null where the strict ones reject (issue 9, item 10)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from test_mapping_functions import run

from headwater.mapping.expressions import ExpressionError, parse, result_type

MIXED = ["2024-03-01", "01/03/2024", "1 Mar 2024", None]
MARCH_1 = [date(2024, 3, 1)] * 3 + [None]
ANY_FORMAT = "not a valid date in any of the formats '%Y-%m-%d', '%d/%m/%Y', '%d %b %Y'"


@pytest.mark.parametrize(
    ("expr", "cols", "values", "failures"),
    [
        pytest.param(
            "case(regex_match(s, '^[0-9]{4}-'), to_date(s), regex_match(s, '/'), to_date(s, '%d/%m/%Y'), "
            "to_date(s, '%d %b %Y'))",
            {"s": MIXED},
            MARCH_1,
            [],
            id="case_mixed_date_formats",
        ),
        pytest.param(
            "iif(contains(s, '/'), to_date(s, '%d/%m/%Y'), to_date(s))",
            {"s": ["2024-03-01", "01/03/2024", None]},
            [date(2024, 3, 1), date(2024, 3, 1), None],
            [],
            id="iif_branches_on_their_rows",
        ),
        pytest.param(
            "coalesce(to_int(a), to_int(b))",
            {"a": ["1", None, None], "b": ["x", "2", "y"]},
            [1, 2, None],
            [([2], "not a valid integer")],
            id="coalesce_later_argument_only_where_earlier_null",
        ),
        pytest.param(
            "decode(k, 'iso', to_date(s), 'eu', to_date(s, '%d/%m/%Y'), to_date(s, '%d %b %Y'))",
            {"k": ["iso", "eu", "txt", "iso"], "s": MIXED},
            MARCH_1,
            [],
            id="decode_results_on_their_rows",
        ),
        pytest.param(
            "case(s = 'n/a', 'none', to_int(s) > 5, 'big', 'small')",
            {"s": ["n/a", "7", "1", "x"]},
            ["none", "big", "small", "small"],  # row 3 is rejected all the same
            [([3], "not a valid integer")],
            id="case_conditions_only_on_rows_left",
        ),
        pytest.param(
            "iif(n > 1000000, 0, n * 10)",
            {"n": [1, 2**62]},
            [10, 0],
            [],  # 2**62 * 10 overflows, but only in the branch row 1 does not take
            id="untaken_branch_cannot_fail_the_batch",
        ),
        pytest.param(
            "iif(k = 'n', to_int(s), null)",
            {"k": ["n", "n", "d"], "s": ["x", "1", "y"]},
            [None, 1, None],
            [([0], "not a valid integer")],
            id="taken_rows_still_fail",
        ),
        pytest.param(
            "case(to_int(p) >= 5000, 'high', to_int(p) >= 1000, 'mid', 'low')",
            {"p": ["6000", "1500", "3", None]},
            ["high", "mid", "low", "low"],
            [],
            id="case_reuses_shared_subexpression",
        ),
        pytest.param(
            "iif(is_null(a), to_date(b), to_date(a))",
            {"a": [None, "2024-03-01"], "b": ["2024-01-02", "junk"]},
            [date(2024, 1, 2), date(2024, 3, 1)],
            [],
            id="iif_column_branch_masked",
        ),
        pytest.param(
            "to_date(s, '%Y-%m-%d', '%d/%m/%Y', '%d %b %Y')",
            {"s": [*MIXED, "31/02/2024", "x"]},
            [*MARCH_1, None, None],
            [([4, 5], ANY_FORMAT)],
            id="to_date_formats_in_order",
        ),
        pytest.param(
            "to_date(s, '%d/%m/%Y', '%m/%d/%Y')",
            {"s": ["02/03/2024", "12/31/2024"]},
            [date(2024, 3, 2), date(2024, 12, 31)],
            [],
            id="to_date_first_format_wins",
        ),
        pytest.param(
            "to_timestamp(s, '%d/%m/%Y %H:%M', '%Y-%m-%dT%H:%M:%S%z')",
            {"s": ["01/03/2024 10:30", "2024-03-01T12:30:00+02:00", "soon"]},
            [datetime(2024, 3, 1, 10, 30, tzinfo=UTC)] * 2 + [None],
            [([2], "not a valid timestamp in any of the formats '%d/%m/%Y %H:%M', '%Y-%m-%dT%H:%M:%S%z'")],
            id="to_timestamp_formats_in_order",
        ),
        pytest.param(
            "coalesce(try_to_date(s), try_to_date(s, '%d/%m/%Y'), to_date(s, '%d %b %Y'))",
            {"s": [*MIXED, "x"]},
            [*MARCH_1, None],
            [([4], "not a valid date in format '%d %b %Y'")],
            id="try_then_strict",
        ),
    ],
)
def test_branches(expr: str, cols: dict, values: list, failures: list) -> None:
    assert run(expr, **cols) == (values, failures)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "to_date(s, '%Y-%m-%d', f)",
            "argument 'format' of 'to_date' at position 23 must be a string literal",
        ),
        ("try_to_date(s, 1)", "argument 'format' of 'try_to_date' at position 15 must be a string literal"),
        (
            "upper(try_to_date(s, '%d/%m/%Y', '%Y'))",
            "type mismatch at position 6: argument 's' of 'upper' must be a string, got a date",
        ),
        (
            "iif(a, try_to_int(b), to_date(c))",
            "type mismatch at position 22: arguments of 'iif' must share one type, got an integer and a date",
        ),
    ],
)
def test_new_signatures_are_checked_at_parse_time(expr: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(expr)
    assert caught.value.message == message


def test_result_types_of_the_new_functions() -> None:
    assert result_type("to_date(s, '%d/%m/%Y', '%Y-%m-%d')") == "date"
    assert result_type("try_to_timestamp(s, '%d/%m/%Y %H:%M', '%Y')") == "timestamp"
    assert result_type("coalesce(try_to_int(a), try_to_float(b))") == "number"
    assert result_type("case(a, try_to_bool(b), false)") == "boolean"
