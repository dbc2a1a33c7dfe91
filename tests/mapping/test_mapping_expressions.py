"""Parser of the mapping expression language: trees, columns, and exact error messages."""

from __future__ import annotations

import time

import pytest

from headwater.mapping.expressions import (
    BinaryOp,
    Call,
    Column,
    ExpressionError,
    Literal,
    column_refs,
    columns,
    parse,
)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        pytest.param("first_name", Column("first_name"), id="bare_column"),
        pytest.param("`Last Name`", Column("Last Name"), id="backtick_column"),
        pytest.param("`a``b`", Column("a`b"), id="backtick_escaped"),
        pytest.param("`E-mail (work)`", Column("E-mail (work)"), id="backtick_any_chars"),
        pytest.param("prénom", Column("prénom"), id="unicode_name"),
        pytest.param("'it''s'", Literal("it's"), id="doubled_quote"),
        pytest.param(r"'a\'b\n'", Literal("a'b\n"), id="backslash_escapes"),
        pytest.param(r'"say \"hi\""', Literal('say "hi"'), id="double_quotes"),
        pytest.param(r"'\d+'", Literal(r"\d+"), id="unknown_escape_kept"),
        pytest.param("42", Literal(42), id="int"),
        pytest.param("4.5", Literal(4.5), id="float"),
        pytest.param(".5", Literal(0.5), id="float_leading_dot"),
        pytest.param("1e3", Literal(1000.0), id="exponent"),
        pytest.param("-3", Literal(-3), id="negative_literal"),
        pytest.param("TRUE", Literal(True), id="true"),
        pytest.param("false", Literal(False), id="false"),
        pytest.param("null", Literal(None), id="null"),
        pytest.param("`null`", Column("null"), id="keyword_as_column"),
        pytest.param("-x", BinaryOp("-", Literal(0), Column("x")), id="negated_column"),
        pytest.param("LOWER(x)", Call("lower", (Column("x"),)), id="function_name_any_case"),
        pytest.param("now()", Call("now", ()), id="no_args"),
        pytest.param(
            "a + b * c",
            BinaryOp("+", Column("a"), BinaryOp("*", Column("b"), Column("c"))),
            id="precedence",
        ),
        pytest.param(
            "(a + b) * c",
            BinaryOp("*", BinaryOp("+", Column("a"), Column("b")), Column("c")),
            id="parentheses",
        ),
        pytest.param(
            "a - b - c",
            BinaryOp("-", BinaryOp("-", Column("a"), Column("b")), Column("c")),
            id="left_associative",
        ),
        pytest.param(
            "a || ' ' || b",
            BinaryOp("||", BinaryOp("||", Column("a"), Literal(" ")), Column("b")),
            id="concat_operator",
        ),
        pytest.param(
            "a * 2 > b + 1",
            BinaryOp(">", BinaryOp("*", Column("a"), Literal(2)), BinaryOp("+", Column("b"), Literal(1))),
            id="comparison_lowest",
        ),
        pytest.param("a <> b", BinaryOp("!=", Column("a"), Column("b")), id="sql_not_equal"),
        pytest.param(
            "concat(trim(first_name), ' ', trim(`Last Name`))",
            Call(
                "concat",
                (Call("trim", (Column("first_name"),)), Literal(" "), Call("trim", (Column("Last Name"),))),
            ),
            id="nested_calls",
        ),
        pytest.param(
            "substr(x, 2, 3)", Call("substr", (Column("x"), Literal(2), Literal(3))), id="literal_args"
        ),
        pytest.param("  a\n+\tb  ", BinaryOp("+", Column("a"), Column("b")), id="whitespace"),
    ],
)
def test_parse(text: str, tree: object) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        pytest.param("", "empty expression at position 0", 0, id="empty"),
        pytest.param("   ", "empty expression at position 0", 0, id="blank"),
        pytest.param(
            "concat(lowr(x))",
            "unknown function 'lowr' at position 7; did you mean 'lower'?",
            7,
            id="unknown_function_hint",
        ),
        pytest.param(
            "xyzzy(x)",
            "unknown function 'xyzzy' at position 0; known functions: abs, case, ceil, coalesce, concat, "
            "contains, crc32, date_add, date_diff, date_part, decode, email_domain, ends_with, first, floor, "
            "format, format_date, hmac_sha256, iif, initcap, is_empty, is_null, join, json_array, "
            "json_extract, last, length, lookup, lower, lpad, md5, not, now, nullif, parse_number, "
            "parse_timestamp, phone_e164, regex_extract, regex_match, regex_replace, replace, round, rpad, "
            "run_date, sha1, sha256, sha256_salted, size, split, starts_with, substr, to_bool, to_date, "
            "to_float, to_int, to_string, to_timestamp, to_utc, today, trim, try_to_bool, try_to_date, "
            "try_to_float, try_to_int, try_to_timestamp, upper, url_param, url_part, uuid, uuid5",
            0,
            id="unknown_function_list",
        ),
        pytest.param(
            "substr(x, 1)",
            "wrong number of arguments for 'substr' at position 0: takes 3 arguments, got 2; "
            "usage: substr(s, start, length)",
            0,
            id="too_few",
        ),
        pytest.param(
            "a || trim(x, y)",
            "wrong number of arguments for 'trim' at position 5: takes 1 argument, got 2; usage: trim(s)",
            5,
            id="too_many",
        ),
        pytest.param(
            "regex_extract(x, 'a', 1, 2)",
            "wrong number of arguments for 'regex_extract' at position 0: takes 2 to 3 arguments, got 4; "
            "usage: regex_extract(s, pattern, group?)",
            0,
            id="optional_arg",
        ),
        pytest.param(
            "concat()",
            "wrong number of arguments for 'concat' at position 0: takes at least 1 argument, got 0; "
            "usage: concat(s, ...)",
            0,
            id="variadic_none",
        ),
        pytest.param(
            "now(1)",
            "wrong number of arguments for 'now' at position 0: takes no arguments, got 1; usage: now()",
            0,
            id="now_with_arg",
        ),
        pytest.param(
            "substr(x, y, 2)",
            "argument 'start' of 'substr' at position 10 must be an integer literal",
            10,
            id="literal_required",
        ),
        pytest.param(
            "replace(x, 1, 'b')",
            "argument 'old' of 'replace' at position 11 must be a string literal",
            11,
            id="string_literal_required",
        ),
        pytest.param(
            "substr(x, 0, 2)", "start counts from 1 in 'substr' at position 0", 0, id="substr_start"
        ),
        pytest.param(
            "regex_extract(x, '(a', 1)",
            "invalid regular expression '(a' (missing ), unterminated subpattern) in 'regex_extract' at position 0",
            0,
            id="bad_regex",
        ),
        pytest.param(
            "regex_extract(x, '(a)', 2)",
            "group 2 does not exist in '(a)' (it has 1) in 'regex_extract' at position 0",
            0,
            id="missing_group",
        ),
        pytest.param(
            "regex_extract(x, 'a(?=b)')",
            "look-around is not supported in regular expression 'a(?=b)' in 'regex_extract' at position 0",
            0,
            id="lookahead",
        ),
        pytest.param(
            "a +", "expected a value at position 3, found end of expression", 3, id="dangling_operator"
        ),
        pytest.param("a b", "unexpected name 'b' at position 2", 2, id="two_values"),
        pytest.param("trim(a", "expected ')' at position 6, found end of expression", 6, id="unclosed_call"),
        pytest.param("(a + b", "expected ')' at position 6, found end of expression", 6, id="unclosed_paren"),
        pytest.param("trim(a,)", "expected a value at position 7, found ')'", 7, id="trailing_comma"),
        pytest.param("a)", "unexpected ')' at position 1", 1, id="stray_paren"),
        pytest.param("a = b = c", "unexpected '=' at position 6", 6, id="chained_comparison"),
        pytest.param("a # b", "unexpected character '#' at position 2", 2, id="bad_character"),
        pytest.param("a | b", "unexpected character '|' at position 2", 2, id="single_pipe"),
        pytest.param("'abc", "unterminated string starting at position 0", 0, id="unterminated_string"),
        pytest.param('x || "ab', "unterminated string starting at position 5", 5, id="unterminated_double"),
        pytest.param(
            "`Last Name", "unterminated column name starting at position 0", 0, id="unterminated_name"
        ),
        pytest.param("a + ``", "empty column name at position 4", 4, id="empty_name"),
        pytest.param("12abc", "unexpected name 'abc' at position 2", 2, id="number_then_name"),
        pytest.param("'a' 'b'", "unexpected string 'b' at position 4", 4, id="two_strings"),
    ],
)
def test_parse_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.message == message
    assert str(caught.value) == message
    assert caught.value.position == position


def test_columns() -> None:
    node = parse("concat(trim(first_name), ' ', `Last Name`, iif(is_null(a), a, first_name))")
    assert columns(node) == {"first_name", "Last Name", "a"}
    assert [(c.name, c.pos) for c in column_refs(node)] == [
        ("first_name", 12),
        ("Last Name", 30),
        ("a", 55),
        ("a", 59),
        ("first_name", 62),
    ]
    assert columns(parse("'constant'")) == set()


def test_positions_are_not_part_of_equality() -> None:
    assert parse("a+b") == parse("a  +  b")


def test_parse_is_light_and_fast() -> None:
    # Runs at every DAG parse for every source: no pyarrow, and thousands of distinct expressions
    # must parse in well under a second (bounded loosely here so slow CI machines do not flake).
    started = time.perf_counter()
    for i in range(1000):
        parse(f"concat(trim(first_name), ' ', trim(`Last Name {i}`)) || lower(email_{i})")
    assert time.perf_counter() - started < 5
