"""Target schemas: loading, error messages, Arrow types, and the two shipped schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.errors import ConfigError
from headwater.settings import PROJECT_ROOT
from headwater.target_schemas import (
    TargetSchema,
    arrow_schema,
    arrow_type,
    available_schemas,
    load_target_schema,
)

SHIPPED = PROJECT_ROOT / "include" / "schemas"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_customer_profile() -> None:
    schema = load_target_schema("customer_profile", SHIPPED)
    assert schema.kind == "profile"
    assert schema.field_names == (
        "customer_id", "anonymous_id", "crm_id", "loyalty_id", "email", "phone", "first_name", "last_name", "full_name",
        "email_sha256", "city", "country", "birth_date", "signup_date", "loyalty_tier", "loyalty_points",
        "lifetime_value", "marketing_opt_in", "updated_at",
    )  # fmt: skip
    types = {f.name: f.type for f in schema.fields}
    assert types["birth_date"] == types["signup_date"] == "date"
    assert types["loyalty_points"] == "integer"
    assert types["lifetime_value"] == "float"
    assert types["marketing_opt_in"] == "boolean"
    assert types["updated_at"] == "timestamp"
    assert not any(f.required for f in schema.fields)


def test_shipped_event() -> None:
    schema = load_target_schema("event", SHIPPED)
    assert schema.kind == "event"
    assert schema.field_names == (
        "event_id", "event_type", "occurred_at", "customer_id", "anonymous_id", "email", "product_id", "quantity",
        "amount", "currency", "channel", "properties",
    )  # fmt: skip
    assert [f.name for f in schema.fields if f.required] == ["event_id", "event_type", "occurred_at"]
    assert schema.field("occurred_at").type == "timestamp"
    assert schema.field("quantity").type == "integer"
    assert schema.field("amount").type == "float"


def test_default_folder_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "tiny", "name: tiny\nkind: event\nfields: [{name: a, type: string}]\n")
    monkeypatch.setenv("HEADWATER_SCHEMAS_DIR", str(tmp_path))
    assert load_target_schema("tiny").field_names == ("a",)
    assert available_schemas() == ["tiny"]


def test_field_lookup() -> None:
    schema = load_target_schema("event", SHIPPED)
    assert schema.field("amount").type == "float"
    with pytest.raises(KeyError, match="target schema 'event' has no field 'amnt'; fields: event_id, "):
        schema.field("amnt")


def test_missing_schema_lists_available(tmp_path: Path) -> None:
    write(tmp_path, "alpha", "name: alpha\nkind: event\nfields: [{name: a, type: string}]\n")
    write(tmp_path, "beta", "name: beta\nkind: profile\nfields: [{name: a, type: string}]\n")
    with pytest.raises(ConfigError) as caught:
        load_target_schema("gamma", tmp_path)
    [issue] = caught.value.issues
    assert issue.file == str(tmp_path / "gamma.yaml")
    assert issue.message == "target schema 'gamma' not found; available schemas: alpha, beta"


def test_name_cannot_escape_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="target schema '../x' not found; available schemas: none"):
        load_target_schema("../x", tmp_path)


@pytest.mark.parametrize(
    ("text", "issues"),
    [
        pytest.param(
            "name: s\nkind: person\nfields: [{name: a, type: string}]\n",
            [("kind", "Input should be 'profile' or 'event'")],
            id="bad_kind",
        ),
        pytest.param(
            "name: s\nkind: event\nfields: [{name: a, type: text}, {name: b, type: int, required: yes}]\n",
            [
                (
                    "fields[0].type",
                    "Input should be 'string', 'integer', 'float', 'boolean', 'date' or 'timestamp'",
                ),
                (
                    "fields[1].type",
                    "Input should be 'string', 'integer', 'float', 'boolean', 'date' or 'timestamp'",
                ),
            ],
            id="bad_types",
        ),
        pytest.param(
            "name: s\nkind: event\nfields: [{name: a, type: string, nullable: true}]\n",
            [("fields[0].nullable", "Extra inputs are not permitted")],
            id="unknown_key",
        ),
        pytest.param(
            "name: s\nkind: event\nfields: [{name: a, type: string}, {name: a, type: integer}]\n",
            [("fields", "Value error, field 'a' is defined more than once")],
            id="duplicate_field",
        ),
        pytest.param(
            "name: other\nkind: event\nfields: [{name: a, type: string}]\n",
            [("name", "name 'other' must match the file name 's'")],
            id="name_mismatch",
        ),
        pytest.param(
            "- just\n- a list\n",
            [("", "a target schema must be a mapping with name, kind and fields")],
            id="not_a_mapping",
        ),
    ],
)
def test_invalid_schema_files(tmp_path: Path, text: str, issues: list[tuple[str, str]]) -> None:
    path = write(tmp_path, "s", text)
    with pytest.raises(ConfigError) as caught:
        load_target_schema("s", tmp_path)
    assert [(i.loc, i.message) for i in caught.value.issues] == issues
    assert {i.file for i in caught.value.issues} == {str(path)}


def test_invalid_yaml(tmp_path: Path) -> None:
    write(tmp_path, "s", "name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"s\.yaml: not valid YAML: "):
        load_target_schema("s", tmp_path)


def test_cache_follows_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, "s", "name: s\nkind: event\nfields: [{name: a, type: string}]\n")
    first = load_target_schema("s", tmp_path)
    assert load_target_schema("s", tmp_path) is first
    path.write_text("name: s\nkind: event\nfields: [{name: a, type: string}, {name: b, type: date}]\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_target_schema("s", tmp_path).field_names == ("a", "b")


@pytest.mark.parametrize(
    ("field_type", "expected"),
    [
        pytest.param("string", "string", id="string"),
        pytest.param("integer", "int64", id="integer"),
        pytest.param("float", "double", id="float"),
        pytest.param("boolean", "bool", id="boolean"),
        pytest.param("date", "date32[day]", id="date"),
        pytest.param("timestamp", "timestamp[us, tz=UTC]", id="timestamp"),
    ],
)
def test_arrow_type(field_type: str, expected: str) -> None:
    assert str(arrow_type(field_type)) == expected


def test_arrow_type_unknown() -> None:
    with pytest.raises(ValueError, match="unknown field type 'text'; valid types: string, integer, float"):
        arrow_type("text")


def test_arrow_schema_in_field_order() -> None:
    schema = TargetSchema.model_validate(
        {
            "name": "s",
            "kind": "event",
            "fields": [{"name": "b", "type": "date"}, {"name": "a", "type": "float"}],
        }
    )
    assert [(f.name, str(f.type)) for f in arrow_schema(schema)] == [("b", "date32[day]"), ("a", "double")]


def test_no_pyarrow_at_import() -> None:
    code = (
        "import sys; import headwater.target_schemas, headwater.mapping.models, headwater.mapping.expressions; "
        "print('pyarrow' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
