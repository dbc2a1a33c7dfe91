"""The static table of expectation arguments matches the installed Great Expectations."""

from __future__ import annotations

from headwater.validation.expectation_args import EXPECTATION_ARGS
from headwater.validation.models import EXPECTATION_TYPES

# GX fields that are not arguments a source file gives: set by GX or Headwater, or not kwargs
_NOT_ARGUMENTS = {"id", "batch_id", "rendered_content", "library_metadata", "catch_exceptions",
                  "result_format", "windows", "description", "meta", "notes", "severity"}


def test_expectation_args_match_installed_gx() -> None:
    import great_expectations.expectations as gxe

    installed = {
        cls.expectation_type: tuple(sorted(set(cls.__fields__) - _NOT_ARGUMENTS))
        for cls in vars(gxe).values()
        if isinstance(cls, type) and issubclass(cls, gxe.Expectation)
        and getattr(cls, "expectation_type", "") in EXPECTATION_TYPES
    }
    assert set(EXPECTATION_ARGS) == set(EXPECTATION_TYPES)
    assert EXPECTATION_ARGS == installed
