"""Select: the members of an audience, computed set-based on the profile store.

One SQL statement selects the live profiles (`merged_into IS NULL`) that satisfy the compiled part
of the condition (`condition.SqlCompiler`), with the attributes and identities the rest needs;
the residual terms and the variables run on Arrow, chunk by chunk, through the mapping engine (the
same functions as mappings). An identity is `identity_<namespace>`: the profile's smallest
value of that namespace (a profile may hold up to `max_per_profile` of them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater.mapping.expressions import columns, parse

from .condition import Compiled, SqlCompiler, attribute_sql, attribute_text, conjuncts, join_and
from .models import IDENTITY_PREFIX, Audience

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine

PROFILE_ID = "profile_id"
CHUNK_ROWS = 100_000


@dataclass
class Plan:
    """How one audience's membership is computed on one store."""

    pushed: list[str] = field(default_factory=list)  # terms of the condition run as SQL (their text)
    residual: list[str] = field(default_factory=list)  # terms run on Arrow
    statement: Any = None
    types: dict[str, str] = field(default_factory=dict)  # fetched column -> field type
    residual_node: Any = None  # the residual terms as one tree (None: SQL selects the members alone)


def identity_columns(audience: Audience) -> list[str]:
    """The identity columns the destinations name people by, in order, once each."""
    out: list[str] = []
    for dest in audience.config.destinations:
        if IDENTITY_PREFIX + dest.identity not in out:
            out.append(IDENTITY_PREFIX + dest.identity)
    return out


def plan(engine: Engine, audience: Audience, *, pushdown: bool = True) -> Plan:
    """The SQL statement and the residual; `pushdown=False` runs the whole condition on Arrow (tests)."""
    from sqlalchemy import func, select

    from headwater.store.profiles import identity_table, profile_table
    from headwater.target_schemas import load_target_schema

    config = audience.config
    dialect = engine.dialect.name
    schema = load_target_schema(config.profile_schema)
    field_types = {f.name: f.type for f in schema.fields}
    attrs = profile_table.c.attributes
    joins: dict[str, Any] = {}

    def identity(ns: str) -> Any:
        if ns not in joins:
            joins[ns] = (
                select(identity_table.c.profile_id, func.min(identity_table.c.value).label("value"))
                .where(identity_table.c.namespace == ns)
                .group_by(identity_table.c.profile_id)
                .subquery(f"ident_{ns}")
            )
        return joins[ns].c.value

    def column(name: str) -> Compiled | None:
        if name.startswith(IDENTITY_PREFIX):
            return Compiled(identity(name.removeprefix(IDENTITY_PREFIX)), "string")
        return attribute_sql(dialect, attrs, name, field_types[name])

    compiler = SqlCompiler(dialect, column)
    result = Plan()
    where = [profile_table.c.merged_into.is_(None)]
    residual_nodes = []
    for term in conjuncts(parse(config.condition)):
        sql = compiler.where(term) if pushdown else None
        if sql is None:
            residual_nodes.append(term)
        else:
            where.append(sql)
            result.pushed.append(_text(term))
    result.residual = [_text(n) for n in residual_nodes]
    residual = join_and(residual_nodes)
    needed = set(columns(residual)) if residual is not None else set()
    for var in config.variables:
        needed |= columns(parse(var.expression))
    needed |= set(identity_columns(audience))
    selected = [profile_table.c.profile_id.label(PROFILE_ID)]
    for name in sorted(needed):
        if name.startswith(IDENTITY_PREFIX):
            selected.append(identity(name.removeprefix(IDENTITY_PREFIX)).label(name))
            result.types[name] = "string"
        else:
            selected.append(attribute_text(dialect, attrs, name, field_types[name]).label(name))
            result.types[name] = field_types[name]
    source: Any = profile_table
    for sub in joins.values():
        source = source.outerjoin(sub, sub.c.profile_id == profile_table.c.profile_id)
    result.statement = select(*selected).select_from(source).where(*where)
    result.residual_node = residual
    return result


def _text(node: Any) -> str:
    return _render(node)


def _render(node: Any) -> str:
    from headwater.mapping.syntax import BinaryOp, Call, Column, Literal

    if isinstance(node, Column):
        return node.name
    if isinstance(node, Literal):
        return repr(node.value) if not isinstance(node.value, bool) else str(node.value).lower()
    if isinstance(node, Call):
        return f"{node.name}({', '.join(_render(a) for a in node.args)})"
    if isinstance(node, BinaryOp):
        return f"({_render(node.left)} {node.op} {_render(node.right)})"
    return str(node)


@dataclass
class Stats:
    scanned: int = 0  # rows the SQL part selected
    members: int = 0
    variable_errors: int = 0


def members(engine: Engine, audience: Audience, *, chunk_rows: int = CHUNK_ROWS, now: datetime | None = None,
            stats: Stats | None = None, pushdown: bool = True) -> Iterator[pa.Table]:
    """The audience's members in chunks: profile_id, identity_* columns, then one column per variable."""
    found = plan(engine, audience, pushdown=pushdown)
    now = now or datetime.now(UTC)
    stats = stats if stats is not None else Stats()
    names = [PROFILE_ID, *found.types]
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(found.statement)
        for rows in result.partitions(chunk_rows):
            stats.scanned += len(rows)
            table = _evaluate(audience, found, names, rows, now, stats)
            stats.members += table.num_rows
            if table.num_rows:
                yield table


def _evaluate(audience: Audience, found: Plan, names: list[str], rows: list, now: datetime, stats: Stats) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    from headwater.mapping import casting
    from headwater.mapping.context import EvalContext
    from headwater.mapping.evaluation import evaluate

    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    n = len(rows)
    loader = EvalContext({}, n, now)
    data: dict[str, pa.Array] = {PROFILE_ID: pa.array(cols[0], pa.string())}
    for name, values in zip(names[1:], cols[1:], strict=True):
        data[name] = casting.convert(loader, pa.array(values, pa.string()), found.types[name])
    keep = None
    if found.residual_node is not None:
        ctx = EvalContext(data, n, now, memo={})
        mask = ctx.broadcast(evaluate(found.residual_node, ctx))
        keep = pc.fill_null(pc.cast(mask, pa.bool_()), False)
        data = {k: v.filter(keep) for k, v in data.items()}
        n = len(data[PROFILE_ID])
    out = {PROFILE_ID: data[PROFILE_ID]}
    for name in identity_columns(audience):
        out[name] = data[name]
    ctx = EvalContext(data, n, now, memo={})
    for var in audience.config.variables:
        ctx.failures = []
        value = ctx.broadcast(evaluate(parse(var.expression), ctx))
        stats.variable_errors += sum(f.mask.true_count for f in ctx.failures)
        out[var.name] = value
    return pa.table(out)
