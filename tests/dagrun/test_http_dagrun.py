"""The `http_api` example as a whole DAG run in Airflow (`airflow dags test`), twice: the second run
reads only what changed. The API is the public-API-shaped stand-in of tests/connectors/http,
served from this test process on loopback; the tasks reach it over real sockets."""

from __future__ import annotations

import json
import shutil

import pytest

from headwater.lake.delta import read_table
from headwater.store import db, runs
from tests.connectors.http import customers_api
from tests.connectors.http.standin import Reply, StandIn
from tests.dagrun.conftest import REPO

pytestmark = pytest.mark.dagrun


def test_http_api_source_incremental_in_airflow(project) -> None:
    shutil.copy(REPO / "include" / "sources" / "example_http_api_customers.yaml", project.sources)
    with StandIn() as api:
        project.env["AIRFLOW_CONN_CUSTOMERS_API"] = json.dumps(
            {
                "conn_type": "http",
                "host": api.url,
                "login": customers_api.CLIENT_ID,
                "password": customers_api.CLIENT_SECRET,
            }
        )
        rows = [customers_api.customer(i, f"2024-05-01T10:{i:02d}:00Z") for i in range(1, 51)]
        stand_in = customers_api.CustomersApi(api, rows)
        stand_in.faults = {2: Reply(503, {"message": "warming up"})}
        first = project.dags_test("example_http_api_customers", "2026-03-01")
        assert first.state == "success", first.output
        engine = db.get_engine()
        [record] = runs.runs_for(engine, "example_http_api_customers")
        assert (record.status, record.rows_read, record.rows_loaded) == ("success", 50, 50)
        assert record.api_calls == 2 + 3  # connect: token + page; select: token + a 503 + the page
        assert record.watermark_after == "updated_at = 2024-05-01T10:50:00Z (1 record at that value)"

        stand_in.rows[4] = {**customers_api.customer(5, "2024-05-02T00:00:00Z"), "country": "fr"}
        second = project.dags_test("example_http_api_customers", "2026-03-02")
        assert second.state == "success", second.output
        latest = runs.runs_for(engine, "example_http_api_customers")[0]
        assert (latest.rows_read, latest.rows_loaded) == (1, 1)
        assert stand_in.requests_since("2024-05-01T10:50:00Z")
    lake = {r["customer_id"]: r for r in read_table("api_customers").to_pylist()}
    assert len(lake) == 50 and lake["5"]["country"] == "FR"
