"""The `validate:` section of a source file: expectations (inline or a GX suite file) and the error ratio.

Imported at DAG parse time: pydantic and the standard library only. The allowlist of expectation
types below is a static copy of what `great_expectations.expectations` exports in GX Core 1.x, so a
typo is caught by `headwater lint` without paying the 7-16 s GX import.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from headwater import settings
from headwater.config.base import FieldProblem, StrictModel
from headwater.errors import ConfigError, ConfigIssue
from headwater.validation.expectation_args import EXPECTATION_ARGS

# GX Core 1.x expectations that run on a pandas batch (snake_case of the classes exported by
# `great_expectations.expectations` and registered, checked against 1.24.1 by a test).
EXPECTATION_TYPES: frozenset[str] = frozenset(
    {
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_distinct_values_to_contain_set",
        "expect_column_distinct_values_to_equal_set",
        "expect_column_kl_divergence_to_be_less_than",
        "expect_column_max_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_median_to_be_between",
        "expect_column_min_to_be_between",
        "expect_column_most_common_value_to_be_in_set",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_to_be_in_set",
        "expect_column_proportion_of_non_null_values_to_be_between",
        "expect_column_proportion_of_unique_values_to_be_between",
        "expect_column_quantile_values_to_be_between",
        "expect_column_stdev_to_be_between",
        "expect_column_sum_to_be_between",
        "expect_column_to_exist",
        "expect_column_type_to_be",
        "expect_column_unique_value_count_to_be_between",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_value_z_scores_to_be_less_than",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_dateutil_parseable",
        "expect_column_values_to_be_decreasing",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_be_increasing",
        "expect_column_values_to_be_json_parseable",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_match_json_schema",
        "expect_column_values_to_match_like_pattern",
        "expect_column_values_to_match_like_pattern_list",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_match_strftime_format",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_not_be_outliers",
        "expect_column_values_to_not_match_like_pattern",
        "expect_column_values_to_not_match_like_pattern_list",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_not_match_regex_list",
        "expect_compound_columns_to_be_unique",
        "expect_multicolumn_sum_to_equal",
        "expect_multicolumn_values_to_be_equal",
        "expect_select_column_values_to_be_unique_within_record",
        "expect_table_column_count_to_be_between",
        "expect_table_column_count_to_equal",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_table_row_count_to_equal",
    }
)

# Core expectations that exist but cannot run on one chunk of a dataframe; named so the error says why.
UNSUPPORTED_TYPES: dict[str, str] = {
    "expect_query_results_to_match_comparison": "it runs SQL queries; Headwater validates dataframes",
    "expect_table_row_count_to_equal_other_table": "it compares with another SQL table",
    "unexpected_rows_expectation": "it runs a SQL query; Headwater validates dataframes",
    "expect_multicolumn_values_to_be_unique": (
        "GX 1.x exports it but does not register it (it cannot run); use expect_compound_columns_to_be_unique"
    ),
}

# Keyword arguments that name columns of the validated rows.
COLUMN_ARGS = ("column", "column_A", "column_B", "column_list", "column_set")

# Arguments of an expectation that are not kwargs in GX (they go to the expectation configuration).
CONFIG_FIELDS = ("meta", "notes", "description")

# Set by Headwater for every expectation: the runner needs COMPLETE results to quarantine rows.
_FORBIDDEN_ARGS = {
    "result_format": "Headwater sets the result format itself (it needs every failing row)",
    "catch_exceptions": "Headwater always catches exceptions and reports them as table failures",
}


def _required_column_args(expectation_type: str) -> tuple[str, ...]:
    """Column arguments an expectation cannot run without, derived from GX's naming scheme."""
    if expectation_type.startswith("expect_column_pair_"):
        return ("column_A", "column_B")
    if (
        expectation_type.startswith(
            ("expect_multicolumn_", "expect_compound_columns_", "expect_select_column_values_")
        )
        or expectation_type == "expect_table_columns_to_match_ordered_list"
    ):
        return ("column_list",)
    if expectation_type == "expect_table_columns_to_match_set":
        return ("column_set",)
    if expectation_type.startswith("expect_column_"):
        return ("column",)
    return ()


def check_expectation_type(value: str) -> str | None:
    """Why `value` is not a usable expectation type (with close matches), or None when it is."""
    if value in EXPECTATION_TYPES:
        return None
    if value in UNSUPPORTED_TYPES:
        return f"'{value}' cannot be used here: {UNSUPPORTED_TYPES[value]}"
    close = difflib.get_close_matches(value, sorted(EXPECTATION_TYPES), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see docs/validation.md for the list"
    return f"unknown expectation type '{value}'{hint}"


class Expectation(StrictModel):
    """One GX expectation: `type` plus that expectation's keyword arguments (column, regex, mostly…)."""

    # The keyword arguments are the expectation's own, so they are not declared as fields here; they
    # are checked against `EXPECTATION_ARGS` of the type instead (unknown ones are errors).
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    type: str = Field(
        description="GX Core 1.x expectation name in snake_case, e.g. expect_column_values_to_not_be_null",
        json_schema_extra={"enum": sorted(EXPECTATION_TYPES)},
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        problem = check_expectation_type(value)
        if problem:
            raise PydanticCustomError("unknown_expectation", problem)
        return value

    @model_validator(mode="after")
    def _arguments(self) -> Expectation:
        extra = self.model_extra or {}
        for name, why in _FORBIDDEN_ARGS.items():
            if name in extra:
                raise PydanticCustomError("forbidden_argument", f"'{name}' is not allowed: {why}")
        allowed = (*EXPECTATION_ARGS.get(self.type, ()), *CONFIG_FIELDS)
        unknown = [name for name in extra if name not in allowed]
        if unknown:
            # GX would reject some and silently ignore others; a misspelt `regx:` must not pass
            name = unknown[0]
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid arguments: {', '.join(allowed)}"
            raise FieldProblem(name, f"unknown argument {name!r} of {self.type}; {hint}")
        missing = [a for a in _required_column_args(self.type) if a not in extra]
        if missing:
            raise PydanticCustomError(
                "missing_argument", f"{self.type} needs {' and '.join(repr(m) for m in missing)}"
            )
        return self

    @property
    def kwargs(self) -> dict[str, Any]:
        """The expectation's keyword arguments as GX takes them (without meta/notes/description)."""
        return {k: v for k, v in (self.model_extra or {}).items() if k not in CONFIG_FIELDS}

    @property
    def config_fields(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k in CONFIG_FIELDS}


class ValidateConfig(StrictModel):
    """The `validate:` section."""

    max_error_ratio: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Quarantined rows / rows read above this ratio fails the run.",
    )
    expectations: list[Expectation] = Field(default_factory=list)
    suite: str | None = Field(
        None,
        description="GX expectation suite JSON file, relative to the include folder.",
    )

    @field_validator("suite")
    @classmethod
    def _relative_json(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts:
            raise PydanticCustomError(
                "suite_path", "must be a path inside the include folder (relative, no '..')"
            )
        if path.suffix != ".json":
            raise PydanticCustomError("suite_path", "must be a GX suite .json file")
        return value

    @property
    def has_expectations(self) -> bool:
        return bool(self.expectations) or self.suite is not None


def suite_path(cfg: ValidateConfig) -> Path | None:
    """Absolute path of the suite file, resolved against `settings.include_dir()`."""
    return settings.include_dir() / cfg.suite if cfg.suite else None


def load_suite(path: Path) -> list[Expectation]:
    """Expectations of a GX 1.x suite JSON file (`{"name", "expectations": [{"type", "kwargs"}]}`).

    The 0.x key `expectation_type` is accepted too. Raises ConfigError naming the file and every
    bad entry.
    """
    file = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(file, "", "suite file not found")]) from None
    except (OSError, ValueError) as exc:
        raise ConfigError([ConfigIssue(file, "", f"cannot read suite JSON: {exc}")]) from None
    entries = data.get("expectations") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError([ConfigIssue(file, "expectations", "a GX suite needs an 'expectations' list")])

    result: list[Expectation] = []
    issues: list[ConfigIssue] = []
    for i, entry in enumerate(entries):
        loc = f"expectations[{i}]"
        if not isinstance(entry, dict):
            issues.append(ConfigIssue(file, loc, "must be an object with 'type' and 'kwargs'"))
            continue
        kind = entry.get("type", entry.get("expectation_type"))
        kwargs = entry.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            issues.append(ConfigIssue(file, f"{loc}.kwargs", "must be an object"))
            continue
        extra = {k: entry[k] for k in CONFIG_FIELDS if entry.get(k) is not None}
        try:
            result.append(Expectation.model_validate({**kwargs, **extra, "type": kind}))
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            for err in getattr(exc, "errors", lambda: [])() or [{"loc": (), "msg": str(exc)}]:
                where = ".".join(str(p) for p in err.get("loc", ()))
                issues.append(ConfigIssue(file, f"{loc}.{where}" if where else loc, err["msg"]))
    if issues:
        raise ConfigError(issues)
    return result


def all_expectations(cfg: ValidateConfig) -> list[tuple[str, Expectation]]:
    """(loc, expectation) for the inline expectations, then those of the suite file (read now)."""
    found = [(f"validate.expectations[{i}]", e) for i, e in enumerate(cfg.expectations)]
    path = suite_path(cfg)
    if path is not None:
        found += [(f"validate.suite.expectations[{i}]", e) for i, e in enumerate(load_suite(path))]
    return found


def _columns_of(expectation: Expectation) -> list[tuple[str, str]]:
    """(argument path, column) for every argument of the expectation that names a column."""
    extra = expectation.model_extra or {}
    found: list[tuple[str, str]] = []
    for arg in COLUMN_ARGS:
        value = extra.get(arg)
        if isinstance(value, str):
            found.append((arg, value))
        elif isinstance(value, list | tuple | set):
            found += [(f"{arg}[{j}]", c) for j, c in enumerate(value) if isinstance(c, str)]
    return found


def expectation_columns(cfg: ValidateConfig, *, include_suite: bool = False) -> list[tuple[str, str]]:
    """(loc, column) for every column an expectation names, e.g. ("validate.expectations[1].column", "email").

    Lets the config checker flag expectations on columns the mapping does not produce. With
    `include_suite`, the suite file is read too (its locs start with `validate.suite.expectations`).
    """
    pairs = (
        all_expectations(cfg)
        if include_suite
        else [(f"validate.expectations[{i}]", e) for i, e in enumerate(cfg.expectations)]
    )
    return [(f"{loc}.{arg}", column) for loc, e in pairs for arg, column in _columns_of(e)]
