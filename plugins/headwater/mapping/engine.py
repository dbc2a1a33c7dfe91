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
from headwater.mapping.evaluation import evaluate, source_columns
from headwater.mapping.expressions import Column, Literal, Node, columns, parse
from headwater.mapping.functions import FUNCTIONS, FunctionSpec
from headwater.mapping.models import MappingConfig, check_mapping
from headwater.records import LOCATION, ROW_ID, RowError, render_value
from headwater.target_schemas import SchemaField, TargetSchema, arrow_schema, arrow_type

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CompiledMapping", "MapResult", "MappingError", "compile_mapping", "evaluate"]


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
        problems: list[Problem] = []
        for target in self.schema.fields:
            plan = self.plans.get(target.name)
            ctx = EvalContext(source, n, started, run_date=run_date, cache=self.cache, memo=memo)
            values = self._map_field(plan, ctx) if plan else pa.nulls(n, arrow_type(target.type))
            outputs.append(values)
            problems.extend(
                Problem(f.mask, f.code, target.name, f.raw, f.message, f.columns) for f in ctx.failures
            )
            if target.required:
                empty = pc.is_null(values)
                if target.type == "string":
                    # blank: empty, or whitespace only (what trimming would leave empty), without trimming
                    blank = pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))
                    empty = pc.or_(empty, pc.fill_null(blank, False))
                if ctx.failed is not None:
                    empty = pc.and_(empty, pc.invert(ctx.failed))
                if pc.any(empty).as_py():
                    message = f"required field '{target.name}' has no value"
                    problems.append(Problem(empty, "REQUIRED_MISSING", target.name, None, message))
        flat = dict(zip(self.schema.field_names, outputs, strict=True))
        output = self.output_schema()
        mapped = pa.Table.from_arrays([*_nest(arrow_schema(self.schema), flat, ""), row_ids], schema=output)
        if not problems:
            return MapResult(mapped, [], n)
        rejected = problems[0].mask
        for problem in problems[1:]:
            rejected = pc.or_(rejected, problem.mask)
        errors = _row_errors(table, source, row_ids, rejected, problems)
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
            # What fails from here on is reported with the source columns the field reads.
            ctx.reading = source_columns(plan.node)
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


@dataclass(frozen=True)
class Problem:
    """Rows of one field rejected for one reason, before they become RowErrors."""

    mask: pa.BooleanArray
    code: str
    column: str  # the target field
    raw: pa.Array | None  # the value met where it failed (shown when the expression reads no column)
    message: str
    sources: tuple[str, ...] = ()  # source columns read by what failed: their values are shown


def _row_errors(
    table: pa.Table,
    source: dict[str, pa.Array],
    row_ids: pa.Array,
    rejected: pa.Array,
    problems: list[Problem],
) -> list[RowError]:
    """One RowError per problem and row, in row order; each with the source row as JSON and the
    value as the source had it (the column read, or all of them as JSON when several are)."""
    import pyarrow.compute as pc

    positions = pc.indices_nonzero(rejected)
    hidden = [c for c in (ROW_ID, LOCATION) if c in table.column_names]
    originals = table.drop_columns(hidden).take(positions)
    values = {name: _pylist(originals.column(name)) for name in originals.column_names}
    records = {
        pos: json.dumps(dict(zip(values, row, strict=True)), default=str, ensure_ascii=False)
        for pos, row in zip(positions.to_pylist(), zip(*values.values(), strict=True), strict=True)
    }
    if not values:  # a table of no columns but ours
        records = dict.fromkeys(positions.to_pylist(), "{}")
    locations = (
        dict(zip(positions.to_pylist(), _pylist(table.column(LOCATION).take(positions)), strict=True))
        if LOCATION in table.column_names
        else {}
    )
    found: list[tuple[int, int, RowError]] = []
    for order, problem in enumerate(problems):
        where = pc.indices_nonzero(problem.mask)
        shown = _shown_values(problem, source, where)
        for pos, row, value in zip(where.to_pylist(), row_ids.take(where).to_pylist(), shown, strict=True):
            error = RowError(
                row,
                "map",
                problem.code,
                problem.column,
                render_value(value),
                problem.message,
                records[pos],
                locations.get(pos),
            )
            found.append((pos, order, error))
    found.sort(key=lambda item: (item[0], item[1]))
    return [e for _, _, e in found]


def _shown_values(problem: Problem, source: dict[str, pa.Array], where: pa.Array) -> list[str | None]:
    """The offending value of each row in `where` as text: what the source had in the column(s) read."""
    if problem.sources:
        read = {name: _pylist(source[name].take(where)) for name in problem.sources}
        if len(read) == 1:
            return [_as_text(v) for v in next(iter(read.values()))]
        return [
            json.dumps(dict(zip(read, row, strict=True)), default=str, ensure_ascii=False)
            for row in zip(*read.values(), strict=True)
        ]
    if problem.raw is None:
        return [None] * len(where)
    return [_as_text(v) for v in _pylist(problem.raw.take(where))]


def _as_text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _pylist(values: pa.Array | pa.ChunkedArray) -> list:
    """Python values; those Python cannot hold (a date of year 0) as Arrow renders them as text."""
    import pyarrow as pa

    try:
        return values.to_pylist()
    except (ValueError, OverflowError, pa.ArrowException):
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
            return casting.render_temporal(values)
        try:
            return values.cast(pa.string()).to_pylist()
        except pa.ArrowException:
            return ["<value Python cannot represent>"] * len(values)


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
