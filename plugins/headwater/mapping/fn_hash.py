"""Hashes, salted hashes for PII, and UUIDs. Arrow has no kernel for these: each distinct value is
hashed once, then gathered (random UUIDs are the exception: one per row by definition).

A salt is a secret, so YAML names an Airflow Variable (`'pii_salt'`) or a connection
(`'conn:pii_salt'`, its password) and the value is read when the task runs, once per task.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid as uuid_module
import zlib
from typing import Any

from headwater.mapping.context import EvalContext, MappingError
from headwater.mapping.kernel import as_string, digest, per_distinct
from headwater.mapping.registry import register


@register("sha256(s) -> string", "Hex SHA-256 of the text's UTF-8 bytes.")
def sha256(ctx: EvalContext, s: Any) -> Any:
    return digest(s, hashlib.sha256)


@register("md5(s) -> string", "Hex MD5 of the text's UTF-8 bytes.")
def md5(ctx: EvalContext, s: Any) -> Any:
    return digest(s, hashlib.md5)


_SECRET_NAME = re.compile(r"^(conn:)?[A-Za-z0-9_.-]+$")


def _check_secret(values: tuple) -> str | None:
    name = values[1]
    if not _SECRET_NAME.match(name):
        return (
            f"'{name}' is not a Variable name (or conn:<connection id>); the salt itself never goes "
            "in the source file"
        )
    return None


def secret(ctx: EvalContext, name: str, function: str) -> bytes:
    """The value of Airflow Variable `name` (or `conn:<id>`'s password), read once per task."""
    key = ("secret", name)
    if key in ctx.cache:
        return ctx.cache[key]
    if name.startswith("conn:"):
        from airflow.sdk import Connection

        conn_id = name[len("conn:") :]
        try:
            value = Connection.get(conn_id).password
        except Exception as exc:  # the SDK raises different types in and outside tasks
            raise MappingError(
                f"{function} reads its salt from Airflow connection '{conn_id}', which is not defined ({exc})"
            ) from None
        if not value:
            raise MappingError(
                f"{function} reads its salt from the password of connection '{conn_id}', which is empty"
            )
    else:
        from airflow.sdk import Variable

        try:
            value = Variable.get(name)
        except Exception:
            raise MappingError(
                f"{function} reads its salt from Airflow Variable '{name}', which is not set; create it "
                f"(Admin → Variables, `airflow variables set {name} <salt>`, or the environment variable "
                f"AIRFLOW_VAR_{name.upper()})"
            ) from None
        if not value:
            raise MappingError(f"{function} reads its salt from Airflow Variable '{name}', which is empty")
    ctx.cache[key] = str(value).encode()
    return ctx.cache[key]


@register("sha1(s) -> string", "Hex SHA-1 of the text's UTF-8 bytes.")
def sha1(ctx: EvalContext, s: Any) -> Any:
    return digest(s, hashlib.sha1)


@register("crc32(s) -> integer", "CRC-32 of the text's UTF-8 bytes, as an integer from 0 to 4294967295.")
def crc32(ctx: EvalContext, s: Any) -> Any:
    import pyarrow as pa

    return per_distinct(as_string(s), zlib.crc32, pa.int64(), binary=True)


@register(
    "sha256_salted(s, secret: string) -> string",
    "Hex SHA-256 of the salt followed by the text; the salt is read from the Airflow Variable named `secret`.",
    literals={1: str},
    check=_check_secret,
)
def sha256_salted(ctx: EvalContext, s: Any, name: str) -> Any:
    salt = secret(ctx, name, "sha256_salted")
    return digest(s, lambda data: hashlib.sha256(salt + data))


@register(
    "hmac_sha256(s, secret: string) -> string",
    "Hex HMAC-SHA256 of the text keyed with the Airflow Variable named `secret`.",
    literals={1: str},
    check=_check_secret,
)
def hmac_sha256(ctx: EvalContext, s: Any, name: str) -> Any:
    key = secret(ctx, name, "hmac_sha256")
    return digest(s, lambda data: hmac.new(key, data, hashlib.sha256))


@register("uuid() -> string", "A random UUID (version 4) per row.")
def uuid(ctx: EvalContext) -> Any:
    import pyarrow as pa

    return pa.array([str(uuid_module.uuid4()) for _ in range(ctx.num_rows)], pa.string())


def _check_namespace(values: tuple) -> str | None:
    if len(values) > 1:
        try:
            uuid_module.UUID(values[1])
        except ValueError:
            return f"namespace {values[1]!r} is not a UUID"
    return None


@register(
    "uuid5(s, namespace?: string) -> string",
    "Deterministic UUID (version 5) of the text in `namespace` (a UUID; default the URL namespace).",
    literals={1: str},
    check=_check_namespace,
)
def uuid5(ctx: EvalContext, s: Any, namespace: str | None = None) -> Any:
    import pyarrow as pa

    space = uuid_module.UUID(namespace) if namespace else uuid_module.NAMESPACE_URL
    return per_distinct(as_string(s), lambda v: str(uuid_module.uuid5(space, v)), pa.string())
