"""Membership over time against a webhook endpoint (local stand-in, see conftest): enter, change,
leave; a merge of two profiles; an outage mid-batch and the recovery; a destination without
modify; a whole run retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from headwater.activation.destinations.registry import make_hook
from headwater.activation.members import acknowledged
from headwater.activation.runner import run_audience
from tests.activation.conftest import WEBHOOK, audience, load_people

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def person(i: int, *, tier: str = "gold", opt_in: bool = True, email: str | None = None, at: int = 0, **extra) -> dict:
    return {"crm_id": f"c{i}", "email": email or f"p{i}@example.com", "loyalty_tier": tier, "marketing_opt_in": opt_in,
            "first_name": f"P{i}", "updated_at": T0 + timedelta(hours=at), **extra}


GOLD = {
    "condition": "marketing_opt_in and loyalty_tier = 'gold'",
    "variables": [{"name": "name", "expr": "upper(first_name)"}],
    "destinations": [WEBHOOK],
}


def test_enter_change_leave(store, receiver) -> None:
    aud = audience(GOLD)
    load_people(store, [person(1), person(2), person(3, tier="silver")])
    first = run_audience(store, aud, run_id="run1")
    assert first.destinations["hook"].counts == {"remove": 0, "modify": 0, "add": 2}
    assert receiver.by_op() == {"add": ["p1@example.com", "p2@example.com"]}
    assert {s["variables"]["name"] for s in receiver.accepted} == {"P1", "P2"}

    # nothing changed: nothing is sent
    again = run_audience(store, aud, run_id="run2")
    assert again.destinations["hook"].counts == {"remove": 0, "modify": 0, "add": 0}
    assert len(receiver.accepted) == 2

    # p1 changes a variable, p2 leaves, p3 enters
    receiver.accepted.clear()
    load_people(store, [person(1, first_name="Ann", at=1), person(2, opt_in=False, at=1), person(3, at=1)], run_id="r2")
    run_audience(store, aud, run_id="run3")
    assert receiver.by_op() == {"add": ["p3@example.com"], "modify": ["p1@example.com"], "remove": ["p2@example.com"]}
    assert [s["variables"] for s in receiver.accepted if s["op"] == "modify"] == [{"name": "ANN"}]
    stored = acknowledged(store, "vip", "hook").to_pydict()
    assert sorted(stored["identity"]) == ["p1@example.com", "p3@example.com"]


def test_merge_of_two_profiles_removes_the_merged_one(store, receiver) -> None:
    aud = audience(GOLD)
    # crm_id is one per profile: two CRM people never merge, so this source links by email and phone only
    load_people(store, [person(1), person(2, phone="+447700900002")], identities=("email", "phone"))
    run_audience(store, aud, run_id="run1")
    assert len(receiver.keys("add")) == 2
    # a loyalty record with p1's email and p2's phone stitches the two profiles into one
    from headwater.store import profiles

    profiles.upsert_profiles(store, source="loyalty", run_id="l1",
                             rows=[{"loyalty_id": "L1", "email": "p1@example.com", "phone": "+447700900002", "updated_at": T0}],
                             identities=[("email", "email"), ("phone", "phone")], record_key="loyalty_id", updated_at="updated_at")
    receiver.accepted.clear()
    run = run_audience(store, aud, run_id="run2")
    assert profiles.count_profiles(store) == 1
    [survivor] = run.members.to_pydict()["profile_id"]
    # The survivor (the older profile; same chunk here, so either) is known by its smallest email,
    # p1. If it was p2's profile, the destination knew it as p2: remove p2, add p1. Either way the
    # merged-away profile is removed and the destination ends with one person, as p1.
    removed = {s["profile_id"] for s in receiver.accepted if s["op"] == "remove"}
    assert len(removed - {survivor}) == 1
    final = acknowledged(store, "vip", "hook").to_pydict()
    assert (final["profile_id"], final["identity"]) == ([survivor], ["p1@example.com"])
    counts = run.destinations["hook"].counts
    assert counts in ({"remove": 1, "modify": 1, "add": 0}, {"remove": 2, "modify": 0, "add": 1})
    assert run.members.to_pydict()["name"] == ["P2"]  # latest fragment wins; ties go to the later record key


@pytest.mark.parametrize("second_run", ["run1", "run2"], ids=["same_run_retried", "next_run"])
def test_outage_mid_batch_then_recovery_loses_nothing_and_resends_nothing(store, receiver, second_run) -> None:
    aud = audience(GOLD)  # batch_size 2
    load_people(store, [person(i) for i in range(1, 8)])  # 7 adds = 4 batches
    receiver.fail_after = 2  # two batches acknowledged, then the endpoint is down
    # a hook with one attempt, so the test does not wait through backoff
    hook = make_hook(aud.config.destinations[0].model_copy(update={"max_attempts": 1}), audience="vip", run_id="run1")
    first = run_audience(store, aud, run_id="run1", hooks={"hook": hook})
    delivery = first.destinations["hook"].delivery
    assert delivery["error"] and delivery["transient"]
    assert delivery["sent"]["add"] == 4
    assert len(acknowledged(store, "vip", "hook")) == 4
    acked_first = set(receiver.keys())

    receiver.fail_after = None
    # the whole run again (Airflow clearing the failed run: same run id), or the next scheduled run
    second = run_audience(store, aud, run_id=second_run)
    assert second.destinations["hook"].delivery["error"] is None
    assert second.destinations["hook"].delivery["sent"]["add"] == 3
    keys = receiver.keys()
    assert len(keys) == len(set(keys)) == 7  # every add exactly once
    assert acked_first <= set(keys)
    assert sorted(s["identity"] for s in receiver.accepted) == sorted(f"p{i}@example.com" for i in range(1, 8))


def test_retries_5xx_and_429_with_retry_after(store, receiver) -> None:
    aud = audience(GOLD)
    load_people(store, [person(1)])
    receiver.script = [(500, {}), (429, {"Retry-After": "0"}), (502, {})]
    run = run_audience(store, aud, run_id="run1")
    assert run.destinations["hook"].delivery["sent"]["add"] == 1
    assert receiver.requests == 4
    assert receiver.by_op() == {"add": ["p1@example.com"]}


def test_rejected_signals_are_not_acknowledged(store, receiver) -> None:
    aud = audience(GOLD)
    load_people(store, [person(1), person(2)])
    rows = run_audience(store, aud, send=False).members.to_pydict()
    bad = rows["profile_id"][rows["identity_email"].index("p2@example.com")]
    receiver.reject_profiles = {bad}
    run = run_audience(store, aud, run_id="run1")
    assert run.destinations["hook"].delivery["rejected"] == 1
    assert acknowledged(store, "vip", "hook").to_pydict()["identity"] == ["p1@example.com"]


def test_destination_without_modify(store, receiver) -> None:
    aud = audience({**GOLD, "destinations": [{**WEBHOOK, "signals": ["add", "remove"]}]})
    load_people(store, [person(1), person(2)])
    run_audience(store, aud, run_id="run1")
    load_people(store, [person(1, first_name="Ann", at=1)], run_id="r2")
    receiver.accepted.clear()
    run = run_audience(store, aud, run_id="run2")
    assert run.destinations["hook"].counts["modify"] == 1
    assert run.destinations["hook"].skipped == 1
    assert receiver.accepted == []


def test_identity_must_be_well_formed(store, receiver) -> None:
    aud = audience(GOLD)
    load_people(store, [person(1), person(2, email="not-an-email")])
    run = run_audience(store, aud, run_id="run1")
    assert run.destinations["hook"].invalid == {"IDENTITY_MALFORMED": 1}
    assert receiver.by_op() == {"add": ["p1@example.com"]}


def test_preview_sends_nothing(store, receiver) -> None:
    aud = audience(GOLD)
    load_people(store, [person(1), person(2)])
    run = run_audience(store, aud, send=False)
    assert run.members.num_rows == 2
    assert receiver.requests == 0
    assert len(acknowledged(store, "vip", "hook")) == 0


@pytest.mark.parametrize("signature", ["", "sha256=00"])
def test_bad_signature_is_refused_by_the_receiver(receiver, signature) -> None:
    import json
    import os

    import httpx

    conn = json.loads(os.environ["AIRFLOW_CONN_HW_ACT_HOOK"])
    response = httpx.post(f"http://127.0.0.1:{conn['port']}/", content=b"{}", headers={"X-Headwater-Signature": signature})
    assert response.status_code == 401


def test_retried_deliver_task_sends_only_what_was_not_acknowledged(store, receiver) -> None:
    """Airflow retrying the deliver task: it reads the same staged signals again."""
    import logging

    from headwater.activation.operators import deliver

    aud = audience(GOLD)
    load_people(store, [person(i) for i in range(1, 6)])  # 5 adds, batches of 2
    staged = run_audience(store, aud, send=False).destinations["hook"].signals
    dest = aud.config.destinations[0]
    receiver.fail_after = 1
    one_try = dest.model_copy(update={"max_attempts": 1})
    first = deliver(store, aud, dest, [staged], make_hook(one_try, audience="vip", run_id="r"), "r", log=logging.getLogger())
    assert first["sent"]["add"] == 2 and first["error"]
    receiver.fail_after = None
    second = deliver(store, aud, dest, [staged], make_hook(dest, audience="vip", run_id="r"), "r", log=logging.getLogger())
    assert (second["already_acknowledged"], second["sent"]["add"], second["error"]) == (2, 3, None)
    keys = receiver.keys()
    assert len(keys) == len(set(keys)) == 5


def test_empty_audience_then_everyone_leaves(store, receiver) -> None:
    aud = audience(GOLD)
    load_people(store, [person(1, tier="silver")])
    first = run_audience(store, aud, run_id="run1")  # nobody qualifies: nothing to send
    assert first.members.num_rows == 0 and first.destinations["hook"].counts == {"remove": 0, "modify": 0, "add": 0}
    load_people(store, [person(1, at=1)], run_id="r2")
    run_audience(store, aud, run_id="run2")
    load_people(store, [person(1, tier="silver", at=2)], run_id="r3")
    last = run_audience(store, aud, run_id="run3")  # the only member leaves: the membership is empty again
    assert last.members.num_rows == 0
    assert receiver.by_op() == {"add": ["p1@example.com"], "remove": ["p1@example.com"]}
    assert len(acknowledged(store, "vip", "hook")) == 0
