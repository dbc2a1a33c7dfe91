"""The demo sources end to end through every stage: lake, quarantine, profiles, run record, state."""

from __future__ import annotations

from headwater.lake.delta import read_table
from headwater.store import profiles, runs

from .harness import run_pipeline, run_task


def test_crm_contacts_quarantines_bad_rows_and_loads_the_rest(workspace) -> None:
    dag = workspace.dag("demo_crm_contacts")
    run = run_pipeline(dag, "manual__1")
    assert run.failures == {}, run.failures
    outcome = run.manifest("monitor")
    # 60 contacts + 1 malformed line; one impossible birth date, one malformed email
    assert outcome["status"] == "success"
    assert outcome["rows_read"] == 61
    assert outcome["rows_quarantined"] == 3
    assert outcome["rows_loaded"] == 58
    assert outcome["errors_by_code"] == {
        "MALFORMED_ROW": 1,
        "CAST_FAILED": 1,
        "expect_column_values_to_match_regex": 1,
    }

    lake = read_table("crm_contacts")
    assert lake.num_rows == 58
    emails = lake.column("email").to_pylist()
    assert "tim.johnson1@example.com" in emails  # trimmed and lower-cased
    assert "not-an-email" not in emails

    quarantine = read_table("_quarantine").to_pylist()
    assert {(q["stage"], q["error_code"], q["column"]) for q in quarantine} == {
        ("select", "MALFORMED_ROW", None),
        ("map", "CAST_FAILED", "birth_date"),
        ("validate", "expect_column_values_to_match_regex", "email"),
    }
    assert {q["value"] for q in quarantine if q["error_code"] == "CAST_FAILED"} == {"31/02/1990"}

    engine = workspace.engine()
    assert profiles.count_profiles(engine) == 58
    profile = profiles.lookup_profile(engine, "email", "TIM.JOHNSON1@example.com")
    assert profile["attributes"]["full_name"] == "Tim Johnson"
    assert profile["attributes"]["crm_id"] == "CRM-00001"

    [record] = runs.runs_for(engine, "demo_crm_contacts")
    assert (record.status, record.rows_loaded, record.rows_quarantined) == ("success", 58, 3)


def test_unchanged_files_are_not_read_twice(workspace) -> None:
    dag = workspace.dag("demo_crm_contacts")
    assert run_pipeline(dag, "run_1").manifest("monitor")["status"] == "success"
    second = run_pipeline(dag, "run_2")
    assert second.failures == {}
    assert second.manifest("monitor")["status"] == "no_data"
    assert read_table("crm_contacts").num_rows == 58


def test_retried_load_leaves_the_same_rows(workspace) -> None:
    dag = workspace.dag("demo_purchase_events")
    run = run_pipeline(dag, "manual__retry", until="load")
    assert run.failures == {}, run.failures
    before = read_table("purchase_events").num_rows
    assert before == 200
    run_task(dag, "load", "manual__retry", run.xcoms)  # the load task, once more, same run
    run_task(dag, "monitor", "manual__retry", run.xcoms)
    after = read_table("purchase_events")
    assert after.num_rows == before
    assert len(set(after.column("event_id").to_pylist())) == 200


def test_threshold_exceeded_fails_the_run_but_keeps_the_quarantine(workspace) -> None:
    path = workspace.sources / "demo_crm_contacts.yaml"
    path.write_text(path.read_text().replace("max_error_ratio: 0.1", "max_error_ratio: 0.01"))
    run = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__strict")
    assert set(run.failures) == {"validate", "monitor"}
    error = run.xcoms[("validate", "error")]
    assert error["type"] == "threshold_exceeded"
    assert "3 of 61 rows were rejected" in error["message"]
    [record] = runs.runs_for(workspace.engine(), "demo_crm_contacts")
    assert record.status == "threshold_exceeded"
    assert record.rows_quarantined == 3
    assert len(read_table("_quarantine").to_pylist()) == 3
    # nothing loaded, and the file state did not advance: the next run reads the file again
    from headwater.store import state

    assert state.get_state(workspace.engine(), "demo_crm_contacts") is None


def test_sqlite_incremental_reads_only_new_and_updated_rows(workspace) -> None:
    import sqlite3

    dag = workspace.dag("demo_loyalty_members")
    first = run_pipeline(dag, "run_1")
    assert first.failures == {}, first.failures
    assert first.manifest("monitor")["rows_loaded"] == 30
    db = sqlite3.connect(workspace.include / "demo" / "loyalty.db")
    last = db.execute("SELECT max(updated_at) FROM members").fetchone()[0]
    with db:
        db.execute("UPDATE members SET points = 9999, updated_at = ? WHERE member_id = 'LOY-0003'", (last,))
        db.execute("INSERT INTO members VALUES ('LOY-0900', 'new@example.com', NULL, 'gold', 10, '2027-01-01 00:00:00')")
    db.close()
    second = run_pipeline(dag, "run_2")
    assert second.failures == {}, second.failures
    outcome = second.manifest("monitor")
    assert outcome["rows_read"] == 2  # the row updated at exactly the watermark, and the new one
    lake = read_table("loyalty_members")
    assert lake.num_rows == 31  # merge: updated in place, one new
    points = {r["loyalty_id"]: r["loyalty_points"] for r in lake.select(["loyalty_id", "loyalty_points"]).to_pylist()}
    assert points["LOY-0003"] == 9999
    third = run_pipeline(dag, "run_3")
    assert third.manifest("monitor")["status"] == "no_data"


def test_reingest_parameter_reads_a_file_again(workspace) -> None:
    from .harness import FakeDagRun, FakeTaskInstance

    dag = workspace.dag("demo_purchase_events")
    run_pipeline(dag, "run_1")
    select = dag.get_task("select")
    xcoms: dict = {}
    context = {"ti": FakeTaskInstance(dag.dag_id, "select", xcoms), "dag_run": FakeDagRun("run_2")}
    assert select.execute(context)["rows_read"] == 0  # unchanged: skipped
    context["dag_run"] = FakeDagRun("run_2", conf={"reingest": ["demo/purchase_events.jsonl"]})
    manifest = select.execute(context)
    assert manifest["rows_read"] == 200
    assert "re-ingesting on request: demo/purchase_events.jsonl" in manifest["notes"]
