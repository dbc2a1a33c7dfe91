"""Runs a mapping on an Arrow table: evaluate every field at once per column, cast to the target
type, and reject (with RowErrors) the rows whose values do not convert or whose required fields are empty.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, ConfigIssue, SelectionError
from headwater.mapping import casting
from headwater.mapping.context import EvalContext, MappingError
from headwater.mapping.expressions import BinaryOp, Call, Column, Literal, Node, columns, parse
from headwater.mapping.functions import FUNCTIONS, FunctionSpec
from headwater.mapping.models import MappingConfig, check_mapping
from headwater.mapping.operators import OPERATORS
from headwater.records import ROW_ID, RowError, render_value
from headwater.target_schemas import SchemaField, TargetSchema, arrow_schema, arrow_type

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CompiledMapping", "MapResult", "MappingError", "compile_mapping", "evaluate"]


def evaluate(node: Node, ctx: EvalContext) -> Any:
    """Value of an expression over the context's columns: an Arrow array, or a scalar for constants."""
    if isinstance(node, Column):
        return ctx.column(node.name)
    if isinstance(node, Literal):
        return _scalar(node.value)
    memo = ctx.memo if not (isinstance(node, Call) and node.name in VOLATILE) else None
    if memo is not None and node in memo:
        value, failures = memo[node]
        for failure in failures:  # the rows this subexpression rejected are rejected in this field too
            ctx.fail(failure.mask, failure.raw, failure.message)
        return value
    before = len(ctx.failures)
    if isinstance(node, Call):
        spec = FUNCTIONS[node.name]
        args = [a.value if i in spec.literals else evaluate(a, ctx) for i, a in enumerate(node.args)]
        value = spec.impl(ctx, *args)
    elif isinstance(node, BinaryOp):
        value = OPERATORS[node.op](ctx, evaluate(node.left, ctx), evaluate(node.right, ctx))
    else:
        raise TypeError(f"not an expression node: {node!r}")
    if memo is not None:
        memo[node] = (value, ctx.failures[before:])
    return value


# Functions whose every call gives new values: never shared between fields.
VOLATILE = frozenset({"uuid"})


def _scalar(value: Any) -> pa.Scalar:
    import pyarrow as pa

    return pa.scalar(value)


@dataclass(frozen=True)
class FieldPlan:
    field: SchemaField
    node: Node
    transforms: tuple[FunctionSpec, ...]
    format: str | None
    default: Any  # already of the field's type


@dataclass
class MapResult:
    """Mapped rows (target fields in schema order, then `_hw_row`) and the rejected rows' errors."""

    table: pa.Table
    errors: list[RowError]
    rows_in: int

    @property
    def rows_mapped(self) -> int:
        return self.table.num_rows

    @property
    def rows_rejected(self) -> int:
        return self.rows_in - self.table.num_rows

    def errors_by_code(self) -> dict[str, int]:
        return dict(Counter(e.code for e in self.errors))


class CompiledMapping:
    """A checked mapping ready to run on tables; reusable across batches."""

    def __init__(self, mapping: MappingConfig, schema: TargetSchema, plans: dict[str, FieldPlan]):
        self.mapping = mapping
        self.schema = schema
        self.plans = plans
        self.source_columns: frozenset[str] = frozenset().union(*(columns(p.node) for p in plans.values()))
        # Secrets and lookup tables, read once for as long as this compiled mapping lives (a task).
        self.cache: dict = {}

    def output_schema(self) -> pa.Schema:
        """Target fields in schema order (dotted names nested as structs), then `_hw_row`."""
        import pyarrow as pa

        return arrow_schema(self.schema).append(pa.field(ROW_ID, pa.int64()))

    def apply(
        self, table: pa.Table, *, now: datetime | None = None, run_date: date | None = None
    ) -> MapResult:
        """Map `table`; raises SelectionError when a source column used by the mapping is missing.

        `run_date` is what `run_date()` gives: by default the logical date of the running Airflow
        task, else the date of `now`.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        self._require_columns(table)
        run_date = run_date or _task_run_date()
        n = table.num_rows
        source = {name: _whole(table.column(name)) for name in self.source_columns}
        row_ids = (
            pc.cast(_whole(table.column(ROW_ID)), pa.int64())
            if ROW_ID in table.column_names
            else pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), n)), 1)
        )
        started = now or datetime.now(UTC)
        memo: dict = {}
        outputs: list[pa.Array] = []
        problems: list[tuple[pa.BooleanArray, str, str, pa.Array | None, str]] = []
        for target in self.schema.fields:
            plan = self.plans.get(target.name)
            ctx = EvalContext(source, n, started, run_date=run_date, cache=self.cache, memo=memo)
            values = self._map_field(plan, ctx) if plan else pa.nulls(n, arrow_type(target.type))
            outputs.append(values)
            problems.extend((f.mask, "CAST_FAILED", target.name, f.raw, f.message) for f in ctx.failures)
            if target.required:
                empty = pc.is_null(values)
                if target.type == "string":
                    # blank: empty, or whitespace only (what trimming would leave empty), without trimming
                    blank = pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))
                    empty = pc.or_(empty, pc.fill_null(blank, False))
                if ctx.failed is not None:
                    empty = pc.and_(empty, pc.invert(ctx.failed))
                if pc.any(empty).as_py():
                    problems.append(
                        (
                            empty,
                            "REQUIRED_MISSING",
                            target.name,
                            None,
                            f"required field '{target.name}' has no value",
                        )
                    )
        flat = dict(zip(self.schema.field_names, outputs, strict=True))
        output = self.output_schema()
        mapped = pa.Table.from_arrays([*_nest(arrow_schema(self.schema), flat, ""), row_ids], schema=output)
        if not problems:
            return MapResult(mapped, [], n)
        rejected = problems[0][0]
        for mask, *_ in problems[1:]:
            rejected = pc.or_(rejected, mask)
        errors = self._row_errors(table, row_ids, rejected, problems)
        return MapResult(mapped.filter(pc.invert(rejected)), errors, n)

    def _require_columns(self, table: pa.Table) -> None:
        missing = sorted(self.source_columns - set(table.column_names))
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            available = ", ".join(c for c in table.column_names if c != ROW_ID)
            raise SelectionError(
                f"mapping to target '{self.schema.name}' reads column{'s' if len(missing) > 1 else ''} {names}, "
                f"which the source does not have; available columns: {available}"
            )

    def _map_field(self, plan: FieldPlan, ctx: EvalContext) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            values = evaluate(plan.node, ctx)
            for spec in plan.transforms:
                values = spec.impl(ctx, values)
            values = casting.convert(ctx, values, plan.field.type, plan.format)
        except (MappingError, pa.ArrowException) as exc:
            raise MappingError(
                f"cannot map field '{plan.field.name}' of target '{self.schema.name}': {exc}"
            ) from exc
        if plan.default is not None:
            empty = pc.is_null(values)
            if plan.field.type == "string":
                empty = pc.or_(empty, pc.fill_null(pc.equal(values, ""), False))
            values = pc.if_else(empty, pa.scalar(plan.default, values.type), values)
        return values

    @staticmethod
    def _row_errors(table: pa.Table, row_ids: pa.Array, rejected: pa.Array, problems: list) -> list[RowError]:
        import pyarrow.compute as pc

        positions = pc.indices_nonzero(rejected)
        originals = table.drop_columns([ROW_ID]) if ROW_ID in table.column_names else table
        records = {
            pos: json.dumps(row, default=str, ensure_ascii=False)
            for pos, row in zip(positions.to_pylist(), originals.take(positions).to_pylist(), strict=True)
        }
        found: list[tuple[int, int, RowError]] = []
        for order, (mask, code, column, raw, message) in enumerate(problems):
            where = pc.indices_nonzero(mask)
            raws = raw.take(where).to_pylist() if raw is not None else [None] * len(where)
            for pos, row, value in zip(where.to_pylist(), row_ids.take(where).to_pylist(), raws, strict=True):
                text = value if value is None or isinstance(value, str) else str(value)
                error = RowError(row, "map", code, column, render_value(text), message, records[pos])
                found.append((pos, order, error))
        found.sort(key=lambda item: (item[0], item[1]))
        return [e for _, _, e in found]


def _nest(schema: pa.Schema | list, flat: dict[str, pa.Array], prefix: str) -> list[pa.Array]:
    """Columns for `schema` from arrays keyed by dotted field name (struct fields built from their leaves)."""
    import pyarrow as pa

    columns = []
    for f in schema:
        name = prefix + f.name
        if name in flat:
            columns.append(flat[name])
        else:
            children = list(f.type)
            columns.append(pa.StructArray.from_arrays(_nest(children, flat, name + "."), fields=children))
    return columns


def _task_run_date() -> date | None:
    """Logical date of the Airflow task running this code (None outside a task, or without one)."""
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except Exception:  # not inside a task: the caller falls back to today
        return None
    when = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
    return when.date() if when is not None else None


def _whole(column: pa.ChunkedArray) -> pa.Array:
    """One contiguous array, dictionaries decoded (kernels then see plain types)."""
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array


def compile_mapping(
    mapping: MappingConfig, schema: TargetSchema, *, file: str = "<mapping>"
) -> CompiledMapping:
    """Check `mapping` against `schema` (ConfigError listing every issue) and prepare it to run."""
    issues = check_mapping(mapping, schema, None)
    if issues:
        raise ConfigError([ConfigIssue(file, loc, message) for loc, message in issues])
    plans: dict[str, FieldPlan] = {}
    for fm in mapping.fields:
        target = schema.field(fm.to)
        if fm.from_ is not None:
            node: Node = Column(fm.from_)
        elif fm.expr is not None:
            node = parse(fm.expr)
        else:
            node = Literal(fm.value)
        fmt = fm.format if target.type in ("date", "timestamp") else None
        default = casting.coerce_constant(fm.default, target.type, fmt) if fm.default is not None else None
        transforms = tuple(FUNCTIONS[name] for name in fm.transform)
        plans[target.name] = FieldPlan(target, node, transforms, fmt, default)
    return CompiledMapping(mapping, schema, plans)
