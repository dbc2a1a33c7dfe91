"""The DAG of a streaming source and its trigger: scheduled on the inlet asset (an AssetWatcher
on InletLogTrigger) or the fallback timetable, one run at a time; the trigger fires when the
source's stream holds events it has not committed (run in-process against the real log)."""

from __future__ import annotations

import asyncio

from airflow.sdk import AssetOrTimeSchedule

from headwater.inlet.trigger import InletLogTrigger


def test_streaming_dag_is_event_driven_with_a_fallback(segments_env) -> None:
    dag = segments_env.dag("demo_web_events")
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.max_active_runs == 1
    [asset] = dag.timetable.asset_condition.objects
    assert asset.uri == "x-headwater://inlet/demo_web_events"
    [watcher] = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "headwater.inlet.trigger.InletLogTrigger"
    assert kwargs == {"source": "demo_web_events", "stream": "demo_web", "poll_seconds": 5.0}
    assert InletLogTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_trigger_fires_only_when_there_is_a_backlog(segments_env) -> None:
    from headwater.inlet.log import open_log

    trigger = InletLogTrigger(source="demo_web_events", stream="demo_web", poll_seconds=0.05)

    async def first_event(timeout: float):
        async def take():
            async for event in trigger.run():
                return event
        try:
            return await asyncio.wait_for(take(), timeout)
        except TimeoutError:
            return None

    assert asyncio.run(first_event(1.0)) is None  # nothing logged: no run
    log = open_log()
    log.append("demo_web", [{"messageId": "m1", "type": "track", "receivedAt": "2026-12-03T10:00:00.000Z"}])
    log.close()
    event = asyncio.run(first_event(5.0))
    assert event is not None and event.payload["source"] == "demo_web_events" and event.payload["events"] == 1
    assert event.payload["lag_seconds"] > 0


def test_streaming_dag_serializes_as_the_dag_processor_stores_it(segments_env) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    data = DagSerialization.to_dict(segments_env.dag("demo_web"))
    text = str(data)
    assert "headwater.inlet.trigger.InletLogTrigger" in text and "x-headwater://inlet/demo_web" in text
