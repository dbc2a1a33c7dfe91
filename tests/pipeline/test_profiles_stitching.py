"""Both demo people sources through their whole DAGs into one set of unified profiles."""

from __future__ import annotations

import sqlite3

from headwater.store import profiles

from .harness import run_pipeline


def test_crm_and_loyalty_stitch_into_unified_profiles(workspace) -> None:
    crm = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__crm")
    loyalty = run_pipeline(workspace.dag("demo_loyalty_members"), "manual__loyalty")
    assert crm.failures == {} and loyalty.failures == {}, (crm.failures, loyalty.failures)
    engine = workspace.engine()

    # How many people: the CRM file has 60 contacts; 2 are quarantined (row 12's impossible birth
    # date, row 24's malformed email) and the malformed last line is no contact, so 58 profiles.
    # The 30 loyalty members are every other CRM contact (rows 1, 3, ..., 59 of the generator's
    # people[::2]); none of them is a quarantined contact, and each shares its email and phone
    # with its CRM contact, so all 30 join existing profiles: 58 unified profiles, 30 of them
    # with two fragments.
    assert crm.manifest("load")["profiles"]["profiles_created"] == 58
    stitched = loyalty.manifest("load")["profiles"]
    assert (stitched["profiles_created"], stitched["profiles_merged"], stitched["merges_refused"]) == (0, 0, 0)
    assert profiles.count_profiles(engine) == 58
    members = sqlite3.connect(workspace.include / "demo" / "loyalty.db").execute(
        "SELECT member_id, email, phone, tier FROM members").fetchall()
    assert len(members) == 30
    for member_id, email, phone, tier in members:
        by_email = profiles.lookup_profile(engine, "email", email)
        assert profiles.lookup_profile(engine, "phone", phone)["profile_id"] == by_email["profile_id"]
        assert profiles.lookup_profile(engine, "loyalty_id", member_id)["profile_id"] == by_email["profile_id"]
        assert [f["source"] for f in by_email["fragments"]] == ["demo_crm_contacts", "demo_loyalty_members"]
        assert by_email["attributes"]["loyalty_tier"] == tier

    tim = profiles.lookup_profile(engine, "email", "tim.johnson1@example.com")
    assert tim["attributes"]["crm_id"] == "CRM-00001" and tim["attributes"]["full_name"] == "Tim Johnson"
    assert tim["attribute_sources"]["loyalty_tier"] == {
        "source": "demo_loyalty_members", "record_key": "LOY-0000", "run_id": "manual__loyalty"}
    assert tim["attribute_sources"]["first_name"]["run_id"] == "manual__crm"
    # Both records carry the phone: E.164 from "+44 20 7946 7301" in either source.
    assert {i["namespace"] for i in tim["identities"]} == {"email", "phone", "crm_id", "loyalty_id"}
    assert profiles.lookup_profile(engine, "phone", "020 7946 7301")["profile_id"] == tim["profile_id"]


def test_profile_lookup_command(workspace, capsys) -> None:
    from headwater.cli import main

    run_pipeline(workspace.dag("demo_crm_contacts"), "crm_1")
    run_pipeline(workspace.dag("demo_loyalty_members"), "loyalty_1")
    assert main(["profile", "lookup", "email", "  Tim.Johnson1@EXAMPLE.com "]) == 0
    out = capsys.readouterr().out
    assert "CRM-00001" in out and "LOY-0000" in out  # one person, fragments from both sources
    assert "demo_crm_contacts" in out and "demo_loyalty_members" in out
    assert main(["profile", "lookup", "email", "nobody@example.com"]) == 1
