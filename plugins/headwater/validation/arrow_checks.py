"""The standard row-level expectations evaluated on Arrow, giving Great Expectations' own result objects.

GX's pandas engine spends most of a chunk hashing the dataframe while it builds the batch (twice) and
walking its metric graph; the checks themselves are a few vectorised operations. This module runs
those operations with `pyarrow.compute` for the expectations below and hands the counts to GX's own
`_format_map_output` / `_mostly_success`, so the `ExpectationValidationResult` (success, counts,
percentages, unexpected index list and query) is the one GX would build.

The semantics are those of GX 1.24 on the dataframe `table.to_pandas()` makes (pandas 3): a float NaN
is missing like a null, an integer column with nulls is compared as float64, strings are pandas' Arrow
strings (so `str.contains` uses RE2 unless the pattern needs Python's `re`, decided as pandas decides).
Anything else (other expectations, `row_condition`, column types or arguments this module does not
mirror exactly, a pattern RE2 cannot compile) returns None from `plan()` or raises `UseGX`, and the
runner gives that expectation to GX. `tests/validation/test_arrow_checks.py` compares both paths on a
corpus of awkward data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

# Expectation types evaluated here (when `plan` accepts the arguments and column types).
ARROW_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
    }
)

_MAP_ARGS = ("column", "mostly", "condition_parser", "row_condition")


class UseGX(Exception):
    """This expectation, on this chunk, must be evaluated by GX (e.g. RE2 cannot compile the pattern)."""


@dataclass
class Outcome:
    """What a check found in one chunk: the unexpected rows and how many rows it considered.

    `considered` is the non-missing count (None for not-null, which considers every row, as GX).
    """

    unexpected: np.ndarray  # bool, one per row of the chunk
    considered: int | None


Check = Callable[["pa.Table"], Outcome]


def plan(kind: str, kwargs: dict, schema: pa.Schema) -> Check | None:
    """A vectorised check for this expectation on tables of `schema`, or None when GX must run it."""
    if kind not in ARROW_TYPES or kwargs.get("row_condition"):
        return None
    if any(isinstance(v, dict) for v in kwargs.values()):  # suite parameters ({"$PARAMETER": …})
        return None
    try:
        builder = _BUILDERS[kind]
        return builder(kwargs, schema)
    except _NotHere:
        return None


class _NotHere(Exception):
    pass


def _field_kind(schema: pa.Schema, column: Any) -> str:
    """'str', 'int', 'float', 'bool' or 'temporal' for the column's Arrow type; _NotHere otherwise."""
    import pyarrow as pa

    if not isinstance(column, str) or column not in schema.names or schema.get_field_index(column) < 0:
        raise _NotHere  # missing or duplicated column: GX reports it
    t = schema.field(column).type
    if t in (pa.string(), pa.large_string()):
        return "str"
    if t in (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()):
        return "int"
    if t == pa.float64():  # float32 compares as float32 in numpy (NEP 50), not mirrored here
        return "float"
    if t == pa.bool_():
        return "bool"
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return "temporal"
    raise _NotHere


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- what pandas sees ------------------------------------------------------------------------------


def _missing(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Missing as pandas `isnull` sees the converted column: nulls, and NaN in float columns."""
    import pyarrow.compute as pc

    return pc.is_null(col, nan_is_null=True)


def _as_pandas_number(col: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """The numbers pandas compares: an integer column with nulls becomes float64 in `to_pandas()`."""
    import pyarrow as pa

    if kind == "int" and col.null_count:
        return col.cast(pa.float64(), safe=False)
    return col


def _key(col: pa.ChunkedArray, kind: str) -> pa.ChunkedArray:
    """Hashable key with pandas' equality: -0.0 == 0.0 (x + 0.0), NaN missing, int-with-nulls as float."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = _as_pandas_number(col, kind)
    if pa.types.is_floating(col.type):
        col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), pc.add(col, 0.0))
    return col


def _np(mask: Any) -> np.ndarray:
    import numpy as np

    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


# --- the checks ------------------------------------------------------------------------------------


def _not_null(kwargs: dict, schema: pa.Schema) -> Check:
    column = kwargs.get("column")
    _field_kind(schema, column)

    def check(table: pa.Table) -> Outcome:
        return Outcome(_np(_missing(table.column(column))), None)

    return check


def _column_map(column: str, condition: Callable[[pa.ChunkedArray], Any]) -> Check:
    """GX's ColumnMapExpectation on pandas: missing rows are left out; the rest fail where not condition."""

    def check(table: pa.Table) -> Outcome:
        col = table.column(column)
        present = ~_np(_missing(col))
        ok = condition(col)
        unexpected = present & ~ok
        return Outcome(unexpected, int(present.sum()))

    return check


def _between(kwargs: dict, schema: pa.Schema) -> Check:
    import pyarrow.compute as pc

    column = kwargs.get("column")
    kind = _field_kind(schema, column)
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if kind not in ("int", "float") or (lo is None and hi is None):
        raise _NotHere
    if any(v is not None and not _number(v) for v in (lo, hi)) or (lo is not None and hi is not None and lo > hi):
        raise _NotHere  # GX raises for these; let it say so
    if any(isinstance(v, int) and abs(v) >= 2**63 for v in (lo, hi)):
        raise _NotHere
    strict_lo, strict_hi = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))

    def condition(col: pa.ChunkedArray) -> np.ndarray:
        import numpy as np

        values = _as_pandas_number(col, kind)
        ok = np.ones(len(col), dtype=bool)
        if lo is not None:
            ok &= _np(pc.fill_null((pc.greater if strict_lo else pc.greater_equal)(values, lo), True))
        if hi is not None:
            ok &= _np(pc.fill_null((pc.less if strict_hi else pc.less_equal)(values, hi), True))
        return ok

    return _column_map(column, condition)


def _in_set(kwargs: dict, schema: pa.Schema) -> Check:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = kwargs.get("column")
    kind = _field_kind(schema, column)
    values = kwargs.get("value_set")
    if not isinstance(values, list | tuple | set | frozenset):
        raise _NotHere
    values = list(values)
    if any(not (isinstance(v, str) or _number(v)) for v in values):
        raise _NotHere  # bools, None, dates…: pandas' isin rules not mirrored
    if kind == "str":
        wanted = [v for v in values if isinstance(v, str)]  # ArrowStringArray.isin keeps strings only
    elif kind in ("int", "float"):
        wanted = [v for v in values if _number(v)]
        if any(isinstance(v, float) for v in wanted) or any(abs(v) >= 2**63 for v in wanted):
            kind = "float"  # compared as float64 (pandas finds a common dtype)
    else:
        raise _NotHere

    def condition(col: pa.ChunkedArray) -> np.ndarray:
        import numpy as np

        if not wanted:
            return np.zeros(len(col), dtype=bool)
        if kind == "str":
            target = col
        elif kind == "float":
            target = _key(col, "float").cast(pa.float64(), safe=False)
        else:  # an integer column: pandas compares as float64 when it has nulls
            target = _as_pandas_number(col, "int")
            target = target.cast(pa.float64() if target.type == pa.float64() else pa.int64())
        return _np(pc.fill_null(pc.is_in(target, value_set=pa.array(wanted, type=target.type)), False))

    return _column_map(column, condition)


def _lengths(kwargs: dict, schema: pa.Schema, *, equal: bool) -> Check:
    import pyarrow.compute as pc

    column = kwargs.get("column")
    if _field_kind(schema, column) != "str":
        raise _NotHere  # GX measures `astype(str)` of other types
    if equal:
        value = kwargs.get("value")
        if not _number(value):
            raise _NotHere
        lo = hi = value
        strict_lo = strict_hi = False
    else:
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        if (lo is None and hi is None) or any(v is not None and not _number(v) for v in (lo, hi)):
            raise _NotHere
        strict_lo, strict_hi = bool(kwargs.get("strict_min")), bool(kwargs.get("strict_max"))

    def condition(col: pa.ChunkedArray) -> np.ndarray:
        import numpy as np

        length = pc.utf8_length(col)  # code points, as pandas' Arrow `str.len()`
        ok = np.ones(len(col), dtype=bool)
        if lo is not None:
            ok &= _np(pc.fill_null((pc.greater if strict_lo else pc.greater_equal)(length, lo), True))
        if hi is not None:
            ok &= _np(pc.fill_null((pc.less if strict_hi else pc.less_equal)(length, hi), True))
        return ok

    return _column_map(column, condition)


def _duplicated(columns: list[pa.ChunkedArray]) -> np.ndarray:
    """pandas `duplicated(keep=False)` over rows of these columns (missing values equal each other)."""
    import numpy as np
    import pyarrow.compute as pc

    n = len(columns[0]) if columns else 0
    if n == 0:
        return np.zeros(0, dtype=bool)
    codes = np.zeros(n, dtype=np.int64)
    for col in columns:
        encoded = pc.dictionary_encode(col.combine_chunks() if hasattr(col, "combine_chunks") else col)
        idx = encoded.indices
        size = len(encoded.dictionary) + 1  # +1: missing is its own value, as in pandas
        these = np.asarray(pc.fill_null(idx, size - 1).to_numpy(zero_copy_only=False), dtype=np.int64)
        codes = codes * size + these
        if len(columns) > 1:  # keep the combined code small: re-number the distinct combinations
            _, codes = np.unique(codes, return_inverse=True)
            codes = codes.astype(np.int64, copy=False)
    counts = np.bincount(codes)
    return counts[codes] > 1


def _unique(kwargs: dict, schema: pa.Schema) -> Check:
    import pyarrow.compute as pc

    column = kwargs.get("column")
    kind = _field_kind(schema, column)

    def check(table: pa.Table) -> Outcome:
        col = table.column(column)
        present = ~_np(_missing(col))
        unexpected = present.copy()
        kept = _key(col, kind).filter(pc.invert(_missing(col)))
        unexpected[present] = _duplicated([kept])
        return Outcome(unexpected, int(present.sum()))

    return check


def _compound_unique(kwargs: dict, schema: pa.Schema) -> Check:
    import numpy as np
    import pyarrow as pa

    columns = kwargs.get("column_list")
    if not isinstance(columns, list | tuple) or not columns or len(set(map(str, columns))) != len(columns):
        raise _NotHere
    kinds = [_field_kind(schema, c) for c in columns]
    ignore = kwargs.get("ignore_row_if", "all_values_are_missing")
    if ignore not in ("all_values_are_missing", "any_value_is_missing", "never"):
        raise _NotHere  # GX raises

    def check(table: pa.Table) -> Outcome:
        cols = [table.column(c) for c in columns]
        missing = np.stack([_np(_missing(c)) for c in cols]) if cols else np.zeros((0, table.num_rows), bool)
        if ignore == "all_values_are_missing":
            kept = ~missing.all(axis=0)
        elif ignore == "any_value_is_missing":
            kept = ~missing.any(axis=0)
        else:
            kept = np.ones(table.num_rows, dtype=bool)
        keep = pa.array(kept)
        unexpected = np.zeros(table.num_rows, dtype=bool)
        unexpected[kept] = _duplicated([_key(c, k).filter(keep) for c, k in zip(cols, kinds, strict=True)])
        return Outcome(unexpected, int(kept.sum()))

    return check


# --- regex: RE2 where pandas would use it, Python's `re` where pandas would -------------------------

_ESCAPED_UNICODE = re.compile(r"(?<!\\)(?:\\\\)*\\(?:[uU]|N{)")
_END_ANCHOR = re.compile(r"(?<!\\)((?:\\\\)*)\\Z")


def _regex_nodes(pattern: str) -> list[tuple[Any, Any]]:
    """Every (opcode, argument) of Python's parse of the pattern, walked as pandas walks it."""
    from re import _parser  # the parser `re` itself uses (Python 3.11+)

    repeats = {_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT}

    def walk(tokens: Any) -> Any:
        for op, arg in tokens:
            yield op, arg
            if op == _parser.SUBPATTERN:
                yield from walk(arg[3])
            elif op == _parser.BRANCH:
                for branch in arg[1]:
                    yield from walk(branch)
            elif op in repeats:
                yield from walk(arg[2])
            elif op in (_parser.ATOMIC_GROUP, _parser.IN):
                yield from walk(arg)

    return list(walk(_parser.parse(pattern)))


@dataclass(frozen=True)
class _RegexPlan:
    pattern: str
    unsupported: bool  # lookaround, back references, \u escapes: pandas uses `re` on every row
    space: bool  # \s / \S: pandas uses `re` (RE2's \s misses \x0b and Unicode spaces)
    unicode_sensitive: bool  # \w \d \b: `re` when the column has non-ASCII text
    end_anchor: bool  # $: `re` when a value has a newline
    re2_same_syntax: bool  # no construct the two engines parse differently ({,n}, [:class:])


def _regex_plan(pattern: str) -> _RegexPlan:
    from re import _constants as c

    nodes = _regex_nodes(pattern)
    ops = {op for op, _ in nodes}
    cats = {arg for op, arg in nodes if op == c.CATEGORY}
    ats = {arg for op, arg in nodes if op == c.AT}
    return _RegexPlan(
        pattern=pattern,
        unsupported=bool(_ESCAPED_UNICODE.search(pattern)) or bool(ops & {c.ASSERT, c.ASSERT_NOT, c.GROUPREF}),
        space=bool(cats & {c.CATEGORY_SPACE, c.CATEGORY_NOT_SPACE}),
        unicode_sensitive=bool(
            cats & {c.CATEGORY_WORD, c.CATEGORY_NOT_WORD, c.CATEGORY_DIGIT, c.CATEGORY_NOT_DIGIT}
            or ats & {c.AT_BOUNDARY, c.AT_NON_BOUNDARY}
        ),
        end_anchor=c.AT_END in ats,
        re2_same_syntax="{," not in pattern and "[:" not in pattern,
    )


def _python_spaces() -> str:
    """Python's `\\s` for str patterns (`str.isspace`) as the body of an RE2 character class."""
    global _SPACES
    if _SPACES is None:
        # Unicode's White_Space characters are all in the Basic Multilingual Plane
        _SPACES = "".join(f"\\x{{{i:x}}}" for i in range(0x10000) if chr(i).isspace())
    return _SPACES


_SPACES: str | None = None


def _translate_spaces(pattern: str) -> str | None:
    """The pattern with Python's `\\s` / `\\S` spelled as explicit RE2 classes, or None when a
    construct is met this does not rewrite (`\\S` inside a class)."""
    spaces = _python_spaces()
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "s":
                out.append(spaces if in_class else f"[{spaces}]")
            elif nxt == "S":
                if in_class:
                    return None
                out.append(f"[^{spaces}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            i += 1
            # a ']' right after '[' or '[^' is a literal
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append("\\]")
                i += 1
            continue
        if ch == "[" and in_class:
            return None  # nested sets: Python warns, RE2 reads [: differently
        if ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return None if in_class else "".join(out)


def _count_end_anchors(pattern: str) -> int:
    from re import _constants as c

    return sum(1 for op, arg in _regex_nodes(pattern) if op == c.AT and arg == c.AT_END)


def _ends_with_anchor(pattern: str) -> bool:
    """The pattern ends with `$` that is not escaped (an even number of backslashes before it)."""
    if not pattern.endswith("$"):
        return False
    backslashes = len(pattern[:-1]) - len(pattern[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _match_regex(kwargs: dict, schema: pa.Schema) -> Check:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = kwargs.get("column")
    pattern = kwargs.get("regex")
    if _field_kind(schema, column) != "str" or not isinstance(pattern, str):
        raise _NotHere
    try:
        compiled = re.compile(pattern)
        info = _regex_plan(pattern)
    except (re.error, RecursionError):
        raise _NotHere from None  # GX reports the bad pattern
    re2_pattern = _END_ANCHOR.sub(r"\1\\z", pattern)  # pandas' rewrite: RE2 spells \Z as \z
    # For the rows pandas gives to Python's `re`: the same pattern with \s spelled out, so RE2 finds
    # what `re` finds (RE2's own \s misses \x0b, \x1c-\x1f and Unicode spaces).
    spelled = _translate_spaces(re2_pattern) if info.re2_same_syntax and not info.unsupported else None
    # Python's `$` (no MULTILINE) also matches before a final newline. When it is the pattern's one
    # `$` and its last character, `\n?\z` says the same to RE2, and no row needs `re` for it.
    final_dollar = (
        spelled is not None
        and _count_end_anchors(pattern) == 1
        and _ends_with_anchor(spelled)
        and not compiled.flags & re.MULTILINE
        and re.search(r"\(\?[a-zA-Z-]*m", pattern) is None
    )
    if final_dollar:
        spelled = spelled[:-1] + r"(?:\n?\z)"
    # case folding of non-ASCII text may differ between the engines: those rows go through `re`
    ignore_case = bool(compiled.flags & re.IGNORECASE) or re.search(r"\(\?[a-zA-Z-]*i", pattern) is not None

    def re2(col: Any, regex: str) -> np.ndarray:
        try:
            return _np(pc.fill_null(pc.match_substring_regex(col, regex), False))
        except pa.ArrowInvalid:
            raise UseGX(f"RE2 cannot compile {pattern!r}") from None

    def python(values: list) -> np.ndarray:  # pandas' object path: `regex.search(x)` per value
        return np.fromiter(
            (v is not None and compiled.search(v) is not None for v in values), dtype=bool, count=len(values)
        )

    def condition(col: pa.ChunkedArray) -> np.ndarray:
        non_ascii = newline = None
        needs_re = info.unsupported or info.space
        if not needs_re and info.unicode_sensitive:
            non_ascii = not pc.all(pc.string_is_ascii(col), min_count=0).as_py()
            needs_re = non_ascii
        if not needs_re and info.end_anchor:
            newline = pc.any(pc.match_substring(col, "\n"), min_count=0).as_py()
            needs_re = newline
        if not needs_re:
            return re2(col, re2_pattern)  # what pandas does: RE2 on the whole column
        if spelled is None:
            return python(col.to_pylist())
        # pandas runs `re.search` per value. With \s spelled out, RE2 agrees with `re` except on
        # \w \d \b and case folding of non-ASCII text, and on `$` before a final newline: those
        # rows (usually none) go through `re`.
        odd = None
        if info.unicode_sensitive or ignore_case:
            if non_ascii is None:
                non_ascii = not pc.all(pc.string_is_ascii(col), min_count=0).as_py()
            if non_ascii:
                odd = ~_np(pc.fill_null(pc.string_is_ascii(col), True))
        if info.end_anchor and not final_dollar:
            if newline is None:
                newline = pc.any(pc.match_substring(col, "\n"), min_count=0).as_py()
            if newline:
                lines = _np(pc.fill_null(pc.match_substring(col, "\n"), False))
                odd = lines if odd is None else odd | lines
        ok = re2(col, spelled)
        if odd is not None and odd.any():
            ok[odd] = python(col.filter(pa.array(odd)).to_pylist())
        return ok

    return _column_map(column, condition)


_BUILDERS: dict[str, Callable[[dict, pa.Schema], Check]] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_unique": _unique,
    "expect_compound_columns_to_be_unique": _compound_unique,
    "expect_column_values_to_match_regex": _match_regex,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_value_lengths_to_be_between": lambda kw, s: _lengths(kw, s, equal=False),
    "expect_column_value_lengths_to_equal": lambda kw, s: _lengths(kw, s, equal=True),
}


# --- GX result objects ------------------------------------------------------------------------------


def gx_result(config: Any, outcome: Outcome, row_ids: np.ndarray, result_format: dict, *, mostly: float) -> Any:
    """The `ExpectationValidationResult` GX builds for this outcome (same success rule, same fields)."""
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations.expectation import _format_map_output, _mostly_success
    from great_expectations.expectations.expectation_configuration import parse_result_format

    total = len(outcome.unexpected)
    unexpected = int(outcome.unexpected.sum())
    considered = outcome.considered
    if considered is None:  # ExpectColumnValuesToNotBeNull._validate: every row counts
        success = True if total == 0 else (total - unexpected) / total >= mostly
    elif total == 0 or considered == 0:
        success = True  # vacuously, as GX
    else:
        success = _mostly_success(considered, unexpected, mostly)
    parsed = parse_result_format(result_format)
    index_names = parsed.get("unexpected_index_column_names")
    ids = row_ids[outcome.unexpected].tolist()
    # GX, with exclude_unexpected_values and one index column, returns the ids as one list
    index_list = [{index_names[0]: ids}] if ids and index_names else ([] if index_names else None)
    body = _format_map_output(
        result_format=parsed,
        success=success,
        element_count=total,
        nonnull_count=considered,
        unexpected_count=unexpected,
        unexpected_list=None,
        unexpected_index_list=index_list if index_names else ids,
        unexpected_index_query=f"df.filter(items={ids}, axis=0)",
        unexpected_index_column_names=index_names,
    )
    return ExpectationValidationResult(
        success=body["success"],
        expectation_config=config,
        result=body.get("result", {}),
        exception_info={"raised_exception": False, "exception_traceback": None, "exception_message": None},
    )
