"""The extended function library, table-driven: every function with nulls and bad values; secrets,
lookups, type checking, shared subexpressions and the fast paths."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from test_mapping_functions import CASES as BASIC_CASES
from test_mapping_functions import run

from headwater.mapping.context import MappingError
from headwater.mapping.expressions import Call, ExpressionError, iter_nodes, parse, result_type
from headwater.mapping.functions import FUNCTIONS

ISO_TS = "not a valid ISO-8601 timestamp (expected e.g. 2024-03-01T10:00:00Z)"
NUM = "not a valid number"
SALTED_ABC = "fadf7b97406e1eaa259a82e26e6839e564c37c256876e060e17838c86b7275ef"  # sha256(b"pepper" + b"abc")
HMAC_ABC = "95ac8d48c4886bae06029b433c46c419019bf03a65a842069d84b7755b1d08c4"
URL = "https://Shop.Example.com:8080/a/b?x=1#top"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


CASES = [
    # text
    pytest.param(
        "split(s, ',')", {"s": ["a,b", None, "", "x"]}, [["a", "b"], None, [""], ["x"]], [], id="split"
    ),
    pytest.param(
        r"regex_match(s, '^a\d$')", {"s": ["a1", "b", None]}, [True, False, None], [], id="regex_match"
    ),
    pytest.param(
        r"regex_replace(s, '(\d+)', '<\1>')",
        {"s": ["a12b3", None]},
        ["a<12>b<3>", None],
        [],
        id="regex_replace",
    ),
    pytest.param(
        "regex_replace(s, '[^0-9]', '')",
        {"s": ["+1 (2)"] * 3000 + [None]},
        ["12"] * 3000 + [None],
        [],
        id="regex_replace_by_distinct",
    ),
    pytest.param("lpad(s, 5, '0')", {"s": ["42", "123456", None]}, ["00042", "123456", None], [], id="lpad"),
    pytest.param("rpad(s, 3)", {"s": ["a", None]}, ["a  ", None], [], id="rpad"),
    pytest.param("format('{}-{}', a, b)", {"a": ["x", None], "b": [1, 2]}, ["x-1", "-2"], [], id="format"),
    pytest.param("length(s)", {"s": ["héllo", "", None]}, [5, 0, None], [], id="length"),
    pytest.param("initcap(s)", {"s": ["aNN o'neil", None]}, ["Ann O'Neil", None], [], id="initcap"),
    pytest.param("contains(s, 'b')", {"s": ["abc", "x", None]}, [True, False, None], [], id="contains"),
    pytest.param("starts_with(s, 'a')", {"s": ["abc", "x", None]}, [True, False, None], [], id="starts_with"),
    pytest.param("ends_with(s, 'c')", {"s": ["abc", "x", None]}, [True, False, None], [], id="ends_with"),
    pytest.param("trim(s)", {"s": ["\u00a0a\u00a0", " b "]}, ["a", "b"], [], id="trim_unicode_space"),
    pytest.param("upper(s)", {"s": ["straße", "abc"]}, ["STRAẞE", "ABC"], [], id="upper_unicode"),
    # hashing and ids
    pytest.param(
        "sha1(s)", {"s": ["abc", None]}, ["a9993e364706816aba3e25717850c26c9cd0d89d", None], [], id="sha1"
    ),
    pytest.param("crc32(s)", {"s": ["abc", None]}, [891568578, None], [], id="crc32"),
    pytest.param(
        "sha256_salted(s, 'pii_salt')", {"s": ["abc", None]}, [SALTED_ABC, None], [], id="sha256_salted"
    ),
    pytest.param("hmac_sha256(s, 'pii_salt')", {"s": ["abc", None]}, [HMAC_ABC, None], [], id="hmac_sha256"),
    pytest.param(
        "uuid5(s)", {"s": ["abc", None]}, ["68661508-f3c4-55b4-945d-ae2b4dfe5db4", None], [], id="uuid5"
    ),
    pytest.param("length(uuid())", {"s": ["a", "b"]}, [36, 36], [], id="uuid"),
    # logic
    pytest.param(
        "case(n > 1, 'big', n = 1, 'one', 'small')",
        {"n": [2, 1, 0, None]},
        ["big", "one", "small", "small"],
        [],
        id="case",
    ),
    pytest.param("case(n > 1, 'big')", {"n": [2, 1]}, ["big", None], [], id="case_without_default"),
    pytest.param("decode(c, 'A', 1, 'B', 2, 0)", {"c": ["A", "B", "C", None]}, [1, 2, 0, 0], [], id="decode"),
    pytest.param(
        "decode(c, 'A', 1, 'B', 2)",
        {"c": ["A", "B", "C", None]},
        [1, 2, None, None],
        [],
        id="decode_no_default",
    ),
    pytest.param("not b", {"b": [True, False, None]}, [False, True, None], [], id="not"),
    pytest.param("not(b)", {"b": ["yes", "n"]}, [False, True], [], id="not_text"),
    pytest.param(
        "a and b",
        {"a": [True, True, None, False], "b": [True, None, False, None]},
        [True, None, False, False],
        [],
        id="and_kleene",
    ),
    pytest.param(
        "a or b",
        {"a": [True, False, None, False], "b": [None, None, True, False]},
        [True, None, True, False],
        [],
        id="or_kleene",
    ),
    pytest.param(
        "a or b",
        {"a": ["maybe"], "b": [True]},
        [True],
        [([0], "not a valid boolean (expected true/false, yes/no, y/n, t/f or 1/0)")],
        id="or_bad_text",
    ),
    pytest.param("nullif(s, 'N/A')", {"s": ["N/A", "x", None]}, [None, "x", None], [], id="nullif"),
    pytest.param("is_empty(s)", {"s": ["", " ", "x", None]}, [True, True, False, True], [], id="is_empty"),
    pytest.param("is_empty(n)", {"n": [1, None]}, [False, True], [], id="is_empty_number"),
    # dates and times
    pytest.param(
        "parse_timestamp(s, '%d/%m/%Y %H:%M', 'Europe/Paris')",
        {"s": ["01/07/2024 10:00", "bad", None, "31/02/2024 10:00"]},
        [utc(2024, 7, 1, 8, 0), None, None, None],
        [([1, 3], "not a valid timestamp in format '%d/%m/%Y %H:%M'")],
        id="parse_timestamp_zone",
    ),
    pytest.param(
        "parse_timestamp(s, '%Y-%m-%d %H:%M:%S%z')",
        {"s": ["2024-07-01 10:00:00+0200"]},
        [utc(2024, 7, 1, 8)],
        [],
        id="parse_timestamp_offset_in_text",
    ),
    pytest.param(
        "to_utc(s, 'America/New_York')",
        {"s": ["2024-01-15 09:00", "2024-01-15T09:00:00Z", None, "nope"]},
        [utc(2024, 1, 15, 14), utc(2024, 1, 15, 9), None, None],
        [([3], ISO_TS)],
        id="to_utc",
    ),
    pytest.param(
        "to_utc(t, '+02:00')",
        {"t": pa.array([datetime(2024, 1, 1, 12)], pa.timestamp("s"))},
        [utc(2024, 1, 1, 10)],
        [],
        id="to_utc_naive_timestamp",
    ),
    pytest.param(
        "format_date(to_timestamp(s), '%Y/%m/%d %H:%M', 'Asia/Tokyo')",
        {"s": ["2024-01-15T20:00:00Z", None]},
        ["2024/01/16 05:00", None],
        [],
        id="format_date_zone",
    ),
    pytest.param(
        "format_date(to_date(s), '%d.%m.%Y')",
        {"s": ["2024-01-15", None]},
        ["15.01.2024", None],
        [],
        id="format_date",
    ),
    pytest.param("try_to_int(s)", {"s": ["42", "x", None]}, [42, None, None], [], id="try_to_int"),
    pytest.param("try_to_float(s)", {"s": ["2.5", "x"]}, [2.5, None], [], id="try_to_float"),
    pytest.param("try_to_bool(s)", {"s": ["yes", "perhaps"]}, [True, None], [], id="try_to_bool"),
    pytest.param(
        "try_to_date(s, '%d/%m/%Y', '%Y%m%d')",
        {"s": ["01/03/2024", "20240302", "2024-03-03"]},
        [date(2024, 3, 1), date(2024, 3, 2), None],
        [],
        id="try_to_date_formats",
    ),
    pytest.param(
        "try_to_timestamp(s)",
        {"s": ["2024-03-01T10:00:00Z", "later"]},
        [datetime(2024, 3, 1, 10, tzinfo=UTC), None],
        [],
        id="try_to_timestamp",
    ),
    pytest.param(
        "try_to_int(to_int(s))",
        {"s": ["x"]},
        [None],
        [([0], "not a valid integer")],
        id="try_keeps_inner_errors",
    ),
    pytest.param(
        "date_part('year', to_date(s))", {"s": ["2024-01-15", None]}, [2024, None], [], id="date_part_year"
    ),
    pytest.param(
        "date_part('day_of_week', to_date(s))", {"s": ["2024-01-15"]}, [1], [], id="date_part_monday_is_1"
    ),
    pytest.param("date_part('week', to_date(s))", {"s": ["2024-01-15"]}, [3], [], id="date_part_iso_week"),
    pytest.param(
        "date_part('hour', to_timestamp(s), 'Asia/Tokyo')",
        {"s": ["2024-01-15T20:00:00Z"]},
        [5],
        [],
        id="date_part_zone",
    ),
    pytest.param(
        "date_part('quarter', s)", {"s": ["2024-05-15", "x"]}, [2, None], [([1], ISO_TS)], id="date_part_text"
    ),
    pytest.param(
        "date_add(to_date(s), 1, 'month')",
        {"s": ["2024-01-31", "2023-12-15", None]},
        [date(2024, 2, 29), date(2024, 1, 15), None],
        [],
        id="date_add_month_clamps",
    ),
    pytest.param(
        "date_add(to_date(s), -1, 'year')", {"s": ["2024-02-29"]}, [date(2023, 2, 28)], [], id="date_add_year"
    ),
    pytest.param(
        "date_add(to_timestamp(s), n, 'day')",
        {"s": ["2024-01-31T10:30:00Z"] * 2, "n": [1, -31]},
        [utc(2024, 2, 1, 10, 30), utc(2023, 12, 31, 10, 30)],
        [],
        id="date_add_days_from_column",
    ),
    pytest.param(
        "date_add(to_timestamp(s), 13, 'month')",
        {"s": ["2024-01-31T23:30:00Z"]},
        [utc(2025, 2, 28, 23, 30)],
        [],
        id="date_add_keeps_time",
    ),
    pytest.param(
        "date_diff('day', a, b)",
        {"a": ["2024-01-01T23:00:00Z", None], "b": ["2024-01-02T01:00:00Z", "2024-01-01"]},
        [1, None],
        [],
        id="date_diff_boundaries",
    ),
    pytest.param(
        "date_diff('month', to_date(a), to_date(b))",
        {"a": ["2024-01-31"], "b": ["2024-03-01"]},
        [2],
        [],
        id="date_diff_month",
    ),
    pytest.param(
        "date_diff('year', a, b)",
        {"a": ["2024-06-01"], "b": ["2020-01-01"]},
        [-4],
        [],
        id="date_diff_negative",
    ),
    pytest.param("run_date()", {"x": [1]}, [date(2024, 5, 1)], [], id="run_date"),
    pytest.param("today()", {"x": [1]}, [date(2024, 5, 1)], [], id="today"),
    # numbers
    pytest.param("round(x, 1)", {"x": [1.25, -1.25, None]}, [1.3, -1.3, None], [], id="round_half_away"),
    pytest.param("round(x)", {"x": ["2.5", "-2.5", "x"]}, [3.0, -3.0, None], [([2], NUM)], id="round_text"),
    pytest.param("round(i, -1)", {"i": [15, 25]}, [20, 30], [], id="round_tens"),
    pytest.param("abs(x)", {"x": [-1, 2, None]}, [1, 2, None], [], id="abs"),
    pytest.param("floor(x)", {"x": [1.7, -1.2, None]}, [1, -2, None], [], id="floor"),
    pytest.param("ceil(x)", {"x": [1.2, -1.7]}, [2, -1], [], id="ceil"),
    pytest.param(
        "parse_number(s, ',', '.')",
        {"s": ["1.234,5", "12,5", "1,2,3", None, "abc", "1.23"]},
        [1234.5, 12.5, None, None, None, 1.23],
        [([2, 4], NUM)],
        id="parse_number_european",
    ),
    pytest.param(
        "parse_number(s)", {"s": ["1,234.5", " 3.5 "]}, [None, 3.5], [([0], NUM)], id="parse_number_plain"
    ),
    pytest.param(
        "parse_number(s, '.', ',')",
        {"s": ["1,234.5", "3.5", "12,34"]},
        [1234.5, 3.5, None],
        [([2], NUM)],
        id="parse_number_grouped",
    ),
    # arrays and JSON
    pytest.param("first(split(s, ','))", {"s": ["a,b", "", None]}, ["a", "", None], [], id="first"),
    pytest.param("last(split(s, ','))", {"s": ["a,b", "", None]}, ["b", "", None], [], id="last"),
    pytest.param(
        "first(a)", {"a": pa.array([[], [1, 2], None, [3]])}, [None, 1, None, 3], [], id="first_empty"
    ),
    pytest.param(
        "last(a)", {"a": pa.array([[], [1, 2], None, [3]])}, [None, 2, None, 3], [], id="last_empty"
    ),
    pytest.param("size(split(s, ','))", {"s": ["a,b", None]}, [2, None], [], id="size"),
    pytest.param("join(split(s, ','), '|')", {"s": ["a,b", None]}, ["a|b", None], [], id="join"),
    pytest.param(
        "join(a, '-')",
        {"a": pa.array([[1, None, 2], None, []])},
        ["1-2", None, ""],
        [],
        id="join_skips_nulls",
    ),
    pytest.param(
        "json_extract(s, '$.a.b')",
        {"s": ['{"a":{"b":1}}', '{"a":{"b":"x"}}', '{"a":{"b":[1,2]}}', "{}", None, "nope"]},
        ["1", "x", "[1,2]", None, None, None],
        [([5], "not valid JSON")],
        id="json_extract",
    ),
    pytest.param(
        "json_extract(s, '$.items[1].sku')",
        {"s": ['{"items":[{"sku":"A"},{"sku":"B"}]}']},
        ["B"],
        [],
        id="json_extract_index",
    ),
    pytest.param(
        "json_array(s)",
        {"s": ['[1,"a",null]', '{"x":1}', None]},
        [["1", "a", None], None, None],
        [],
        id="json_array",
    ),
    pytest.param(
        "json_array(s, '$.tags')",
        {"s": ['{"tags":["vip","new"]}']},
        [["vip", "new"]],
        [],
        id="json_array_path",
    ),
    # URLs, phone numbers, lookups
    pytest.param(
        "url_part(s, 'host')",
        {"s": [URL, "not a url", None]},
        ["shop.example.com", None, None],
        [],
        id="url_host",
    ),
    pytest.param("url_part(s, 'port')", {"s": [URL]}, ["8080"], [], id="url_port"),
    pytest.param("url_part(s, 'path')", {"s": [URL]}, ["/a/b"], [], id="url_path"),
    pytest.param("url_part(s, 'query')", {"s": [URL]}, ["x=1"], [], id="url_query"),
    pytest.param("url_part(s, 'fragment')", {"s": [URL]}, ["top"], [], id="url_fragment"),
    pytest.param("url_part(s, 'scheme')", {"s": ["HTTPS://x.com"]}, ["https"], [], id="url_scheme"),
    pytest.param(
        "url_param(s, 'utm_source')",
        {"s": ["https://x.com/?utm_source=news%20letter&a=1", "https://x.com/", None]},
        ["news letter", None, None],
        [],
        id="url_param",
    ),
    pytest.param(
        "phone_e164(s, 'US')",
        {"s": ["(415) 555-2671", "+44 20 7946 0958", "123", None, "415.555.2671"]},
        ["+14155552671", "+442079460958", None, None, "+14155552671"],
        [],
        id="phone_e164_region",
    ),
    pytest.param(
        "phone_e164(s)",
        {"s": ["(415) 555-2671", "+33 1 42 68 53 00"]},
        [None, "+33142685300"],
        [],
        id="phone_e164_no_region",
    ),
    pytest.param(
        "lookup('countries', c, 'name')",
        {"c": ["FR", "XX", None, "us"]},
        ["France", None, None, None],
        [],
        id="lookup_csv",
    ),
    pytest.param(
        "lookup('loyalty_tiers', t, 'rank')", {"t": ["gold", "tin"]}, ["3", None], [], id="lookup_yaml"
    ),
    pytest.param(
        "coalesce(lookup('countries', upper(c), 'name'), 'Unknown')",
        {"c": ["fr", "xx"]},
        ["France", "Unknown"],
        [],
        id="lookup_with_default",
    ),
]


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_PII_SALT", "pepper")


@pytest.mark.parametrize(("expr", "cols", "values", "failures"), CASES)
def test_function(expr: str, cols: dict, values: list, failures: list) -> None:
    assert run(expr, **cols) == (values, failures)


def test_every_function_is_covered() -> None:
    calls = {
        n.name
        for case in BASIC_CASES + CASES
        for n in iter_nodes(parse(case.values[0]))
        if isinstance(n, Call)
    }
    assert sorted(set(FUNCTIONS) - calls) == []


def test_missing_salt_variable_is_a_clear_error() -> None:
    with pytest.raises(MappingError) as caught:
        run("sha256_salted(s, 'no_such_salt')", s=["a"])
    assert str(caught.value) == (
        "sha256_salted reads its salt from Airflow Variable 'no_such_salt', which is not set; create it "
        "(Admin → Variables, `airflow variables set no_such_salt <salt>`, or the environment variable "
        "AIRFLOW_VAR_NO_SUCH_SALT)"
    )


def test_salt_from_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PII", '{"conn_type": "generic", "password": "pepper"}')
    assert run("sha256_salted(s, 'conn:pii')", s=["abc"])[0] == [SALTED_ABC]


# --- parse-time errors: exact messages with positions ---------------------------------------------

ERRORS = [
    pytest.param(
        "upper(to_date(x))",
        "type mismatch at position 6: argument 's' of 'upper' must be a string, got a date",
        id="string_param",
    ),
    pytest.param(
        "to_date(x) + 1",
        "type mismatch at position 0: '+' needs numbers, got a date (use date_add or date_diff for dates)",
        id="date_arithmetic",
    ),
    pytest.param(
        "a + 'x'",
        "type mismatch at position 4: '+' needs numbers, got a string",
        id="string_literal_arithmetic",
    ),
    pytest.param(
        "to_date(a) = true",
        "type mismatch at position 11: cannot compare a date with a boolean using '='",
        id="compare",
    ),
    pytest.param(
        "iif(a, 1, 'x')",
        "type mismatch at position 10: arguments of 'iif' must share one type, got an integer and a string",
        id="iif_branches",
    ),
    pytest.param(
        "coalesce(a, 1, to_date(b))",
        "type mismatch at position 15: arguments of 'coalesce' must share one type, got an integer and a date",
        id="coalesce",
    ),
    pytest.param(
        "case(1, 'a')",
        "type mismatch at position 5: argument 'cond' of 'case' must be a boolean, got an integer",
        id="case_condition",
    ),
    pytest.param("a and 2", "type mismatch at position 6: 'and' needs booleans, got an integer", id="and"),
    pytest.param(
        "split(a, ',') || 'x'",
        "type mismatch at position 0: '||' joins text, got an array (use join(array, separator))",
        id="pipes_array",
    ),
    pytest.param(
        "first(lower(a))",
        "type mismatch at position 6: argument 'a' of 'first' must be an array, got a string",
        id="array_param",
    ),
    pytest.param(
        "round(a, b)", "argument 'digits' of 'round' at position 9 must be an integer literal", id="literal"
    ),
    pytest.param(
        "date_add(d, 1, 'days')",
        "unknown unit 'days'; valid: second, minute, hour, day, week, month, quarter, year in 'date_add' at position 0",
        id="unit",
    ),
    pytest.param(
        "date_part('yr', d)",
        "unknown date part 'yr'; valid: year, quarter, month, week, day, day_of_week, day_of_year, hour, minute, second in 'date_part' at position 0",
        id="part",
    ),
    pytest.param(
        "to_utc(d, 'Mars/Base')",
        "unknown time zone 'Mars/Base' (use an IANA name such as 'Europe/Paris' or an offset such as '+02:00') in 'to_utc' at position 0",
        id="zone",
    ),
    pytest.param(
        "phone_e164(p, 'us')",
        "region 'us' must be a two-letter upper-case country code such as 'US' or 'FR' in 'phone_e164' at position 0",
        id="region",
    ),
    pytest.param(
        "sha256_salted(e, 's3cr3t value!')",
        "'s3cr3t value!' is not a Variable name (or conn:<connection id>); the salt itself never goes in the source file in 'sha256_salted' at position 0",
        id="salt_name",
    ),
    pytest.param(
        "format('{}-{}', a)",
        "template '{}-{}' has 2 placeholder(s) {} but 1 value(s) follow in 'format' at position 0",
        id="format",
    ),
    pytest.param(
        "json_extract(j, 'a..b')",
        "bad JSON path 'a..b' (expected e.g. '$.address.city' or '$.tags[0]') in 'json_extract' at position 0",
        id="json_path",
    ),
    pytest.param(
        "lookup('planets', c, 'name')",
        "lookup table 'planets' not found in {dir} (available: countries, loyalty_tiers) in 'lookup' at position 0",
        id="lookup_table",
    ),
    pytest.param(
        "lookup('countries', c, 'capital')",
        "lookup table 'countries' has no column 'capital' (columns: code, name, alpha3, region) in 'lookup' at position 0",
        id="lookup_column",
    ),
    pytest.param(
        "decode(a, 'x')",
        "wrong number of arguments for 'decode' at position 0: takes at least 3 arguments, got 2; usage: decode(x, search, result, ...)",
        id="decode_arity",
    ),
    pytest.param("not", "expected a value at position 3, found end of expression", id="bare_not"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors(text: str, message: str) -> None:
    from headwater.mapping.lookups import lookups_dir

    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.message == message.replace("{dir}", str(lookups_dir()))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("a", "any"),
        ("to_int(a) + 1", "integer"),
        ("to_int(a) / 2", "number"),
        ("coalesce(to_int(a), 1.5)", "number"),
        ("iif(a > 1, to_date(b), to_timestamp(c))", "timestamp"),
        ("coalesce(a, 'x')", "any"),
        ("not a or b", "boolean"),
        ("split(a, ',')", "array"),
        ("date_diff('day', a, run_date())", "integer"),
        ("null", "any"),
    ],
)
def test_result_types(text: str, kind: str) -> None:
    assert result_type(text) == kind


def test_boolean_keywords_bind_looser_than_comparison() -> None:
    assert parse("not a = 1 and b or c") == parse("((not (a = 1)) and b) or c")


def test_lookup_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "codes.yaml").write_text("- {code: A, label: Alpha}\n- {code: B, label: Beta}\n")
    monkeypatch.setenv("HEADWATER_LOOKUPS_DIR", str(tmp_path))
    assert run("lookup('codes', c, 'label')", c=["B", "A", "C"])[0] == ["Beta", "Alpha", None]


# --- the fast paths give what the strict paths give -----------------------------------------------


@pytest.mark.parametrize(
    ("expr", "clean", "messy"),
    [
        ("to_int(s)", ["42", "-7", "0042"], ["0x1F", " 4", "", "42.0", "+5"]),
        ("to_float(s)", ["1.5", ".5", "1e3"], ["inf", "nan", "1,5", "1e999", " 2"]),
        ("to_date(s)", ["2024-02-29", "2023-01-01"], ["2024-02-30", "2024-2-3", " 2024-01-01", ""]),
        (
            "to_timestamp(s)",
            ["2024-03-01T10:00:00Z", "2024-03-01T10:00+02:00", "2024-03-01 10:00:00.5Z"],
            ["2024-03-01T10Z", "2024-03-01T10+02:00", "2024-02-30T10:00:00Z", "2024-03-01", ""],
        ),
    ],
)
def test_fast_and_strict_paths_agree(expr: str, clean: list, messy: list) -> None:
    together = run(expr, s=clean + messy)  # messy values force the strict path for the whole batch
    alone = run(expr, s=clean)  # clean values alone take Arrow's cast
    assert together[0][: len(clean)] == alone[0]
    assert alone[1] == []
