"""An audience run in one process, stage after stage: for `headwater audience preview` (send=False),
tests and benchmarks. The DAG's operators call the same functions, with staging in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import Audience

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine


@dataclass
class DestinationRun:
    counts: dict[str, int]
    skipped: int
    signals: pa.Table  # validated, ready to send
    invalid: dict[str, int]
    examples: list[str]
    delivery: dict | None = None


@dataclass
class AudienceRun:
    members: pa.Table
    destinations: dict[str, DestinationRun] = field(default_factory=dict)


def run_audience(engine: Engine, audience: Audience, *, run_id: str = "manual", send: bool = True,
                 hooks: dict[str, Any] | None = None, log: Any = None) -> AudienceRun:
    """Select → map → validate (→ deliver when `send`). `hooks`: destination name → hook to use."""
    import logging

    import pyarrow as pa

    from .destinations.registry import REGISTRY
    from .identity_checks import check
    from .membership import members
    from .operators import deliver, hook_options, read_members, signals_for

    log = log or logging.getLogger(__name__)
    tables = list(members(engine, audience))
    current = pa.concat_tables(tables) if tables else read_members(None, [], audience)
    result = AudienceRun(current)
    for dest in audience.config.destinations:
        table, counts, skipped = signals_for(engine, audience, dest, current)
        good, errors, examples = check(table, dest.identity, hashed=REGISTRY[dest.type].hashed)
        run = DestinationRun(counts, skipped, good, errors, examples)
        if send:
            from .destinations.registry import make_hook

            hook = (hooks or {}).get(dest.name) or make_hook(dest, audience=audience.name, run_id=run_id,
                                                              **hook_options(audience, dest))
            hook.check()  # what the connect stage does (creates a missing sql_table table)
            run.delivery = deliver(engine, audience, dest, [good], hook, run_id, log=log)
        result.destinations[dest.name] = run
    return result
