"""Every function and operator of the expression language, run on Arrow columns (nulls, bad values)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from headwater.mapping.context import EvalContext, MappingError
from headwater.mapping.engine import evaluate
from headwater.mapping.expressions import parse
from headwater.mapping.functions import FUNCTIONS, register, unary_functions
from headwater.settings import PROJECT_ROOT

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SHA_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
SHA_E_ACUTE = "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c"
MD5_ABC = "900150983cd24fb0d6963f7d28e17f72"
INT = "not a valid integer"
NUM = "not a valid number"
BOOL = "not a valid boolean (expected true/false, yes/no, y/n, t/f or 1/0)"
ISO_DATE = "not a valid ISO-8601 date (expected YYYY-MM-DD)"
ISO_TS = "not a valid ISO-8601 timestamp (expected e.g. 2024-03-01T10:00:00Z)"


def ts(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def run(expr: str, rows: int = 1, **cols: Any) -> tuple[list, list[tuple[list[int], str]]]:
    """(values, [(failed row positions, message)]) of `expr` over the given columns."""
    arrays = {name: v if isinstance(v, pa.Array) else pa.array(v) for name, v in cols.items()}
    n = len(next(iter(arrays.values()))) if arrays else rows
    ctx = EvalContext(arrays, n, NOW)
    out = ctx.broadcast(evaluate(parse(expr), ctx))
    assert len(out) == n
    return out.to_pylist(), [(pc.indices_nonzero(f.mask).to_pylist(), f.message) for f in ctx.failures]


CASES = [
    # text
    pytest.param("trim(s)", {"s": ["  a ", None, "", "\tb\n"]}, ["a", None, "", "b"], [], id="trim"),
    pytest.param("trim(n)", {"n": [1, None]}, ["1", None], [], id="trim_number"),
    pytest.param("lower(s)", {"s": ["ÄB c", None]}, ["äb c", None], [], id="lower"),
    pytest.param("upper(s)", {"s": ["ab é", None]}, ["AB É", None], [], id="upper"),
    pytest.param(
        "concat(a, ' ', b)",
        {"a": ["x", None, None], "b": ["y", "y", None]},
        ["x y", " y", " "],
        [],
        id="concat_constant_keeps_result",
    ),
    pytest.param(
        "concat(a, b)",
        {"a": ["x", None, None], "b": ["y", "z", None]},
        ["xy", "z", None],
        [],
        id="concat_all_null",
    ),
    pytest.param(
        "a || b", {"a": ["x", None, None], "b": ["y", "z", None]}, ["xy", "z", None], [], id="pipes"
    ),
    pytest.param(
        "concat(n, '-', f)", {"n": [1, None], "f": [1.5, None]}, ["1-1.5", "-"], [], id="concat_numbers"
    ),
    pytest.param(
        "coalesce(a, b, 'z')",
        {"a": [None, "a", None, ""], "b": ["b", None, None, "b"]},
        ["b", "a", "z", ""],
        [],
        id="coalesce_empty_string_is_a_value",
    ),
    pytest.param(
        "coalesce(i, f)",
        {"i": [1, None, None], "f": [2.5, 2.5, None]},
        [1.0, 2.5, None],
        [],
        id="coalesce_widens_numbers",
    ),
    pytest.param("coalesce(s, 1)", {"s": [None, "x"]}, ["1", "x"], [], id="coalesce_mixed_is_text"),
    pytest.param("coalesce(s)", {"s": [None, "x"]}, [None, "x"], [], id="coalesce_single"),
    pytest.param(
        "sha256(s)", {"s": ["abc", None, "abc", "é"]}, [SHA_ABC, None, SHA_ABC, SHA_E_ACUTE], [], id="sha256"
    ),
    pytest.param("sha256('abc')", {"s": [1, 2]}, [SHA_ABC, SHA_ABC], [], id="sha256_constant"),
    pytest.param("md5(s)", {"s": ["abc", None]}, [MD5_ABC, None], [], id="md5"),
    pytest.param(
        "substr(s, 2, 3)", {"s": ["abcdef", "ab", None, "héllo!"]}, ["bcd", "b", None, "éll"], [], id="substr"
    ),
    pytest.param("substr(s, 1, 0)", {"s": ["abc"]}, [""], [], id="substr_empty"),
    pytest.param("replace(s, '.', '')", {"s": ["a.b.c", None]}, ["abc", None], [], id="replace_plain_text"),
    pytest.param(
        r"regex_extract(s, '(\d+)-(\d+)', 2)",
        {"s": ["12-34", "x", None, "a 5-6 b 7-8"]},
        ["34", None, None, "6"],
        [],
        id="regex_group",
    ),
    pytest.param(
        r"regex_extract(s, '\d+')", {"s": ["ab12cd34", "none"]}, ["12", None], [], id="regex_whole_match"
    ),
    pytest.param(
        r"regex_extract(s, '(?P<y>\d{4})-(\d{2})', 2)", {"s": ["2024-03"]}, ["03"], [], id="regex_after_named"
    ),
    pytest.param(
        r"regex_extract(s, '(?P<y>\d{4})-(\d{2})', 1)",
        {"s": ["2024-03"]},
        ["2024"],
        [],
        id="regex_named_group",
    ),
    pytest.param(
        r"regex_extract(s, '[(](\w+)[)]', 1)", {"s": ["call (me)"]}, ["me"], [], id="regex_paren_in_class"
    ),
    pytest.param(
        "email_domain(s)",
        {"s": [" Ann@Example.COM ", "no-at", "a@b@c", "@x.com", None, "a@"]},
        ["example.com", None, None, None, None, None],
        [],
        id="email_domain",
    ),
    # conversion
    pytest.param("to_string(i)", {"i": [1, None]}, ["1", None], [], id="to_string_int"),
    pytest.param("to_string(b)", {"b": [True, False]}, ["true", "false"], [], id="to_string_bool"),
    pytest.param("to_string(d)", {"d": [date(2024, 3, 1)]}, ["2024-03-01"], [], id="to_string_date"),
    pytest.param(
        "to_int(s)",
        {
            "s": [
                "42",
                " 7 ",
                "-3",
                "+5",
                "0042.00",
                "",
                None,
                "4.5",
                "abc",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775808",
            ]
        },
        [42, 7, -3, 5, 42, None, None, None, None, 2**63 - 1, None, -(2**63)],
        [([7, 8, 10], INT)],
        id="to_int_text",
    ),
    pytest.param(
        "to_int(f)",
        {"f": [1.0, 2.5, None, float("nan"), -0.0]},
        [1, None, None, None, 0],
        [([1, 3], INT)],
        id="to_int_float",
    ),
    pytest.param(
        "to_int(u)", {"u": pa.array([1, 2**64 - 1], pa.uint64())}, [1, None], [([1], INT)], id="to_int_uint64"
    ),
    pytest.param(
        "to_float(s)",
        {"s": ["1.5", "1e3", ".5", "-2", "", "1,5", "inf", "1e999", None]},
        [1.5, 1000.0, 0.5, -2.0, None, None, None, None, None],
        [([5, 6, 7], NUM)],
        id="to_float_text",
    ),
    pytest.param("to_float(i)", {"i": [1, None]}, [1.0, None], [], id="to_float_int"),
    pytest.param(
        "to_bool(s)",
        {"s": ["true", "False", "YES", "n", "1", "0", " t ", "maybe", "", None]},
        [True, False, True, False, True, False, True, None, None, None],
        [([7], BOOL)],
        id="to_bool_text",
    ),
    pytest.param(
        "to_bool(i)", {"i": [1, 0, 2, None]}, [True, False, None, None], [([2], BOOL)], id="to_bool_int"
    ),
    pytest.param(
        "to_date(s)",
        {"s": ["2024-03-01", "2024-02-30", "2024-3-1", "01/03/2024", "", None, "2024-02-29"]},
        [date(2024, 3, 1), None, None, None, None, None, date(2024, 2, 29)],
        [([1, 2, 3], ISO_DATE)],
        id="to_date_iso",
    ),
    pytest.param(
        "to_date(s, '%d/%m/%Y')",
        {"s": ["01/03/2024", "1/3/2024", "31/02/2024", "2024-03-01"]},
        [date(2024, 3, 1), date(2024, 3, 1), None, None],
        [([2, 3], "not a valid date in format '%d/%m/%Y'")],
        id="to_date_format",
    ),
    pytest.param(
        "to_date(s, '%b %d, %Y')",
        {"s": ["Mar 01, 2024", "mar 1, 2024", "Foo 1, 2024"]},
        [date(2024, 3, 1), date(2024, 3, 1), None],
        [([2], "not a valid date in format '%b %d, %Y'")],
        id="to_date_month_name",
    ),
    pytest.param(
        "to_date(t)",
        {"t": pa.array([datetime(2024, 3, 1, 23, 30, tzinfo=UTC)], pa.timestamp("us", "America/New_York"))},
        [date(2024, 3, 1)],
        [],
        id="to_date_from_zoned_timestamp_is_utc_date",
    ),
    pytest.param(
        "to_timestamp(s)",
        {
            "s": [
                "2024-03-01T10:00:00Z",
                "2024-03-01 10:00:00",
                "2024-03-01T10:00:00+02:00",
                "2024-03-01T10:00:00.123456789-0130",
                "2024-03-01",
                "2024-03-01T10:00",
                "2024-03-01T25:00:00",
                "2024-02-30T10:00:00",
                "yesterday",
                None,
                "2024-03-01T10:00:00+05",
            ]
        },
        [
            ts(2024, 3, 1, 10),
            ts(2024, 3, 1, 10),
            ts(2024, 3, 1, 8),
            ts(2024, 3, 1, 11, 30, 0, 123456),
            ts(2024, 3, 1),
            ts(2024, 3, 1, 10),
            None,
            None,
            None,
            None,
            ts(2024, 3, 1, 5),
        ],
        [([6, 7, 8], ISO_TS)],
        id="to_timestamp_iso",
    ),
    pytest.param(
        "to_timestamp(s, '%d/%m/%Y %H:%M')",
        {"s": ["01/03/2024 10:30", "32/03/2024 10:30", "31/04/2024 10:30"]},
        [ts(2024, 3, 1, 10, 30), None, None],
        [([1, 2], "not a valid timestamp in format '%d/%m/%Y %H:%M'")],
        id="to_timestamp_format",
    ),
    pytest.param(
        "to_timestamp(s, '%Y-%m-%d %H:%M:%S%z')",
        {"s": ["2024-03-01 10:00:00+0200"]},
        [ts(2024, 3, 1, 8)],
        [],
        id="to_timestamp_format_zone",
    ),
    pytest.param(
        "to_timestamp(t)",
        {"t": pa.array([datetime(2024, 3, 1, 10)], pa.timestamp("ns"))},
        [ts(2024, 3, 1, 10)],
        [],
        id="to_timestamp_naive_is_utc",
    ),
    pytest.param("to_timestamp(d)", {"d": [date(2024, 3, 1)]}, [ts(2024, 3, 1)], [], id="to_timestamp_date"),
    # logic
    pytest.param("iif(is_null(a), 'none', a)", {"a": ["x", None]}, ["x", "none"], [], id="iif_is_null"),
    pytest.param(
        "iif(flag, 1, 2)",
        {"flag": ["yes", "no", None, "bad"]},
        [1, 2, 2, 2],
        [([3], BOOL)],
        id="iif_text_condition",
    ),
    pytest.param(
        "iif(a > 10, 'big', 'small')",
        {"a": [5, 20, None]},
        ["small", "big", "small"],
        [],
        id="iif_comparison",
    ),
    pytest.param("iif(c, 1, 2.5)", {"c": [True, False]}, [1.0, 2.5], [], id="iif_widens"),
    pytest.param("is_null(a)", {"a": [None, "", "x"]}, [True, False, False], [], id="is_null"),
    pytest.param("now()", {"a": [1, 2]}, [NOW, NOW], [], id="now"),
    # operators
    pytest.param("a + b", {"a": [1, 2], "b": [3, None]}, [4, None], [], id="add"),
    pytest.param("a - 1", {"a": [1.5, None]}, [0.5, None], [], id="subtract"),
    pytest.param("-a", {"a": [1, -2]}, [-1, 2], [], id="negate"),
    pytest.param(
        "a * 2", {"a": ["3", "x", None, " 1.5 "]}, [6.0, None, None, 3.0], [([1], NUM)], id="text_times"
    ),
    pytest.param(
        "a / b", {"a": [1, 1, None], "b": [2, 0, 1]}, [0.5, None, None], [], id="divide_by_zero_is_null"
    ),
    pytest.param(
        "a * 2",
        {"a": pa.array(["1.25"], pa.string()).cast(pa.decimal128(5, 2))},
        [2.5],
        [],
        id="decimal_math",
    ),
    pytest.param("a = 'x'", {"a": ["x", "y", None]}, [True, False, None], [], id="equal_text"),
    pytest.param("a != 1", {"a": ["1", "2"]}, [False, True], [], id="text_vs_number"),
    pytest.param(
        "d >= '2024-01-01'",
        {"d": [date(2023, 12, 31), date(2024, 1, 1)]},
        [False, True],
        [],
        id="date_vs_text",
    ),
    pytest.param("a < b", {"a": [1, 2], "b": [1.5, 1.5]}, [True, False], [], id="int_vs_float"),
]


@pytest.mark.parametrize(("expr", "cols", "values", "failures"), CASES)
def test_function(expr: str, cols: dict, values: list, failures: list) -> None:
    got_values, got_failures = run(expr, **cols)
    assert got_values == values
    assert got_failures == failures


@pytest.mark.parametrize(
    ("expr", "cols", "message"),
    [
        pytest.param(
            "a + d",
            {"a": [1], "d": [date(2024, 1, 1)]},
            "operator '+' needs numbers, got date32[day]",
            id="date_arithmetic",
        ),
        pytest.param(
            "b = d",
            {"b": [True], "d": [date(2024, 1, 1)]},
            "cannot compare bool with date32[day] using '='",
            id="bad_comparison",
        ),
    ],
)
def test_type_errors(expr: str, cols: dict, message: str) -> None:
    with pytest.raises(MappingError, match=re.escape(message)):
        run(expr, **cols)


def test_failure_reported_once_per_row() -> None:
    # Both to_int calls fail on the same row; the row gets one error, from the first.
    _, failures = run("to_int(a) + to_int(a)", a=["1", "x"])
    assert failures == [([1], INT)]


def test_unary_functions() -> None:
    # Every function of the library is covered by CASES here or in test_mapping_library.py.
    assert unary_functions() == [
        "abs", "ceil", "crc32", "email_domain", "first", "floor", "initcap", "is_empty", "is_null",
        "json_array", "last", "length", "lower", "md5", "not", "parse_number", "phone_e164", "round", "sha1",
        "sha256", "size", "to_bool", "to_date", "to_float", "to_int", "to_string", "to_timestamp", "trim",
        "try_to_bool", "try_to_date", "try_to_float", "try_to_int", "try_to_timestamp", "upper", "uuid5",
    ]  # fmt: skip


def test_registry_is_extensible() -> None:
    @register("reverse_text(s)", "Text backwards (test only).")
    def reverse_text(ctx: EvalContext, s: Any) -> Any:
        return pc.utf8_reverse(s)

    try:
        assert FUNCTIONS["reverse_text"].unary
        assert run("reverse_text(s)", s=["abc"])[0] == ["cba"]
        with pytest.raises(ValueError, match="function 'reverse_text' is already registered"):
            register("reverse_text(s)", "again")(reverse_text)
    finally:
        del FUNCTIONS["reverse_text"]


@pytest.mark.parametrize(
    ("signature", "bounds"),
    [
        pytest.param("f()", (0, 0), id="none"),
        pytest.param("f(a, b?)", (1, 2), id="optional"),
        pytest.param("f(a, ...)", (1, None), id="variadic"),
    ],
)
def test_signature_arity(signature: str, bounds: tuple) -> None:
    register(signature, "test")(lambda ctx, *a: None)
    try:
        assert (FUNCTIONS["f"].min_args, FUNCTIONS["f"].max_args) == bounds
    finally:
        del FUNCTIONS["f"]


def test_every_function_is_documented() -> None:
    doc = (PROJECT_ROOT / "docs" / "mapping.md").read_text(encoding="utf-8")
    assert [s.signature for s in FUNCTIONS.values() if f"| `{s.signature}` |" not in doc] == []
