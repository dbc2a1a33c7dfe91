"""The Arrow path of the validate stage against Great Expectations' own evaluation.

Every supported expectation (with and without `mostly`, with the argument variants that change its
meaning) runs twice on the same chunks: through `arrow_checks` (engine "auto") and through GX's pandas
engine on the whole chunk (engine "gx", the behaviour before the Arrow path). The GX result of each
expectation (success, counts, percentages, unexpected index list and query), the quarantined rows and
the row errors must be identical. The chunks hold nulls, NaN, -0.0, infinities, Unicode (accents,
non-breaking and ideographic spaces, Arabic digits, emoji), empty strings, newlines and vertical tabs,
numbers as text, duplicates, and random data from several seeds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from headwater.records import ROW_ID
from headwater.validation.arrow_checks import ARROW_TYPES
from headwater.validation.models import ValidateConfig
from headwater.validation.runner import Validator

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

REGEXES = [
    EMAIL_RE,  # \s: pandas uses Python's re per value
    r"^[a-z]+$",  # RE2 unless a value has a newline ($ before a trailing newline)
    r"^\w+$",  # \w: Python's re when the column has non-ASCII text
    r"\d",
    r"\bab",
    r"abc\Z",
    r"(?i)^A",
    r"^(a)\1",  # back reference: Python's re
    r"(?=a)a",  # lookahead: Python's re
    r"a{,2}b",  # parsed differently by RE2 and re
    r"^$",
    r"^\S+$",
    r"é|ß",
    r"[]\s]",  # a ']' first in a class, then \s: spelled out for RE2
    r"a\\s",  # an escaped backslash, then a literal s
    r"\s$",
    r"(?i)É\s",  # case folding of non-ASCII text: Python's re
    r"[^\s]+@",
    r"^\s|c$",  # a final $ in one branch: `\n?\z` for RE2
    r"\s\\$",  # an escaped backslash, then the final $
]

# (type, kwargs) on the corpus columns; each also runs with mostly (where GX takes it)
CASES: list[tuple[str, dict]] = [
    *[("expect_column_values_to_not_be_null", {"column": c}) for c in ("s", "i", "i_nn", "f", "b", "d", "ts")],
    *[("expect_column_values_to_be_unique", {"column": c}) for c in ("s", "i", "i_nn", "i32", "f", "b", "d", "ts", "num_text")],
    ("expect_compound_columns_to_be_unique", {"column_list": ["s", "i"]}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["f", "d"]}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["s", "f"], "ignore_row_if": "any_value_is_missing"}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["b", "i"], "ignore_row_if": "never"}),
    *[("expect_column_values_to_match_regex", {"column": "s", "regex": r}) for r in REGEXES],
    ("expect_column_values_to_match_regex", {"column": "num_text", "regex": r"^\d+$"}),
    ("expect_column_values_to_be_between", {"column": "i", "min_value": 0, "max_value": 50}),
    ("expect_column_values_to_be_between", {"column": "i_nn", "min_value": 10}),
    ("expect_column_values_to_be_between", {"column": "i_nn", "max_value": 10, "strict_max": True}),
    ("expect_column_values_to_be_between", {"column": "i32", "min_value": -2.5, "max_value": 7.5}),
    ("expect_column_values_to_be_between", {"column": "f", "min_value": 0, "max_value": 1, "strict_min": True}),
    ("expect_column_values_to_be_between", {"column": "f", "min_value": -1.5, "max_value": 1e300}),
    ("expect_column_values_to_be_between", {"column": "i", "min_value": 3, "max_value": 3}),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["a", "é", "", 1, "ab"]}),
    ("expect_column_values_to_be_in_set", {"column": "num_text", "value_set": [1, "1", "2.0"]}),
    ("expect_column_values_to_be_in_set", {"column": "i", "value_set": [1, 2.0, 2.5, "3"]}),
    ("expect_column_values_to_be_in_set", {"column": "i_nn", "value_set": [1, 2, 3, 40]}),
    ("expect_column_values_to_be_in_set", {"column": "i_nn", "value_set": [1.0, 2.5]}),
    ("expect_column_values_to_be_in_set", {"column": "f", "value_set": [0.0, 1, 0.5]}),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": []}),
    ("expect_column_value_lengths_to_be_between", {"column": "s", "min_value": 1}),
    ("expect_column_value_lengths_to_be_between", {"column": "s", "min_value": 2, "max_value": 6, "strict_max": True}),
    ("expect_column_value_lengths_to_be_between", {"column": "s", "max_value": 3.5}),
    ("expect_column_value_lengths_to_equal", {"column": "s", "value": 2}),
]
# Left to GX (other expectation types, or arguments the Arrow path does not mirror): run beside the
# others so a chunk is split between both engines.
GX_CASES: list[tuple[str, dict]] = [
    ("expect_column_values_to_be_of_type", {"column": "f", "type_": "float64"}),
    ("expect_table_row_count_to_be_between", {"min_value": 1}),
    ("expect_column_values_to_be_between", {"column": "d", "min_value": "2020-01-01"}),
    ("expect_column_values_to_be_in_set", {"column": "b", "value_set": [True]}),
    ("expect_column_values_to_match_regex", {"column": "s", "regex": "^a", "row_condition": 'i>0', "condition_parser": "pandas"}),
]

STRINGS = [
    "a", "ab", "abc", "a@b.co", "x.y@example.com", "a@b.co\n", "no at", "", " ", "\u00a0", "a\u00a0b@c.d",
    "é", "ß", "Ünïcödé@exämple.de", "\u3000", "١٢٣", "123", "1", "1.0", "2.0", "aa", "Ab", "ABC", "😀@😀.io",
    "a\x0bb@c.d", "abc\n", "line\nbreak", "tab\tb@c.d", "ＡＢＣ", None, "a\x1cb@c.d", "x\u2028y@z.io",
    "]", "a\\s", "é ", "É\u00a0", "end \n",
]


def _awkward() -> pa.Table:
    """Hand-made rows: each awkward value at least twice (duplicates), nulls in every column."""
    n = 2 * len(STRINGS)
    strings = STRINGS + STRINGS[::-1]
    ints = [None if k % 7 == 0 else (k * 13) % 60 - 5 for k in range(n)]
    floats = [None, float("nan"), -0.0, 0.0, 1.0, 0.5, float("inf"), -float("inf"), 1e300, 0.5, 2.5, -1.5]
    floats = (floats * (n // len(floats) + 1))[:n]
    return _table(
        strings=strings,
        ints=ints,
        floats=floats,
        bools=[None if k % 5 == 0 else k % 2 == 0 for k in range(n)],
        days=[None if k % 6 == 0 else dt.date(2024, 1, 1 + k % 9) for k in range(n)],
        row_start=1_000,
    )


def _random(seed: int, n: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    alphabet = list("ab@.cé1 ") + ["\n", "\u00a0", "ß", "😀", "٣"]

    def text() -> str | None:
        if rng.random() < 0.08:
            return None
        return "".join(rng.choice(alphabet) for _ in range(int(rng.integers(0, 6))))

    floats = rng.choice([0.0, -0.0, 0.5, 1.0, np.nan, 1e300, -1.5], n).tolist()
    return _table(
        strings=[text() for _ in range(n)],
        ints=[None if rng.random() < 0.1 else int(v) for v in rng.integers(-5, 60, n)],
        floats=[None if rng.random() < 0.05 else v for v in floats],
        bools=[None if rng.random() < 0.2 else bool(v) for v in rng.integers(0, 2, n)],
        days=[None if rng.random() < 0.1 else dt.date(2024, 1, int(d)) for d in rng.integers(1, 20, n)],
        row_start=int(rng.integers(0, 10**9)),
    )


def _table(*, strings, ints, floats, bools, days, row_start) -> pa.Table:
    n = len(strings)
    ints_nn = [(k * 7) % 45 for k in range(n)]
    return pa.table(
        {
            # _hw_row values are not positions and not sorted: a later chunk of a run
            ROW_ID: pa.array([row_start + 3 * ((k * 17) % n) for k in range(n)], pa.int64()),
            "s": pa.array(strings, pa.string()),
            "num_text": pa.array([None if v is None else str(v % 4) for v in ints], pa.string()),
            "i": pa.array(ints, pa.int64()),
            "i_nn": pa.array(ints_nn, pa.int64()),
            "i32": pa.array([v - 5 for v in ints_nn], pa.int32()),
            "f": pa.array(floats, pa.float64()),
            "b": pa.array(bools, pa.bool_()),
            "d": pa.array(days, pa.date32()),
            "ts": pa.array(
                [None if d is None else dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC) for d in days],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def _config() -> ValidateConfig:
    expectations = []
    for kind, kwargs in CASES:
        expectations.append({"type": kind, **kwargs})
        for mostly in (0.5, 0.9):
            expectations.append({"type": kind, **kwargs, "mostly": mostly})
    expectations += [{"type": kind, **kwargs} for kind, kwargs in GX_CASES]
    return ValidateConfig.model_validate({"expectations": expectations, "max_error_ratio": 1})


@pytest.fixture(scope="module")
def validators() -> tuple[Validator, Validator]:
    cfg = _config()
    return Validator(cfg, engine="auto"), Validator(cfg, engine="gx")


CHUNKS = {
    "awkward": _awkward,
    "random-1": lambda: _random(1, 400),
    "random-2": lambda: _random(2, 150),
    "one-row": lambda: _random(3, 1),
    "empty": lambda: _awkward().slice(0, 0),
    "all-null-strings": lambda: (t := _awkward()).set_column(1, "s", pa.nulls(t.num_rows, pa.string())),
}


@pytest.mark.parametrize("name", list(CHUNKS))
def test_arrow_path_gives_gx_results(validators, name):
    fast, reference = validators
    table = CHUNKS[name]()
    got, want = fast.validate(table), reference.validate(table)

    engines = [e["engine"] for e in got.summary["expectations"]]
    # every supported case went the Arrow way, every other one to GX
    assert engines == ["arrow"] * (3 * len(CASES)) + ["gx"] * len(GX_CASES)
    assert {e["engine"] for e in want.summary["expectations"]} == {"gx"}

    assert len(got.gx_results) == len(want.gx_results)
    for g, w, entry in zip(got.gx_results, want.gx_results, got.summary["expectations"], strict=True):
        where = f"{entry['loc']} {entry['type']} {entry['kwargs']}"
        assert g.expectation_config.type == w.expectation_config.type, where
        assert g.success == w.success, where
        assert g.result == w.result, where
        assert g.exception_info == w.exception_info, where

    assert got.failed_rows == want.failed_rows
    assert [(e.row, e.code, e.column, e.value, e.record) for e in got.errors] == [
        (e.row, e.code, e.column, e.value, e.record) for e in want.errors
    ]
    strip = lambda s: {**s, "expectations": [{k: v for k, v in e.items() if k != "engine"} for e in s["expectations"]]}  # noqa: E731
    assert strip(got.summary) == strip(want.summary)


def test_corpus_exercises_both_outcomes(validators):
    """Guard against a corpus on which everything passes (or fails): the comparison would prove little."""
    fast, _ = validators
    result = fast.validate(_awkward())
    outcomes = {(e["type"], e["success"]) for e in result.summary["expectations"] if e["engine"] == "arrow"}
    for kind in ARROW_TYPES:
        assert (kind, False) in outcomes, kind
    assert any(success for _, success in outcomes)
    # mostly turns some failures into successes with the same failing rows
    assert any(
        e["success"] and e["unexpected_count"] for e in result.summary["expectations"] if e["engine"] == "arrow"
    )


def test_a_pattern_re2_cannot_compile_goes_to_gx():
    # Python's re accepts a conditional group; RE2 does not, and pandas would hand it to RE2 (no \s).
    cfg = ValidateConfig.model_validate(
        {"expectations": [{"type": "expect_column_values_to_match_regex", "column": "s", "regex": "(a)?(?(1)b|c)"}]}
    )
    table = _awkward()
    got, want = Validator(cfg).validate(table), Validator(cfg, engine="gx").validate(table)
    assert got.summary["expectations"][0]["engine"] == "gx"
    assert got.summary == want.summary


def test_mostly_zero_and_one():
    expectations = [
        {"type": "expect_column_values_to_not_be_null", "column": "s", "mostly": 0},
        {"type": "expect_column_values_to_be_unique", "column": "s", "mostly": 0.0},
        {"type": "expect_column_values_to_be_in_set", "column": "s", "value_set": ["a"], "mostly": 1},
    ]
    cfg = ValidateConfig.model_validate({"expectations": expectations})
    table = _awkward()
    got, want = Validator(cfg).validate(table), Validator(cfg, engine="gx").validate(table)
    assert [e["engine"] for e in got.summary["expectations"]] == ["arrow"] * 3
    assert [r.success for r in got.gx_results] == [r.success for r in want.gx_results] == [True, True, False]
    assert [r.result for r in got.gx_results] == [r.result for r in want.gx_results]
    assert got.failed_rows == want.failed_rows
