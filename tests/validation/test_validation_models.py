"""The `validate:` section model: allowlist, arguments, suite files, column references."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from headwater.errors import ConfigError
from headwater.validation.models import (
    ValidateConfig,
    all_expectations,
    expectation_columns,
    load_suite,
)

PROJECT = Path(__file__).resolve().parents[2]


def _errors(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        ValidateConfig.model_validate(data)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in info.value.errors()]


def test_defaults_and_kwargs():
    cfg = ValidateConfig.model_validate(
        {
            "expectations": [
                {
                    "type": "expect_column_values_to_match_regex",
                    "column": "email",
                    "regex": "@",
                    "mostly": 0.9,
                    "meta": {"owner": "crm"},
                }
            ]
        }
    )
    assert cfg.max_error_ratio == 0.05 and cfg.suite is None and cfg.has_expectations
    exp = cfg.expectations[0]
    assert exp.kwargs == {"column": "email", "regex": "@", "mostly": 0.9}
    assert exp.config_fields == {"meta": {"owner": "crm"}}
    assert not ValidateConfig().has_expectations


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"expectations": [{"type": "expect_column_values_to_be_not_null", "column": "a"}]},
            [
                (
                    "expectations.0.type",
                    "unknown expectation type 'expect_column_values_to_be_not_null'; "
                    "did you mean expect_column_values_to_be_null, expect_column_values_to_not_be_null, "
                    "expect_column_values_to_be_in_set?",
                )
            ],
            id="typo_lists_close_matches",
        ),
        pytest.param(
            {"expectations": [{"type": "check_everything"}]},
            [
                (
                    "expectations.0.type",
                    "unknown expectation type 'check_everything'; see docs/validation.md for the list",
                )
            ],
            id="no_close_match",
        ),
        pytest.param(
            {"expectations": [{"type": "expect_query_results_to_match_comparison"}]},
            [
                (
                    "expectations.0.type",
                    "'expect_query_results_to_match_comparison' cannot be used here: "
                    "it runs SQL queries; Headwater validates dataframes",
                )
            ],
            id="sql_only_expectation",
        ),
        pytest.param(
            {"expectations": [{"type": "expect_column_values_to_not_be_null"}]},
            [("expectations.0", "expect_column_values_to_not_be_null needs 'column'")],
            id="missing_column",
        ),
        pytest.param(
            {"expectations": [{"type": "expect_column_pair_values_to_be_equal", "column_A": "a"}]},
            [("expectations.0", "expect_column_pair_values_to_be_equal needs 'column_B'")],
            id="missing_column_B",
        ),
        pytest.param(
            {"expectations": [{"type": "expect_table_row_count_to_be_between", "result_format": "BASIC"}]},
            [
                (
                    "expectations.0",
                    "'result_format' is not allowed: Headwater sets the result format itself "
                    "(it needs every failing row)",
                )
            ],
            id="result_format_forbidden",
        ),
        pytest.param(
            {"max_error_ratio": 1.5},
            [("max_error_ratio", "Input should be less than or equal to 1")],
            id="ratio",
        ),
        pytest.param(
            {"suite": "../secrets.json"},
            [("suite", "must be a path inside the include folder (relative, no '..')")],
            id="suite_escapes",
        ),
        pytest.param(
            {"suite": "expectations/x.yaml"}, [("suite", "must be a GX suite .json file")], id="suite_ext"
        ),
        pytest.param({"expectation": []}, [("expectation", "Extra inputs are not permitted")], id="typo_key"),
    ],
)
def test_invalid(data, expected):
    assert _errors(data) == expected


def test_expectation_columns_locs():
    cfg = ValidateConfig.model_validate(
        {
            "expectations": [
                {"type": "expect_table_row_count_to_be_between", "min_value": 1},
                {"type": "expect_column_values_to_not_be_null", "column": "email"},
                {"type": "expect_column_pair_values_to_be_equal", "column_A": "a", "column_B": "b"},
                {"type": "expect_compound_columns_to_be_unique", "column_list": ["x", "y"]},
            ]
        }
    )
    assert expectation_columns(cfg) == [
        ("validate.expectations[1].column", "email"),
        ("validate.expectations[2].column_A", "a"),
        ("validate.expectations[2].column_B", "b"),
        ("validate.expectations[3].column_list[0]", "x"),
        ("validate.expectations[3].column_list[1]", "y"),
    ]


def test_shipped_example_suite(monkeypatch):
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(PROJECT / "include"))
    cfg = ValidateConfig(suite="expectations/contacts.json")
    found = all_expectations(cfg)
    assert found[0][0] == "validate.suite.expectations[0]"
    assert found[0][1].config_fields == {"meta": {"why": "every CRM contact has an id"}}
    assert ("validate.suite.expectations[2].column", "email") in expectation_columns(cfg, include_suite=True)
    assert expectation_columns(cfg) == []


def test_suite_file_problems_name_file_and_entry(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "name": "s",
                "expectations": [
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
                    {"expectation_type": "expect_column_values_to_be_inset", "kwargs": {"column": "a"}},
                    {"type": "expect_column_values_to_be_unique", "kwargs": {}},
                    "nonsense",
                ],
            }
        )
    )
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    assert [(i.file, i.loc, i.message) for i in info.value.issues] == [
        (
            str(path),
            "expectations[1].type",
            "unknown expectation type 'expect_column_values_to_be_inset'; "
            "did you mean expect_column_values_to_be_in_set, expect_column_values_to_not_be_in_set, "
            "expect_column_pair_values_to_be_in_set?",
        ),
        (str(path), "expectations[2]", "expect_column_values_to_be_unique needs 'column'"),
        (str(path), "expectations[3]", "must be an object with 'type' and 'kwargs'"),
    ]
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read suite JSON"):
        load_suite(path)


def test_models_import_is_light():
    code = (
        "import sys; import headwater.validation.models;"
        "heavy = [m for m in ('great_expectations', 'pyarrow', 'pandas', 'deltalake') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT / "plugins"
    ).stdout
    assert out.strip() == "[]"
