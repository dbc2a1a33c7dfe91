"""The identity graph on both databases: merges, chains, the over-merge guard, deletes, policies."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from headwater.identity.namespaces import IdentityConfig, load_identities
from headwater.identity.policy import MergeConfig
from headwater.store.profiles import (
    count_profiles,
    fragment_table,
    get_profile,
    identity_table,
    lookup_profile,
    profile_table,
    upsert_chunk,
)
from headwater.store.views import Fragment, merged_view

IDS = [("email", "email"), ("phone", "phone"), ("crm_id", "crm_id"), ("device", "device_id")]


def _up(engine, rows, source="crm", run_id="run_1", **kw):
    return upsert_chunk(engine, source=source, run_id=run_id, rows=rows, identities=IDS, record_key="id",
                        updated_at="updated_at", deleted="deleted", **kw)


def _snapshot(engine):
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
                for t in (profile_table, identity_table, fragment_table)}


def _pid(engine, ns, value):
    found = lookup_profile(engine, ns, value)
    return found and found["profile_id"]


def test_chain_a_b_then_b_c_ends_in_one_profile(engine):
    for row in ({"id": "a", "email": "a@x.com"}, {"id": "b", "phone": "+442079460001"}, {"id": "c", "crm_id": "C-1"}):
        _up(engine, [row])  # one chunk each, so "a" is strictly the oldest
    a = _pid(engine, "email", "a@x.com")
    assert count_profiles(engine) == 3
    r1 = _up(engine, [{"id": "ab", "email": "a@x.com", "phone": "+44 20 7946 0001"}], source="web")
    r2 = _up(engine, [{"id": "bc", "phone": "02079460001", "crm_id": " C-1 "}], source="shop")
    assert (r1.profiles_merged, r2.profiles_merged) == (1, 1)
    assert count_profiles(engine) == 1
    profile = lookup_profile(engine, "crm_id", "C-1")
    assert profile["profile_id"] == a  # the oldest survives the whole chain
    assert len(profile["fragments"]) == 5 and len(profile["merged_from"]) == 2
    for merged_id in profile["merged_from"]:
        assert get_profile(engine, merged_id)["profile_id"] == a  # merged ids resolve to the survivor


def test_chain_within_one_chunk(engine):
    res = _up(engine, [{"id": 1, "email": "p@x.com"}, {"id": 2, "phone": "+442079460002"},
                       {"id": 3, "email": "p@x.com", "phone": "+442079460002"}])
    assert count_profiles(engine) == 1
    assert (res.profiles_created, res.profiles_merged) == (1, 0)  # nothing committed was merged


def test_over_merge_guard_refuses_second_crm_id(engine, caplog):
    _up(engine, [{"id": 1, "email": "family@x.com", "crm_id": "C-1"}, {"id": 2, "crm_id": "C-2",
                                                                        "phone": "+442079460003"}])
    # A record linking two profiles that each hold a crm_id: one profile may hold one crm_id only.
    res = _up(engine, [{"id": 9, "email": "family@x.com", "phone": "+442079460003"}], source="web")
    assert res.merges_refused == 1 and res.profiles_merged == 0
    assert "1 merges refused" in caplog.text
    assert count_profiles(engine) == 2
    # It joined its best match: the first candidate in identity trust order (email before phone).
    assert [f["record_key"] for f in lookup_profile(engine, "crm_id", "C-1")["fragments"]] == ["1", "9"]
    # A new crm record sharing the family email cannot join either: it gets its own profile.
    res = _up(engine, [{"id": 3, "email": "family@x.com", "crm_id": "C-3"}])
    assert res.merges_refused == 1 and res.profiles_created == 1
    assert _pid(engine, "crm_id", "C-3") not in (_pid(engine, "crm_id", "C-1"), _pid(engine, "crm_id", "C-2"))
    assert _pid(engine, "email", "family@x.com") == _pid(engine, "crm_id", "C-1")  # identities stay put


def test_non_linking_namespace_never_merges(engine):
    _up(engine, [{"id": 1, "email": "a@x.com", "device": "D1"}, {"id": 2, "email": "b@x.com", "device": "D1"}])
    assert count_profiles(engine) == 2


def test_limits_come_from_the_identity_config(engine):
    strict = IdentityConfig(namespaces={"email": {"normalise": "email", "max_per_profile": 1}})
    _up(engine, [{"id": 1, "email": "a@x.com", "phone": "+442079460004"}], namespaces=strict)
    res = _up(engine, [{"id": 2, "email": "b@x.com", "phone": "+442079460004"}], namespaces=strict)
    assert res.merges_refused == 1 and count_profiles(engine) == 2


def test_deletes_remove_fragments_then_empty_profiles(engine):
    _up(engine, [{"id": 1, "email": "d@x.com", "name": "crm"}])
    _up(engine, [{"id": 7, "email": "d@x.com", "name": "shop", "updated_at": "2030-01-01"}], source="shop")
    assert lookup_profile(engine, "email", "d@x.com")["attributes"]["name"] == "shop"
    res = _up(engine, [{"id": 7, "email": "d@x.com", "deleted": True}], source="shop")
    assert res.rows_deleted == 1
    profile = lookup_profile(engine, "email", "d@x.com")
    assert [f["source"] for f in profile["fragments"]] == ["crm"]
    assert profile["attributes"]["name"] == "crm" and "deleted" not in profile["attributes"]
    res = _up(engine, [{"id": 1, "deleted": "true"}])
    assert res.profiles_removed == 1
    assert count_profiles(engine) == 0 and lookup_profile(engine, "email", "d@x.com") is None
    assert _up(engine, [{"id": 1, "deleted": True}]).profiles_removed == 0  # deleting again: nothing


def test_delete_detaches_identities_only_the_deleted_record_asserted(engine):
    """The shop record brought the phone and, later, a second email; deleting it takes both off the
    profile, while the email the CRM record also asserts stays and still finds the person."""
    _up(engine, [{"id": 1, "email": "p@x.com", "name": "crm"}])
    _up(engine, [{"id": 7, "email": "p@x.com", "phone": "+442079460010"}], source="shop")
    _up(engine, [{"id": 7, "email": "p2@x.com", "phone": "+442079460010"}], source="shop")  # email changed
    pid = _pid(engine, "email", "p@x.com")
    assert _pid(engine, "phone", "+442079460010") == pid and _pid(engine, "email", "p2@x.com") == pid
    shop = [f for f in lookup_profile(engine, "email", "p@x.com")["fragments"] if f["source"] == "shop"]
    # additive, like the graph: the email the record no longer carries is still one it asserted
    assert shop[0]["identities"] == [("email", "p@x.com"), ("phone", "+442079460010"), ("email", "p2@x.com")]

    res = _up(engine, [{"id": 7, "deleted": True}], source="shop")
    assert (res.rows_deleted, res.identities_detached, res.profiles_removed) == (1, 2, 0)
    assert _pid(engine, "email", "p@x.com") == pid
    assert lookup_profile(engine, "phone", "+442079460010") is None
    assert lookup_profile(engine, "email", "p2@x.com") is None
    # the phone is free again: a new record with it starts its own profile
    _up(engine, [{"id": 8, "phone": "+442079460010"}], source="shop")
    assert _pid(engine, "phone", "+442079460010") not in (None, pid)


def test_delete_keeps_identities_when_a_remaining_fragment_predates_identity_tracking(engine):
    """A fragment written before fragments recorded their identities (NULL) might be the one
    asserting them: nothing is detached from its profile."""
    _up(engine, [{"id": 1, "email": "q@x.com"}])
    _up(engine, [{"id": 7, "email": "q@x.com", "phone": "+442079460011"}], source="shop")
    with engine.begin() as conn:
        conn.execute(fragment_table.update().where(fragment_table.c.source == "crm").values(identities=None))
    res = _up(engine, [{"id": 7, "deleted": True}], source="shop")
    assert (res.rows_deleted, res.identities_detached) == (1, 0)
    assert _pid(engine, "phone", "+442079460011") == _pid(engine, "email", "q@x.com") is not None


def test_delete_after_a_merge_detaches_from_the_survivor(engine):
    _up(engine, [{"id": 1, "email": "r@x.com"}, {"id": 2, "phone": "+442079460012", "device": "dev-r"}])
    _up(engine, [{"id": 3, "email": "r@x.com", "phone": "+442079460012"}], source="shop")  # merges 1 and 2
    survivor = _pid(engine, "email", "r@x.com")
    assert _pid(engine, "device_id", "dev-r") == survivor
    res = _up(engine, [{"id": 2, "deleted": True}])
    # the phone is still asserted by shop/3; only the device went with crm/2
    assert res.identities_detached == 1
    assert lookup_profile(engine, "device_id", "dev-r") is None
    assert _pid(engine, "phone", "+442079460012") == survivor


def test_delete_of_a_merged_survivor_removes_its_redirects(engine):
    _up(engine, [{"id": 1, "email": "m@x.com"}, {"id": 2, "phone": "+442079460005"}])
    _up(engine, [{"id": 3, "email": "m@x.com", "phone": "+442079460005"}])
    _up(engine, [{"id": k, "deleted": True} for k in (1, 2, 3)])
    assert count_profiles(engine) == 0
    assert lookup_profile(engine, "phone", "+442079460005") is None


def test_same_chunk_twice_is_idempotent(engine):
    rows = [{"id": i, "email": f"e{i % 40}@x.com", "phone": f"+4420794610{i % 25:02d}",
             "crm_id": f"C{i % 60}", "updated_at": "2026-01-01"} for i in range(120)]
    rows += [{"id": 5, "deleted": True, "updated_at": "2026-02-01"}]  # later than the live row 5: it wins
    first = _up(engine, rows)
    before = _snapshot(engine)
    again = _up(engine, rows, run_id="run_2")
    assert _snapshot(engine) == before
    assert (again.profiles_created, again.profiles_merged) == (0, 0)
    assert first.rows_deleted == again.rows_deleted == 1


def test_priority_policy_and_lineage(engine):
    merge = MergeConfig.model_validate({"attributes": {"tier": {"policy": "priority", "sources": ["loyalty"]}}})
    _up(engine, [{"id": 1, "email": "t@x.com", "tier": "gold", "updated_at": "2026-01-01"}],
        source="loyalty", run_id="L1", merge=merge)
    _up(engine, [{"id": 2, "email": "t@x.com", "tier": "bronze", "city": "Leeds", "updated_at": "2026-06-01"}],
        source="crm", run_id="C1", merge=merge)
    profile = lookup_profile(engine, "email", "t@x.com")
    assert profile["attributes"]["tier"] == "gold"  # priority beats the newer crm value
    assert profile["attribute_sources"]["tier"] == {"source": "loyalty", "record_key": "1", "run_id": "L1"}
    assert profile["attribute_sources"]["city"] == {"source": "crm", "record_key": "2", "run_id": "C1"}


def test_merged_view_unlisted_sources_fall_back_to_latest():
    from datetime import UTC, datetime

    t = [datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3)]
    frags = [Fragment("a", "1", {"x": 1}, t[0], t[0], "r"), Fragment("b", "2", {"x": 2}, t[2], t[2], "r"),
             Fragment("c", "3", {"x": 3}, t[1], t[1], "r")]
    merge = MergeConfig.model_validate({"attributes": {"x": {"policy": "priority", "sources": ["c"]}}})
    assert merged_view(frags, merge)[0] == {"x": 3}
    assert merged_view(frags[:2], merge)[0] == {"x": 2}  # no listed source has it: latest wins


@pytest.mark.parametrize(("namespace", "raw", "expected"), [
    ("email", "  Ann@Example.COM ", "ann@example.com"),
    ("phone", "+44 (0)20 7946 0018", "+442079460018"),
    ("phone", "020 7946 0018", "+442079460018"),
    ("phone", "not a phone", None),
    ("crm_id", "  C-9 ", "C-9"),
    ("custom_thing", " K ", "K"),
])
def test_normalisation(namespace, raw, expected):
    assert IdentityConfig().normaliser(namespace)(raw) == expected


def test_shipped_identities_file_loads():
    config = load_identities()
    assert config.namespace("crm_id").max_per_profile == 1
    assert config.namespace("device_id").links is False


# Fast paths (profiles-perf): each must give what the general path gives.


def test_attribute_upsert_of_known_identities_keeps_profile_and_view(engine):
    # Resolver fast path: every identity already on the record's profile; the chunk's own fragment
    # is not decoded again but replaced, and the other source's fragment still counts in the view.
    _up(engine, [{"id": "1", "email": "a@x.com", "phone": "+447700900001", "city": "Leeds", "tier": "gold",
                  "updated_at": "2026-01-01"}])
    _up(engine, [{"id": "L1", "email": "a@x.com", "tier": "silver", "updated_at": "2026-01-02"}], source="loyalty")
    pid = _pid(engine, "email", "a@x.com")
    res = _up(engine, [{"id": "1", "email": "A@x.com ", "phone": "+447700900001", "city": "York", "tier": None,
                        "updated_at": "2026-01-03"}], run_id="run_2")
    assert (res.rows_upserted, res.profiles_created, res.profiles_merged, res.merges_refused) == (1, 0, 0, 0)
    prof = get_profile(engine, pid)
    assert prof["attributes"]["city"] == "York"
    assert prof["attributes"]["tier"] == "silver"  # a null never erases a value another fragment knows
    assert prof["attribute_sources"]["city"] == {"source": "crm", "record_key": "1", "run_id": "run_2"}
    assert [f["attributes"]["city"] for f in prof["fragments"] if f["source"] == "crm"] == ["York"]
    assert count_profiles(engine) == 1


def test_known_record_with_another_profiles_identity_still_merges(engine):
    # Not the fast path: the record's fragment is on one profile, its new phone on another.
    _up(engine, [{"id": "1", "email": "a@x.com", "updated_at": "2026-01-01"},
                 {"id": "2", "phone": "+447700900002", "updated_at": "2026-01-01"}])
    res = _up(engine, [{"id": "1", "email": "a@x.com", "phone": "+447700900002", "updated_at": "2026-01-02"}])
    assert res.profiles_merged == 1
    assert _pid(engine, "email", "a@x.com") == _pid(engine, "phone", "+447700900002")


def test_identity_values_of_different_types_are_normalised_apart():
    from headwater.store.profiles import _cached

    norm = _cached(lambda v: f"{type(v).__name__}:{v}")
    assert [norm(v) for v in (1, 1.0, True, "1", 1)] == ["int:1", "float:1.0", "bool:True", "str:1", "int:1"]
    assert norm([1]) == "list:[1]"  # unhashable: not cached, still normalised


def test_single_fragment_view_matches_the_general_path():
    from datetime import UTC, datetime

    when = datetime(2026, 1, 1, tzinfo=UTC)
    frag = Fragment("crm", "1", {"a": 1, "b": None, "c": "x"}, None, when, "run_1")
    empty = Fragment("crm", "2", {"a": None}, None, when, "run_1")
    merge = MergeConfig.model_validate({"attributes": {"a": {"policy": "priority", "sources": ["web"]}}})
    assert merged_view([frag], merge) == (
        {"a": 1, "c": "x"}, {"fragments": [["crm", "1", "run_1"]], "attributes": {"a": 0, "c": 0}})
    assert merged_view([empty]) == ({}, {"fragments": [], "attributes": {}})
    # Same result as the multi-fragment path with an empty fragment beside it.
    assert merged_view([frag, Fragment("z", "9", {}, None, when, "r")], merge) == merged_view([frag], merge)
