"""The six stages of an audience DAG: connect → select → map → validate → deliver → monitor.

Data between stages travels as Arrow IPC parts in run-scoped staging (as for sources); XCom
carries small manifests. Deliver filters the validated signals against what each destination has
acknowledged *now* (`members`), so a retried task or a retried DAG run never sends an
acknowledged signal again, and it acknowledges batch by batch, so a failure midway keeps the
batches already acknowledged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, TriggerRule

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

    from .models import Audience

STAGES = ("connect", "select", "map", "validate", "deliver")
ERROR_KEY = "error"
SIGNAL_COLUMNS = ("op", "profile_id", "identity", "fingerprint", "variables", "key")


class AudienceStage(BaseOperator):
    """Base of the audience stages.

    :param audience: the validated audience file.
    """

    stage: ClassVar[str]

    def __init__(self, *, audience: Audience, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.audience = audience

    def execute(self, context: Context) -> Any:
        try:
            return self.run_stage(context)
        except Exception as exc:
            from headwater.failures import is_permanent
            from headwater.redact import redact

            context["ti"].xcom_push(key=ERROR_KEY, value={"stage": self.stage, "type": type(exc).__name__,
                                                          "message": redact(str(exc)[:4000])})
            if is_permanent(exc):
                from airflow.sdk.exceptions import AirflowFailException

                raise AirflowFailException(str(exc)) from exc
            raise

    def run_stage(self, context: Context) -> Any:
        raise NotImplementedError

    def staging(self, context: Context) -> Any:
        from headwater.lake.staging import Staging

        return Staging(context["ti"].dag_id, context["dag_run"].run_id)

    def upstream(self, context: Context, stage: str) -> dict:
        found = context["ti"].xcom_pull(task_ids=stage)
        if found is None:
            raise RuntimeError(f"no output from task {stage!r} in this run")
        return found

    def hook(self, dest: Any, run_id: str) -> Any:
        from .destinations.registry import make_hook

        return make_hook(dest, audience=self.audience.name, run_id=run_id, **hook_options(self.audience, dest))


def hook_options(audience: Audience, dest: Any) -> dict:
    from .destinations.registry import sends_variables

    if dest.type not in ("sql_table", "file_drop"):
        return {}
    return {"variable_types": variable_types(audience) if sends_variables(dest) else {}}


def variable_types(audience: Audience) -> dict[str, str]:
    from headwater.mapping.expressions import result_type
    from headwater.target_schemas import load_target_schema

    schema = {f.name: f.type for f in load_target_schema(audience.config.profile_schema).fields}
    out = {}
    for var in audience.config.variables:
        kind = schema.get(var.from_, "string") if var.from_ is not None else result_type(var.expr)
        out[var.name] = {"number": "float", "any": "string", "array": "string"}.get(kind, kind)
    return out


class AudienceConnectOperator(AudienceStage):
    """Connect to every destination (credentials, endpoint, table) before anything is computed."""

    stage = "connect"
    ui_color = "#e3f2fd"

    def run_stage(self, context: Context) -> dict:
        run_id = context["dag_run"].run_id
        for dest in self.audience.config.destinations:
            hook = self.hook(dest, run_id)
            try:
                hook.check()
            finally:
                hook.close()
        return {"destinations": [d.name for d in self.audience.config.destinations],
                "started_at": datetime.now(UTC).isoformat()}


class AudienceSelectOperator(AudienceStage):
    """Compute the membership on the profile store (condition as SQL, residual and variables on Arrow)."""

    stage = "select"
    ui_color = "#e8f5e9"

    def run_stage(self, context: Context) -> dict:
        from headwater.store import db

        from .membership import Stats, members, plan

        engine = db.get_engine()
        staging = self.staging(context)
        staging.reset("select")
        stats = Stats()
        parts = [staging.write("select", table) for table in members(engine, self.audience, stats=stats)]
        found = plan(engine, self.audience)
        self.log.info("audience %s: %d members (SQL: %s; Arrow: %s)", self.audience.name, stats.members,
                      " and ".join(found.pushed) or "-", " and ".join(found.residual) or "-")
        return {"parts": parts, "members": stats.members, "scanned": stats.scanned, "pushed": found.pushed,
                "residual": found.residual, "variable_errors": stats.variable_errors}


def read_members(staging: Any, parts: list[str], audience: Audience) -> pa.Table:
    import pyarrow as pa

    from .membership import PROFILE_ID, identity_columns

    tables = list(staging.read(parts)) if parts else []
    if tables:
        return pa.concat_tables(tables)
    types = variable_types(audience)
    from headwater.target_schemas import arrow_type

    fields = [pa.field(PROFILE_ID, pa.string())] + [pa.field(c, pa.string()) for c in identity_columns(audience)]
    fields += [pa.field(v, arrow_type(types[v]) if types[v] in ("string", "integer", "float", "boolean", "date", "timestamp") else pa.string()) for v in types]
    return pa.schema(fields).empty_table()


class AudienceMapOperator(AudienceStage):
    """Diff the membership against what each destination acknowledged → signals per destination."""

    stage = "map"
    ui_color = "#fff3e0"

    def run_stage(self, context: Context) -> dict:
        from headwater.store import db

        from .destinations.registry import signals_of

        selected = self.upstream(context, "select")
        staging = self.staging(context)
        current = read_members(staging, selected["parts"], self.audience)
        engine = db.get_engine()
        out: dict[str, Any] = {"members": current.num_rows, "destinations": {}}
        for dest in self.audience.config.destinations:
            stage = f"map_{dest.name}"
            staging.reset(stage)
            table, counts, skipped = signals_for(engine, self.audience, dest, current)
            parts = [staging.write(stage, table.slice(i, 100_000)) for i in range(0, table.num_rows, 100_000)]
            out["destinations"][dest.name] = {"parts": parts, **counts, "skipped": skipped}
            self.log.info("%s: %d add, %d remove, %d modify%s", dest.name, counts["add"], counts["remove"],
                          counts["modify"], f" ({skipped} not sent: the destination takes {', '.join(signals_of(dest))})" if skipped else "")
        return out


def signals_for(engine: Any, audience: Audience, dest: Any, current: pa.Table) -> tuple[pa.Table, dict, int]:
    """One destination's signals for the current membership: (table, counts by op, signals not sent)."""
    from .destinations.registry import sends_variables, signals_of
    from .diff import OPS, diff, signal_rows
    from .members import acknowledged
    from .models import IDENTITY_PREFIX

    variables = [v.name for v in audience.config.variables] if sends_variables(dest) else []
    signals = diff(current, IDENTITY_PREFIX + dest.identity, variables, acknowledged(engine, audience.name, dest.name))
    counts = {op: signals[op].num_rows for op in OPS}
    wanted = signals_of(dest)
    rows: list[dict] = []
    for op in OPS:
        if op in wanted:
            rows += signal_rows(audience.name, dest.name, op, signals[op], variables)
    skipped = sum(n for op, n in counts.items() if op not in wanted)
    return _signal_table(rows), counts, skipped


def _signal_table(rows: list[dict]) -> pa.Table:
    import pyarrow as pa

    return pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in SIGNAL_COLUMNS})


class AudienceValidateOperator(AudienceStage):
    """Keep the signals whose identity is present and well-formed; hash it where the destination requires."""

    stage = "validate"
    ui_color = "#fce4ec"

    def run_stage(self, context: Context) -> dict:
        from .destinations.registry import REGISTRY
        from .identity_checks import check

        mapped = self.upstream(context, "map")
        staging = self.staging(context)
        out: dict[str, Any] = {}
        for dest in self.audience.config.destinations:
            stage = f"validate_{dest.name}"
            staging.reset(stage)
            parts, valid, errors, examples = [], 0, {}, []
            for table in staging.read(mapped["destinations"][dest.name]["parts"]):
                good, bad, shown = check(table, dest.identity, hashed=REGISTRY[dest.type].hashed)
                valid += good.num_rows
                for code, n in bad.items():
                    errors[code] = errors.get(code, 0) + n
                examples += shown
                if good.num_rows:
                    parts.append(staging.write(stage, good))
            for line in examples[:10]:
                self.log.warning("%s: %s", dest.name, line)
            out[dest.name] = {"parts": parts, "valid": valid, "invalid": sum(errors.values()),
                              "errors_by_code": errors, "examples": examples[:5]}
        return out


class AudienceDeliverOperator(AudienceStage):
    """Send the signals each destination has not acknowledged yet, batch by batch, acknowledging as it goes."""

    stage = "deliver"
    ui_color = "#ede7f6"

    def run_stage(self, context: Context) -> dict:
        from headwater.store import db

        from .destinations.base import DeliveryFailed

        validated = self.upstream(context, "validate")
        staging = self.staging(context)
        engine = db.get_engine()
        run_id = context["dag_run"].run_id
        report: dict[str, Any] = {}
        failures: list[DeliveryFailed] = []
        for dest in self.audience.config.destinations:
            stats = deliver(engine, self.audience, dest, staging.read(validated[dest.name]["parts"]),
                            self.hook(dest, run_id), run_id, log=self.log)
            report[dest.name] = stats
            if stats.get("error"):
                failures.append(DeliveryFailed(f"{dest.name}: {stats['error']}", transient=stats["transient"]))
        context["ti"].xcom_push(key="delivery", value=report)
        if failures:
            raise DeliveryFailed("; ".join(str(f) for f in failures),
                                 transient=any(f.transient for f in failures))
        return report


def pending(engine: Any, audience: str, destination: str, table: pa.Table) -> pa.Table:
    """The signals of `table` the destination has not acknowledged (set-based, against the store now)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .members import acknowledged

    acked = acknowledged(engine, audience, destination).rename_columns(["profile_id", "a_identity", "a_fingerprint", "a_variables"])
    acked = acked.append_column("_acked", pa.repeat(True, acked.num_rows))
    joined = table.join(acked.drop_columns(["a_variables"]), keys="profile_id", join_type="left outer")
    stored = pc.fill_null(joined.column("_acked"), False)
    same_identity = pc.fill_null(pc.equal(joined.column("a_identity"), joined.column("identity")), False)
    same = pc.and_(same_identity, pc.fill_null(pc.equal(joined.column("a_fingerprint"), joined.column("fingerprint")), False))
    is_remove = pc.equal(joined.column("op"), "remove")
    # a remove is pending while the destination still holds that identity; an add/modify until it holds these values
    keep = pc.if_else(is_remove, pc.and_(stored, same_identity), pc.invert(pc.and_(stored, same)))
    return joined.filter(keep).drop_columns(["a_identity", "a_fingerprint", "_acked"])


def deliver(engine: Any, audience: Audience, dest: Any, tables: Any, hook: Any, run_id: str, *, log: Any) -> dict:
    """Deliver one destination's signals; returns counts and the error that stopped it, if any."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .destinations.base import DeliveryFailed, Outcome
    from .diff import OPS
    from .members import record_acks

    tables = [t for t in tables if t.num_rows]
    table = pa.concat_tables(tables) if tables else None
    stats: dict[str, Any] = {"sent": dict.fromkeys(OPS, 0), "rejected": 0, "already_acknowledged": 0,
                             "error": None, "transient": True, "last_rejection": None}
    if table is None:
        hook.close()
        return stats
    todo = pending(engine, audience.name, dest.name, table)
    stats["already_acknowledged"] = table.num_rows - todo.num_rows

    def settle(outcome: Outcome) -> None:
        if outcome.acked:
            record_acks(engine, audience.name, dest.name, run_id, outcome.acked)
            for s in outcome.acked:
                stats["sent"][s["op"]] += 1
        if outcome.rejected:
            stats["rejected"] += len(outcome.rejected)
            stats["last_rejection"] = outcome.rejected[-1][1]
            log.warning("%s rejected %d signal(s), e.g. %s", dest.name, len(outcome.rejected), outcome.rejected[0][1])

    try:
        for op in OPS:
            rows = todo.filter(pc.equal(todo.column("op"), op)).to_pylist()
            for start in range(0, len(rows), dest.batch_size):
                settle(hook.send(op, rows[start:start + dest.batch_size]))
        settle(hook.finish())
    except Exception as exc:  # one destination failing must not keep the others from their signals
        from headwater.failures import is_permanent

        transient = exc.transient if isinstance(exc, DeliveryFailed) else not is_permanent(exc)
        stats.update(error=f"{type(exc).__name__}: {exc}"[:2000], transient=transient)
        log.error("%s: delivery stopped: %s (acknowledged so far: %s)", dest.name, exc, stats["sent"])
    finally:
        hook.close()
    return stats


class AudienceMonitorOperator(AudienceStage):
    """Record the run per destination (size, signals sent / failed, last error), clean staging, fail a failed run."""

    stage = "monitor"
    ui_color = "#eeeeee"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(**kwargs)

    def run_stage(self, context: Context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from headwater.store import db

        from .members import record_run

        ti = context["ti"]
        manifests = {s: ti.xcom_pull(task_ids=s) for s in STAGES}
        errors = {s: ti.xcom_pull(task_ids=s, key=ERROR_KEY) for s in STAGES}
        delivery = ti.xcom_pull(task_ids="deliver", key="delivery") or manifests["deliver"] or {}
        failed = next((e for e in errors.values() if e), None)
        run_id = context["dag_run"].run_id
        engine = db.get_engine()
        members = (manifests["select"] or {}).get("members")
        for dest in self.audience.config.destinations:
            mapped = ((manifests["map"] or {}).get("destinations") or {}).get(dest.name) or {}
            valid = (manifests["validate"] or {}).get(dest.name) or {}
            sent = delivery.get(dest.name) or {}
            error = sent.get("error") or (None if not failed else f"{failed['stage']}: {failed['message']}")
            record_run(engine, {
                "audience": self.audience.name, "run_id": run_id, "destination": dest.name,
                "status": "failed" if error else "success", "members": members,
                "adds": mapped.get("add"), "removes": mapped.get("remove"), "modifies": mapped.get("modify"),
                "sent": sum((sent.get("sent") or {}).values()) if sent else None,
                "failed": sent.get("rejected"), "invalid": valid.get("invalid"), "skipped": mapped.get("skipped"),
                "last_error": error or sent.get("last_rejection"), "ended_at": datetime.now(UTC),
            })
        self.staging(context).cleanup()
        if failed:
            raise AirflowFailException(f"run failed in {failed['stage']}: {failed['message']}")
        return {"members": members, "delivery": delivery}
