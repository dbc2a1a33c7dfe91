"""The triggerer side of a streaming source: fire when its stream holds events it has not loaded.

`InletLogTrigger` is a `BaseEventTrigger`, so an `AssetWatcher` can carry it: the source's DAG
is scheduled on the asset `x-headwater://inlet/<source>` (and on a fallback timetable), and each
event of this trigger is an update of that asset. Imported at DAG parse time: only the standard
library and Airflow's trigger base here; the log and the store are imported when it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent


class InletLogTrigger(BaseEventTrigger):
    """Poll the backlog of `source` on `stream` every `poll_seconds`; one event when it is not empty.

    It waits one period before its first look, so while a backlog lasts (a run is loading it) the
    asset is updated at most once per period, and the DAG's `max_active_runs=1` queues one run.
    """

    def __init__(self, source: str, stream: str, poll_seconds: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.stream = stream
        self.poll_seconds = poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "headwater.inlet.trigger.InletLogTrigger",
            {"source": self.source, "stream": self.stream, "poll_seconds": self.poll_seconds},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from headwater.inlet.status import backlog

        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                pending = await asyncio.to_thread(backlog, self.source, self.stream)
            except Exception as exc:  # the log or the store is down: look again next period
                self.log.warning("cannot read the backlog of %s: %s", self.source, exc)
                continue
            if pending.events:
                yield TriggerEvent(
                    {"source": self.source, "events": pending.events, "lag_seconds": pending.lag_seconds()}
                )
                return
