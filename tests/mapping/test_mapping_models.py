"""The `mapping` section model (errors at DAG parse time) and `check_mapping` against schema and source."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from headwater.mapping.models import FieldMapping, MappingConfig, check_mapping
from headwater.settings import PROJECT_ROOT
from headwater.target_schemas import load_target_schema

SCHEMAS = PROJECT_ROOT / "include" / "schemas"
TRANSFORMS = (
    "abs, ceil, crc32, email_domain, first, floor, initcap, is_empty, is_null, json_array, last, length, "
    "lower, md5, not, parse_number, phone_e164, round, sha1, sha256, size, to_bool, to_date, to_float, "
    "to_int, to_string, to_timestamp, trim, try_to_bool, try_to_date, try_to_float, try_to_int, "
    "try_to_timestamp, upper, uuid5"
)


def loc(parts: tuple) -> str:
    out = "mapping"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        MappingConfig.model_validate(data)
    return [(loc(e["loc"]), e["msg"]) for e in caught.value.errors()]


def mapping(*fields: dict, **extra: Any) -> dict[str, Any]:
    return {"target": "customer_profile", "fields": list(fields), **extra}


def test_valid_mapping() -> None:
    config = MappingConfig.model_validate(
        mapping(
            {"to": "email", "from": "E-mail Address", "transform": ["trim", "lower"]},
            {"to": "full_name", "expr": "concat(trim(first_name), ' ', trim(`Last Name`))"},
            {"to": "country", "value": "US"},
            {"to": "signup_date", "from": "Joined", "format": "%m/%d/%Y", "default": "01/01/2000"},
            {"to": "crm_id", "from": "Id", "transform": "trim"},
            identities=[{"field": "email", "namespace": "email"}, {"field": "crm_id", "namespace": "crm_id"}],
            updated_at="updated_at",
        )
    )
    assert config.fields[0].from_ == "E-mail Address"
    assert config.fields[4].transform == ("trim",)
    assert config.mapped_fields == ("email", "full_name", "country", "signup_date", "crm_id")
    assert config.record_key_field == "email"
    assert config.model_copy(update={"record_key": "crm_id"}).record_key_field == "crm_id"
    assert MappingConfig.model_validate(mapping({"to": "email", "from": "e"})).record_key_field is None


def test_from_alias_in_json_schema() -> None:
    properties = FieldMapping.model_json_schema()["properties"]
    assert "from" in properties
    assert "from_" not in properties


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            mapping({"to": "email"}),
            [("mapping.fields[0]", "give exactly one of 'from', 'expr' or 'value' for 'email' (got none)")],
            id="no_source",
        ),
        pytest.param(
            mapping({"to": "email", "from": "a", "expr": "b"}),
            [
                (
                    "mapping.fields[0]",
                    "give exactly one of 'from', 'expr' or 'value' for 'email' (got 'from' and 'expr')",
                )
            ],
            id="two_sources",
        ),
        pytest.param(
            mapping(
                {"to": "email", "from": "a"},
                {"to": "phone", "from": "b", "transform": ["trim", "lowr", "substr"]},
            ),
            [
                (
                    "mapping.fields[1].transform[1]",
                    f"unknown transform 'lowr'; did you mean 'lower'? valid transforms: {TRANSFORMS}",
                ),
                (
                    "mapping.fields[1].transform[2]",
                    f"'substr' cannot be a transform (it takes 3 arguments); valid transforms: {TRANSFORMS}",
                ),
            ],
            id="bad_transforms",
        ),
        pytest.param(
            mapping({"to": "email", "from": "a", "transform": ["concat"]}),
            [
                (
                    "mapping.fields[0].transform[0]",
                    f"'concat' cannot be a transform (it takes at least 1 argument); valid transforms: {TRANSFORMS}",
                )
            ],
            id="variadic_is_not_a_transform",
        ),
        pytest.param(
            mapping(
                {"to": "a", "from": "x"}, {"to": "b", "from": "y"}, {"to": "c", "expr": "concat(lowr(x))"}
            ),
            [
                (
                    "mapping.fields[2].expr",
                    "unknown function 'lowr' at position 7; did you mean 'lower'?",
                )
            ],
            id="expr_unknown_function",
        ),
        pytest.param(
            mapping({"to": "a", "expr": "trim(x"}),
            [("mapping.fields[0].expr", "expected ')' at position 6, found end of expression")],
            id="expr_syntax",
        ),
        pytest.param(
            mapping({"to": "a", "expr": "{oops}"}),
            [("mapping.fields[0].expr", "unexpected character '{' at position 0")],
            id="expr_braces_are_not_format_fields",
        ),
        pytest.param(
            mapping({"to": "email", "from": "a"}, {"to": "email", "value": "x"}),
            [("mapping.fields", "field 'email' is mapped more than once (fields[0] and fields[1])")],
            id="duplicate_target",
        ),
        pytest.param(mapping(), [("mapping.fields", "map at least one field")], id="no_fields"),
        pytest.param(
            mapping({"to": "email", "from": "a"}, identities=[{"field": "email", "namespace": "E-mail"}]),
            [
                (
                    "mapping.identities[0].namespace",
                    "namespace 'E-mail' must be lowercase letters, digits and _ "
                    "(built in: email, phone, crm_id, loyalty_id, customer_id, device_id)",
                )
            ],
            id="bad_namespace",
        ),
        pytest.param(
            mapping(
                {"to": "email", "from": "a"},
                identities=[{"field": "email", "namespace": "email"}, {"field": "email", "namespace": "x"}],
            ),
            [("mapping.identities", "field 'email' is listed as an identity more than once")],
            id="duplicate_identity",
        ),
        pytest.param(
            mapping({"to": "email", "from": "a", "tranform": ["trim"]}),
            [("mapping.fields[0].tranform", "Extra inputs are not permitted")],
            id="unknown_key",
        ),
        pytest.param(
            {"target": "Customer Profile", "fields": [{"to": "email", "from": "a"}]},
            [("mapping.target", "String should match pattern '^[a-z][a-z0-9_]*$'")],
            id="bad_target_name",
        ),
    ],
)
def test_model_errors(data: dict, expected: list[tuple[str, str]]) -> None:
    assert problems(data) == expected


def test_custom_namespace_allowed() -> None:
    config = MappingConfig.model_validate(
        mapping(
            {"to": "loyalty_id", "from": "card"},
            identities=[{"field": "loyalty_id", "namespace": "shop_card"}],
        )
    )
    assert config.identities[0].namespace == "shop_card"


PROFILE_FIELDS = (
    "customer_id, anonymous_id, crm_id, loyalty_id, email, phone, first_name, last_name, full_name, email_sha256, "
    "city, country, birth_date, signup_date, loyalty_tier, loyalty_points, lifetime_value, "
    "marketing_opt_in, updated_at"
)
COLUMNS = ["Email", "First Name", "Last Name", "Joined"]
AVAILABLE = "available columns: Email, First Name, Last Name, Joined"


@pytest.mark.parametrize(
    ("data", "source_columns", "expected"),
    [
        pytest.param(
            mapping({"to": "email", "from": "Email"}, {"to": "emial", "from": "Email"}),
            None,
            [
                (
                    "mapping.fields[1].to",
                    f"'emial' is not a field of target schema 'customer_profile'; did you mean 'email'? "
                    f"fields: {PROFILE_FIELDS}",
                )
            ],
            id="unknown_target_field",
        ),
        pytest.param(
            mapping({"to": "zzz", "value": 1}),
            None,
            [
                (
                    "mapping.fields[0].to",
                    f"'zzz' is not a field of target schema 'customer_profile'; fields: {PROFILE_FIELDS}",
                )
            ],
            id="unknown_target_field_no_hint",
        ),
        pytest.param(
            mapping({"to": "email", "from": "email"}),
            COLUMNS,
            [
                (
                    "mapping.fields[0].from",
                    f"column 'email' is not in the source; did you mean 'Email'? {AVAILABLE}",
                )
            ],
            id="missing_from_column",
        ),
        pytest.param(
            mapping({"to": "full_name", "expr": "concat(`First Name`, ' ', `Last name`, zip)"}),
            COLUMNS,
            [
                (
                    "mapping.fields[0].expr",
                    f"column 'Last name' at position 26 is not in the source; did you mean 'Last Name'? {AVAILABLE}",
                ),
                ("mapping.fields[0].expr", f"column 'zip' at position 39 is not in the source; {AVAILABLE}"),
            ],
            id="missing_expr_columns",
        ),
        pytest.param(
            mapping({"to": "full_name", "expr": "concat(`Last name`, x)"}),
            None,
            [],
            id="columns_unknown_are_not_checked",
        ),
        pytest.param(
            mapping({"to": "email", "from": "Email", "format": "%Y"}),
            COLUMNS,
            [
                (
                    "mapping.fields[0].format",
                    "format applies only to date and timestamp fields; 'email' is a string field",
                )
            ],
            id="format_on_string",
        ),
        pytest.param(
            mapping(
                {"to": "loyalty_points", "value": "lots"},
                {"to": "signup_date", "from": "Joined", "format": "%m/%d/%Y", "default": "2000-01-01"},
            ),
            COLUMNS,
            [
                ("mapping.fields[0].value", "'lots' is not a valid integer for field 'loyalty_points'"),
                (
                    "mapping.fields[1].default",
                    "'2000-01-01' is not a valid date in format '%m/%d/%Y' for field 'signup_date'",
                ),
            ],
            id="bad_constants",
        ),
        pytest.param(
            mapping(
                {"to": "email", "from": "Email"},
                identities=[
                    {"field": "email", "namespace": "email"},
                    {"field": "phone", "namespace": "phone"},
                ],
                record_key="crm_id",
                updated_at="updated_at",
            ),
            COLUMNS,
            [
                ("mapping.identities[1].field", "identity field 'phone' is not mapped; mapped fields: email"),
                ("mapping.record_key", "record_key 'crm_id' is not mapped; mapped fields: email"),
                ("mapping.updated_at", "updated_at 'updated_at' is not mapped; mapped fields: email"),
            ],
            id="unmapped_references",
        ),
        pytest.param(
            mapping({"to": "email", "from": "Email"}, updated_at="email"),
            COLUMNS,
            [("mapping.updated_at", "updated_at 'email' must be a timestamp or date field, it is string")],
            id="updated_at_type",
        ),
    ],
)
def test_check_mapping_profile(data: dict, source_columns: list[str] | None, expected: list) -> None:
    schema = load_target_schema("customer_profile", SCHEMAS)
    assert check_mapping(MappingConfig.model_validate(data), schema, source_columns) == expected


def test_check_mapping_required_fields() -> None:
    schema = load_target_schema("event", SCHEMAS)
    config = MappingConfig.model_validate(
        {"target": "event", "fields": [{"to": "event_id", "from": "id"}, {"to": "amount", "from": "amt"}]}
    )
    assert check_mapping(config, schema, ["id", "amt"]) == [
        ("mapping.fields", "required field 'event_type' of target schema 'event' is not mapped"),
        ("mapping.fields", "required field 'occurred_at' of target schema 'event' is not mapped"),
    ]


def test_check_mapping_clean() -> None:
    schema = load_target_schema("event", SCHEMAS)
    config = MappingConfig.model_validate(
        {"target": "event", "fields": [
            {"to": "event_id", "from": "id"},
            {"to": "event_type", "value": "purchase"},
            {"to": "occurred_at", "from": "when", "format": "%d/%m/%Y %H:%M"},
            {"to": "quantity", "from": "qty", "default": 1},
            {"to": "amount", "expr": "to_float(price) * qty"},
        ], "identities": [{"field": "event_id", "namespace": "event_id"}]}
    )  # fmt: skip
    assert check_mapping(config, schema, ["id", "when", "qty", "price"]) == []
