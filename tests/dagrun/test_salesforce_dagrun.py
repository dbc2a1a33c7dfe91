"""The `salesforce` example as a whole DAG run in Airflow (`airflow dags test`), twice: the second
run reads only what changed. The org is the protocol-level HTTPS stand-in of
tests/connectors/salesforce, served from this test process on loopback; the tasks (the provider's
login through simple-salesforce, the queries through the HTTP layer) reach it over real sockets."""

from __future__ import annotations

import os
import shutil

import pytest

from headwater.lake.delta import read_table
from headwater.store import db, runs
from tests.connectors.salesforce.salesforce_api import contact, salesforce_org
from tests.dagrun.conftest import REPO

pytestmark = pytest.mark.dagrun


def test_salesforce_source_incremental_in_airflow(project, tmp_path, monkeypatch) -> None:
    shutil.copy(REPO / "include" / "sources" / "example_salesforce_contacts.yaml", project.sources)
    with salesforce_org(tmp_path, monkeypatch, "salesforce_crm") as api:
        for key in ("REQUESTS_CA_BUNDLE", "AIRFLOW_CONN_SALESFORCE_CRM"):
            project.env[key] = os.environ[key]
        api.records.extend(contact(i, f"2026-11-01T10:{i:02d}:00.000+0000") for i in range(1, 21))
        api.expire_at = 4  # data calls: connect describe, select describe, COUNT(), then the page finds the session expired
        first = project.dags_test("example_salesforce_contacts", "2026-03-01")
        assert first.state == "success", first.output
        engine = db.get_engine()
        [record] = runs.runs_for(engine, "example_salesforce_contacts")
        assert (record.status, record.rows_read, record.rows_loaded) == ("success", 20, 20)
        assert (
            record.watermark_after == "SystemModstamp = 2026-11-01T10:20:00.000+0000 (1 record at that value)"
        )
        assert "(Sforce-Limit-Info)" in (record.error_summary or "")
        assert len(api.tokens) == 1 and next(api.token_counter) == 4  # logins: connect, select, the re-login

        api.records[4] = {**contact(5, "2026-11-02T00:00:00.000+0000"), "LastName": "Changed"}
        second = project.dags_test("example_salesforce_contacts", "2026-03-02")
        assert second.state == "success", second.output
        latest = runs.runs_for(engine, "example_salesforce_contacts")[0]
        assert (latest.rows_read, latest.rows_loaded) == (1, 1)
    lake = {r["crm_id"]: r for r in read_table("salesforce_contacts").to_pylist()}
    assert len(lake) == 20 and lake["003000000000000005"]["last_name"] == "Changed"
