"""Runs a source's expectations on each chunk of mapped rows with Great Expectations (GX Core 1.x).

Row-level expectations (column map, column pair, multicolumn) name every failing row by its
`_hw_row`; those rows become `RowError`s and are quarantined. Any other failed expectation
(row count, mean, column exists…) is a table failure and fails the run.

GX is imported only when a Validator first validates a chunk that has expectations to run: it costs
7-16 s, and a source without expectations should not pay it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, ConfigIssue, ErrorThresholdExceeded, HeadwaterError
from headwater.records import ROW_ID, RowError, render_value
from headwater.validation.models import ValidateConfig, all_expectations

if TYPE_CHECKING:
    import pyarrow as pa

STAGE = "validate"

# `exclude_unexpected_values` + `_hw_row` as the dataframe's named index makes GX return the failing
# row ids as one list (`[{"_hw_row": [..]}]`) instead of one dict per row built with `df.at`:
# measured 0.6 s instead of 9.5 s for 200k rows with 130k failures. Values are taken from Arrow.
RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_ID],
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
}

_MAX_MESSAGE_ARG_CHARS = 120


@dataclass
class ValidationResult:
    """What one chunk's validation found.

    `errors` has one RowError per (failing row, expectation); `failed_rows` the `_hw_row`s of those
    rows; `table_failures` the failed expectations that are not about single rows (they fail the run
    whatever the ratio); `summary` is JSON-able, to persist as the run's GX result.
    """

    errors: list[RowError] = field(default_factory=list)
    failed_rows: set[int] = field(default_factory=set)
    table_failures: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    gx_results: list = field(default_factory=list)  # the ExpectationValidationResults, in config order


class Validator:
    """Validates chunks of mapped rows against a `validate:` section; build once, call per chunk.

    The standard row-level expectations (not null, unique, compound unique, regex, between, in set,
    value lengths) are evaluated on the Arrow chunk by `arrow_checks`, which builds the same GX result
    objects GX would; every other expectation, and any of those whose arguments or column types it
    does not mirror, runs in GX's pandas engine on a dataframe of just the columns it needs.

    :param cfg: the source's validate section.
    :param file: name of the source file, used in ConfigErrors about expectation arguments.
    :param engine: "auto" (Arrow where it applies, GX for the rest) or "gx" (everything through GX's
        pandas engine on the whole chunk, as before the Arrow path; tests compare the two).
    """

    def __init__(self, cfg: ValidateConfig, *, file: str = "validate", engine: str = "auto"):
        if engine not in ("auto", "gx"):
            raise ValueError(f"engine must be 'auto' or 'gx', not {engine!r}")
        self.cfg = cfg
        self.file = file
        self.engine = engine
        # Read the suite file now (stdlib only): a missing file fails before any data is touched.
        self._expectations = all_expectations(cfg)
        self._gx: _GX | None = None
        self._plans: dict[tuple[int, Any], Any] = {}  # (expectation index, schema) → check or None

    @property
    def enabled(self) -> bool:
        return bool(self._expectations)

    def prepare(self) -> _GX:
        """Build the GX expectations now (once). Raises ConfigError for bad expectation arguments.
        `validate` calls it; call it earlier to fail before reading any data. The GX context, its
        dataframe asset and suites are made when an expectation first needs GX's engine."""
        if self._gx is not None:
            return self._gx
        import uuid

        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        built: list[tuple[str, Any]] = []
        issues: list[ConfigIssue] = []
        for loc, exp in self._expectations:
            try:
                config = ExpectationConfiguration(type=exp.type, kwargs=exp.kwargs, **exp.config_fields)
                built.append((loc, config.to_domain_obj()))
            except Exception as exc:  # GX raises pydantic and its own errors; report them all
                issues.append(ConfigIssue(self.file, loc, f"invalid arguments for {exp.type}: {exc}"))
        if issues:
            raise ConfigError(issues)
        # Results are matched to their locs by expectation id (a suite would assign them; the
        # Arrow path needs none). GX runs copies of these in suites of its own (`_GX.suite_of`).
        for _, expectation in built:
            expectation.id = str(uuid.uuid4())
        expectations = [e for _, e in built]
        self._gx = _GX(expectations, {str(e.id): loc for (loc, _), e in zip(built, expectations, strict=True)})
        return self._gx

    def validate(self, table: pa.Table) -> ValidationResult:
        """Validate one chunk (mapped columns plus `_hw_row`)."""
        if ROW_ID not in table.column_names:
            raise ValueError(f"validate needs the {ROW_ID} column; got {table.column_names}")
        if not self.enabled:
            return ValidationResult(
                summary={"success": True, "rows": table.num_rows, "rows_failed": 0, "expectations": []}
            )

        gxo = self.prepare()
        results: list = []
        arrow_ids: set[str] = set()
        left: list[int] = []  # expectations GX evaluates on this chunk
        if self.engine == "gx":
            left = list(range(len(gxo.expectations)))
        else:
            from headwater.validation.arrow_checks import UseGX, gx_result

            row_ids = table.column(ROW_ID).to_numpy()
            for i, expectation in enumerate(gxo.expectations):
                check = self._plan(i, expectation, table.schema)
                if check is None:
                    left.append(i)
                    continue
                try:
                    outcome = check(table)
                except UseGX:
                    left.append(i)
                    continue
                results.append(
                    gx_result(
                        gxo.result_config(i),
                        outcome,
                        row_ids,
                        RESULT_FORMAT,
                        mostly=_mostly(expectation),
                    )
                )
                arrow_ids.add(str(expectation.id))
        if left:
            results += self._run_gx(gxo, left, table)
        return _interpret(table, results, gxo.locs, arrow_ids)

    def _plan(self, i: int, expectation: Any, schema: pa.Schema) -> Any:
        from headwater.validation.arrow_checks import plan

        key = (i, schema)
        if key not in self._plans:
            kwargs = {k: v for k, v in expectation.configuration.kwargs.items() if k != "batch_id"}
            self._plans[key] = plan(expectation.expectation_type, kwargs, schema)
        return self._plans[key]

    def _run_gx(self, gxo: _GX, indexes: list[int], table: pa.Table) -> list:
        """GX's own evaluation of these expectations, on a dataframe of only the columns they name
        (building a GX batch hashes the whole dataframe; fewer columns, less hashing)."""
        suite = gxo.suite_of(indexes)
        columns = _columns_needed([gxo.expectations[i] for i in indexes], table.column_names)
        if columns is not None:
            table = table.select([ROW_ID, *columns])
        df = table.to_pandas().set_index(ROW_ID)
        batch = gxo.batch_definition().get_batch(batch_parameters={"dataframe": df})
        return list(batch.validate(suite, result_format=RESULT_FORMAT).results)


@dataclass
class _GX:
    """The GX side of a Validator: the expectations, their locs, and (made on first use) the
    ephemeral context with a pandas dataframe asset and the suites GX runs."""

    expectations: list
    locs: dict[str, str]  # expectation id → loc in the source file
    _batch_definition: Any = None
    _context: Any = None
    _suites: dict[tuple[int, ...], Any] = field(default_factory=dict)
    _configs: dict[int, Any] = field(default_factory=dict)

    def context(self) -> Any:
        if self._context is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            self._context = gx.get_context(
                mode="ephemeral",
                project_config=DataContextConfig(
                    store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                    analytics_enabled=False,
                    progress_bars=ProgressBarsConfig(globally=False),  # tqdm lines would flood task logs
                ),
            )
        return self._context

    def batch_definition(self) -> Any:
        """Whole-dataframe batch definition of a pandas dataframe asset."""
        if self._batch_definition is None:
            asset = self.context().data_sources.add_pandas("headwater").add_dataframe_asset("chunk")
            self._batch_definition = asset.add_batch_definition_whole_dataframe("whole chunk")
        return self._batch_definition

    def suite_of(self, indexes: list[int]) -> Any:
        """A suite of copies of just these expectations (made once per set)."""
        key = tuple(indexes)
        if key not in self._suites:
            import great_expectations as gx

            suite = self.context().suites.add(gx.ExpectationSuite(name=f"headwater-{len(self._suites) + 1}"))
            for i in key:
                copy = self.expectations[i].copy()
                copy.id = None  # GX refuses an expectation that already belongs to a suite
                added = suite.add_expectation(copy)
                self.locs[str(added.id)] = self.locs[str(self.expectations[i].id)]
            self._suites[key] = suite
        return self._suites[key]

    def result_config(self, i: int) -> Any:
        """The expectation configuration GX puts in a result (with the batch id it validated)."""
        if i not in self._configs:
            config = self.expectations[i].configuration
            config.kwargs["batch_id"] = "headwater-chunk"
            self._configs[i] = config
        return self._configs[i]


def _mostly(expectation: Any) -> float:
    value = getattr(expectation, "mostly", None)
    return 1.0 if value is None else float(value)  # 0 is a valid mostly: every result a success


def _columns_needed(expectations: list, available: list[str]) -> list[str] | None:
    """The columns these expectations read, or None when one of them looks at the whole table."""
    from headwater.validation.models import COLUMN_ARGS

    needed: list[str] = []
    for expectation in expectations:
        if expectation.expectation_type.startswith("expect_table_"):
            return None
        kwargs = expectation.configuration.kwargs
        named = False
        for arg in COLUMN_ARGS:
            value = kwargs.get(arg)
            for column in [value] if isinstance(value, str) else list(value or []):
                named = True
                if column in available and column != ROW_ID and column not in needed:
                    needed.append(column)
        if not named:
            return None
    return needed


def _interpret(table: pa.Table, results: list, locs: dict[str, str], arrow_ids: set[str] = frozenset()) -> ValidationResult:
    """Turn GX expectation results into row errors, table failures and a summary.

    `arrow_ids`: ids of the expectations evaluated by `arrow_checks` (the summary says which engine ran).
    """
    import numpy as np

    out = ValidationResult()
    # Results, summary and row errors in the order of the config (GX returns its own order).
    order = {loc: i for i, loc in enumerate(dict.fromkeys(locs.values()))}
    results = sorted(results, key=lambda r: order.get(locs.get(str(r.expectation_config.id)), len(order)))
    out.gx_results = results
    row_ids = table.column(ROW_ID).to_numpy(zero_copy_only=False)
    failing: list[tuple[Any, np.ndarray]] = []  # (expectation config, positions in table)
    order = None
    entries = []
    for res in results:
        config = res.expectation_config
        info = res.result or {}
        exception = _exception_message(res.exception_info)
        index_list = info.get("unexpected_index_list")
        ids = _failed_ids(index_list) if index_list is not None else []
        entries.append(
            {
                "loc": locs.get(str(config.id)),
                "type": config.type,
                "kwargs": _jsonable({k: v for k, v in config.kwargs.items() if k != "batch_id"}),
                "success": bool(res.success),
                "element_count": _jsonable(info.get("element_count")),
                "unexpected_count": _jsonable(info.get("unexpected_count")),
                "observed_value": _jsonable(info.get("observed_value")),
                "exception": exception,
                "engine": "arrow" if str(config.id) in arrow_ids else "gx",
            }
        )
        if exception:
            out.table_failures.append(f"{_describe(config)} could not run: {exception}")
        elif ids:
            if order is None:
                order = np.argsort(row_ids, kind="stable")
            failing.append((config, _positions(row_ids, ids, order)))
        elif not res.success:
            observed = info.get("observed_value")
            detail = f" (observed {_text(_jsonable(observed))})" if observed is not None else ""
            out.table_failures.append(f"{_describe(config)} failed{detail}")

    if failing:
        all_positions = np.unique(np.concatenate([p for _, p in failing]))
        rows = table.drop_columns([ROW_ID]).take(all_positions).to_pylist()
        by_position = dict(zip(all_positions.tolist(), rows, strict=True))
        records: dict[int, str] = {}
        for config, positions in failing:
            columns = _columns(config.kwargs)
            message = f"{_describe(config)} failed for this row"
            for pos in positions.tolist():
                row = by_position[pos]
                if pos not in records:
                    records[pos] = _json(row)
                row_id = int(row_ids[pos])
                out.failed_rows.add(row_id)
                out.errors.append(
                    RowError(
                        row=row_id,
                        stage=STAGE,
                        code=config.type,
                        column=",".join(columns) or None,
                        value=_value(row, columns),
                        message=message,
                        record=records[pos],
                    )
                )

    out.summary = {
        "success": all(e["success"] for e in entries) and not out.table_failures,
        "rows": table.num_rows,
        "rows_failed": len(out.failed_rows),
        "expectations": entries,
    }
    return out


class TableExpectationFailed(HeadwaterError):
    """An expectation about the whole chunk (row count, mean, column exists…) failed."""


def error_ratio(rows_quarantined: int, rows_read: int) -> float:
    """Quarantined rows / rows read (0.0 when nothing was read)."""
    return rows_quarantined / rows_read if rows_read else 0.0


def enforce(
    cfg: ValidateConfig, *, rows_read: int, rows_quarantined: int, table_failures: list[str]
) -> float:
    """Fail the run on any table failure, or when the error ratio exceeds `max_error_ratio`.

    Returns the ratio. `rows_quarantined` counts distinct rows rejected by any stage of the run.
    """
    if table_failures:
        raise TableExpectationFailed(
            f"{len(table_failures)} table expectation(s) failed:\n"
            + "\n".join(f"- {f}" for f in table_failures)
        )
    ratio = error_ratio(rows_quarantined, rows_read)
    if ratio > cfg.max_error_ratio:
        raise ErrorThresholdExceeded(
            f"{rows_quarantined} of {rows_read} rows ({ratio:.2%}) were quarantined; "
            f"validate.max_error_ratio allows {cfg.max_error_ratio:.2%}"
        )
    return ratio


def split_valid(table: pa.Table, failed_rows: set[int]) -> pa.Table:
    """Rows of `table` whose `_hw_row` is not in `failed_rows`."""
    if not failed_rows:
        return table
    import pyarrow as pa
    import pyarrow.compute as pc

    failed = pa.array(sorted(failed_rows), type=table.schema.field(ROW_ID).type)
    return table.filter(pc.invert(pc.is_in(table.column(ROW_ID), value_set=failed)))


def merge_summaries(summaries: list[dict]) -> dict:
    """One run-level summary from per-chunk summaries (counts summed, success only if all succeeded).

    Aggregate expectations (row count, mean…) run per chunk; their observed values are kept per chunk.
    """
    merged: dict[str, Any] = {
        "success": all(s.get("success", True) for s in summaries),
        "chunks": len(summaries),
        "rows": sum(s.get("rows", 0) for s in summaries),
        "rows_failed": sum(s.get("rows_failed", 0) for s in summaries),
        "expectations": [],
    }
    by_key: dict[str, dict] = {}
    for summary in summaries:
        for e in summary.get("expectations", []):
            key = json.dumps([e.get("loc"), e["type"], e["kwargs"]], sort_keys=True, default=str)
            m = by_key.get(key)
            if m is None:
                m = by_key[key] = {
                    **{k: e.get(k) for k in ("loc", "type", "kwargs")},
                    "success": True,
                    "element_count": 0,
                    "unexpected_count": 0,
                    "observed_values": [],
                    "exceptions": [],
                }
                merged["expectations"].append(m)
            m["success"] = m["success"] and e["success"]
            m["element_count"] += e.get("element_count") or 0
            m["unexpected_count"] += e.get("unexpected_count") or 0
            if e.get("observed_value") is not None:
                m["observed_values"].append(e["observed_value"])
            if e.get("exception"):
                m["exceptions"].append(e["exception"])
    return merged


# --- helpers -------------------------------------------------------------------------------------


def _failed_ids(index_list: Any) -> list[int]:
    """`_hw_row`s from an unexpected_index_list: `[{"_hw_row": [..]}]`, or one dict per row."""
    ids: list[int] = []
    for item in index_list or []:
        value = item.get(ROW_ID) if isinstance(item, dict) else item
        if isinstance(value, list | tuple):
            ids.extend(int(v) for v in value)
        elif value is not None:
            ids.append(int(value))
    return ids


def _positions(row_ids: Any, ids: list[int], order: Any) -> Any:
    """Positions in the chunk of the given `_hw_row`s (vectorised; `_hw_row` is unique per run).

    `order`: `np.argsort(row_ids)`, computed once per chunk."""
    import numpy as np

    wanted = np.asarray(ids, dtype=row_ids.dtype)
    found = np.searchsorted(row_ids, wanted, sorter=order)
    return order[np.clip(found, 0, len(order) - 1)]


def _exception_message(info: Any) -> str | None:
    """GX reports either one exception dict or one per failed metric; return the first message."""
    if not isinstance(info, dict) or not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _columns(kwargs: dict) -> list[str]:
    if isinstance(kwargs.get("column"), str):
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return [str(c) for c in kwargs.get("column_list") or []]


def _describe(config: Any) -> str:
    """`type(arg=value, …)` with long arguments shortened, for messages."""
    args = []
    for key, value in config.kwargs.items():
        if value is None or key == "batch_id":
            continue
        text = f"'{value}'" if isinstance(value, str) else json.dumps(_jsonable(value), default=str)
        if len(text) > _MAX_MESSAGE_ARG_CHARS:
            text = text[: _MAX_MESSAGE_ARG_CHARS - 1] + "…"
        args.append(f"{key}={text}")
    return f"{config.type}({', '.join(args)})"


def _value(row: dict, columns: list[str]) -> str | None:
    if len(columns) == 1:
        return render_value(_text(row.get(columns[0])))
    if columns:
        return render_value(_json({c: row.get(c) for c in columns}))
    return None


def _text(value: Any) -> str | None:
    """Readable text of one cell: strings as is, dates ISO, everything else via JSON rules."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float | int | decimal.Decimal):
        return str(value)
    return json.dumps(_jsonable(value), ensure_ascii=False, default=str)


def _json(row: Any) -> str:
    try:  # plain values straight to json (one call per quarantined row: this is the common case)
        return _ROW_ENCODER.encode(row)
    except (ValueError, TypeError):  # NaN/inf, odd keys: the careful way
        return json.dumps(_jsonable(row), ensure_ascii=False, default=str)


def _json_default(value: Any) -> Any:
    """What `_jsonable` makes of the types json does not know (dates, timedeltas, decimals, bytes)."""
    result = _jsonable(value)
    if isinstance(result, float) and not math.isfinite(result):
        raise ValueError
    return result


# one encoder for every row (json.dumps with options builds a new one per call)
_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_default)


def _jsonable(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None, dates ISO, bytes and the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy array
        return _jsonable(value.tolist())
    return str(value)
