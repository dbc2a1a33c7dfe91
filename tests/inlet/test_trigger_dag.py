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


def test_a_bad_streaming_source_names_the_place(segments_env) -> None:
    from headwater.config.loader import load_files
    from headwater.dag_builder import build_all

    text = (segments_env.sources / "demo_web.yaml").read_text()
    bad = segments_env.sources / "bad_web.yaml"
    bad.write_text(text.replace("calls: [identify, alias]", "calls: [identify, shout]").replace("table: web_identifies", "table: bad_web"))
    loaded = load_files([bad])
    [issue] = loaded.errors[str(bad)]
    assert issue.loc == "connector.calls.1" or issue.loc.startswith("connector.calls")
    assert "'identify', 'track', 'page', 'screen', 'group' or 'alias'" in issue.message
    on_assets = segments_env.sources / "assets_web.yaml"
    on_assets.write_text(text.replace("  interval: 10m        # fallback; the inlet trigger starts a run within connector.poll_seconds\n", "  assets: [x-headwater://lake/crm_contacts]\n").replace("table: web_identifies", "table: assets_web"))
    dags = build_all(segments_env.sources)
    assert "headwater:invalid" in dags["assets_web"].tags
    assert "scheduled by its inlet trigger" in dags["assets_web"].doc_md
