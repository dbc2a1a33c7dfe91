"""The audience condition, split into what the profile store runs as SQL and what Arrow runs.

The condition is a tree of the mapping expression language. Its top-level `and` terms are
compiled one by one to SQLAlchemy Core for the store's dialect (SQLite or PostgreSQL): a term
whose every node has a SQL form with the same meaning as on Arrow becomes part of the `WHERE`
clause, so the database selects the members set-based. A term that uses a function whose SQL
form would differ (Unicode case mapping, whitespace classes, date arithmetic, casts that reject
rows, ...) is kept as a *residual*, evaluated by the mapping engine on Arrow columns over the
chunks the SQL selection returns (`membership`). Never row by row in Python either way.

Compiled today: attributes and identities, literals, `= != < <= > >=` between values of one kind
(integer and float mix; a date attribute compares with an ISO date literal), `and`, `or`, `not`,
`is_null`, `coalesce`, `+ - *` on numbers. Timestamps stay on Arrow for SQLite (stored as ISO text
with offsets, which do not order as text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from headwater.mapping.syntax import BinaryOp, Call, Column, Literal, Node

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

_NUMERIC = {"integer", "float"}


@dataclass(frozen=True)
class Compiled:
    sql: ColumnElement
    kind: str  # string, integer, float, boolean, date, timestamp, null


def conjuncts(node: Node) -> list[Node]:
    """The terms of a top-level `a and b and c` (the node itself when it is not an `and`)."""
    if isinstance(node, BinaryOp) and node.op == "and":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def join_and(nodes: list[Node]) -> Node | None:
    if not nodes:
        return None
    out = nodes[0]
    for node in nodes[1:]:
        out = BinaryOp("and", out, node)
    return out


class SqlCompiler:
    """Compiles expression trees for one dialect; `column(name)` gives an attribute's SQL and kind."""

    def __init__(self, dialect: str, column: Any) -> None:
        self.dialect = dialect
        self.column = column  # name -> Compiled | None

    def where(self, node: Node) -> ColumnElement | None:
        """A boolean SQL expression with the meaning of `node`, or None when it has none here."""
        from sqlalchemy import Boolean, type_coerce

        compiled = self.compile(node)
        if compiled is None or compiled.kind not in ("boolean", "null"):
            return None
        return type_coerce(compiled.sql, Boolean)

    def compile(self, node: Node) -> Compiled | None:
        from sqlalchemy import literal, null

        if isinstance(node, Column):
            return self.column(node.name)
        if isinstance(node, Literal):
            value = node.value
            if value is None:
                return Compiled(null(), "null")
            if isinstance(value, bool):
                return Compiled(literal(value), "boolean")
            if isinstance(value, int):
                return Compiled(literal(value), "integer")
            if isinstance(value, float):
                return Compiled(literal(value), "float")
            return Compiled(literal(value), "string")
        if isinstance(node, BinaryOp):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        return None

    def _binary(self, node: BinaryOp) -> Compiled | None:
        from sqlalchemy import and_, or_

        left, right = self.compile(node.left), self.compile(node.right)
        if left is None or right is None:
            return None
        if node.op in ("and", "or"):
            if {left.kind, right.kind} - {"boolean", "null"}:
                return None
            return Compiled((and_ if node.op == "and" else or_)(left.sql, right.sql), "boolean")
        if node.op in ("+", "-", "*"):
            if left.kind not in _NUMERIC or right.kind not in _NUMERIC:
                return None
            sql = {"+": left.sql + right.sql, "-": left.sql - right.sql, "*": left.sql * right.sql}[node.op]
            return Compiled(sql, "integer" if left.kind == right.kind == "integer" else "float")
        if node.op in ("=", "!=", "<", "<=", ">", ">="):
            if "null" in (left.kind, right.kind):
                # null compared with anything is null (no member), on Arrow as in SQL; SQLAlchemy
                # would turn `x = NULL` into `x IS NULL`, so the null is written out instead
                from sqlalchemy import Boolean, null, type_coerce

                return Compiled(type_coerce(null(), Boolean), "null")
            pair = self._comparable(left, right)
            if pair is None:
                return None
            a, b = pair
            sql = {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]
            return Compiled(sql, "boolean")
        return None  # '/' (integer division in SQL) and '||' (null handling) stay on Arrow

    def _comparable(self, left: Compiled, right: Compiled) -> tuple[Any, Any] | None:
        from sqlalchemy import literal

        kinds = {left.kind, right.kind}
        if len(kinds) == 1 or kinds <= _NUMERIC:
            return (left.sql, right.sql)
        if kinds == {"date", "string"}:  # `signup_date >= '2024-01-01'`: the text must be an ISO date
            text, other = (left, right) if left.kind == "string" else (right, left)
            value = getattr(text.sql, "value", None)
            try:
                day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
            except ValueError:
                day = None
            if day is None:
                return None
            lit = literal(day.isoformat()) if self.dialect == "sqlite" else literal(day)
            return (lit, other.sql) if left.kind == "string" else (other.sql, lit)
        return None

    def _call(self, node: Call) -> Compiled | None:
        from sqlalchemy import func, not_

        args = [self.compile(a) for a in node.args]
        if any(a is None for a in args):
            return None
        if node.name == "not" and args[0].kind in ("boolean", "null"):
            return Compiled(not_(args[0].sql), "boolean")
        if node.name == "is_null":
            return Compiled(args[0].sql.is_(None), "boolean")
        if node.name == "coalesce":
            kinds = {a.kind for a in args} - {"null"}
            if len(kinds) > 1:
                return None
            return Compiled(func.coalesce(*(a.sql for a in args)), kinds.pop() if kinds else "null")
        return None


def attribute_sql(dialect: str, attributes: Any, name: str, field_type: str) -> Compiled | None:
    """An attribute of the JSON text column `attributes` as a typed SQL value, or None on this dialect."""
    from sqlalchemy import BigInteger, Boolean, Date, Float, Text, cast, func, type_coerce
    from sqlalchemy.dialects.postgresql import JSONB

    if dialect == "sqlite":
        if field_type == "timestamp":
            return None
        # json_extract gives SQL values of the JSON's type: numbers, text, and 1/0 for booleans.
        return Compiled(func.json_extract(attributes, f'$."{name}"'), field_type if field_type != "string" else "string")
    if dialect == "postgresql":
        text = type_coerce(cast(attributes, JSONB), JSONB)[name].astext
        kinds = {"integer": BigInteger, "float": Float, "boolean": Boolean, "date": Date}
        if field_type == "timestamp":
            from sqlalchemy.dialects.postgresql import TIMESTAMP

            return Compiled(cast(text, TIMESTAMP(timezone=True)), "timestamp")
        return Compiled(cast(text, kinds[field_type]) if field_type in kinds else type_coerce(text, Text), field_type)
    return None


def attribute_text(dialect: str, attributes: Any, name: str, field_type: str = "string") -> Any:
    """An attribute as text (for Arrow to cast): PostgreSQL `->>`, SQLite json_extract as text."""
    from sqlalchemy import Text, cast, func, type_coerce
    from sqlalchemy.dialects.postgresql import JSONB

    if dialect == "postgresql":
        return type_coerce(cast(attributes, JSONB), JSONB)[name].astext
    path = f'$."{name}"'
    if field_type != "boolean":
        return cast(func.json_extract(attributes, path), Text)
    # json_extract turns true/false into 1/0; json_type keeps them apart so Arrow reads booleans.
    return func.iif(func.json_type(attributes, path).in_(("true", "false")), func.json_type(attributes, path),
                    cast(func.json_extract(attributes, path), Text))
