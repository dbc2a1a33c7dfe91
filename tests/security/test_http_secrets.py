"""An HTTP API source whose API echoes the client secret (in an error body, after a refused token
request) or the API key (a 500 body quoting the request URL) leaks it nowhere: run records, XComs,
alerts, status, the Sources page. The API is the public-API-shaped stand-in of tests/connectors/http."""

from __future__ import annotations

from tests.connectors.http.standin import Reply, StandIn
from tests.pipeline.harness import run_pipeline

from .conftest import conn_env
from .test_secrets_in_records import _alert_on_failure, _assert_no_secret, _everything_shown


def test_token_endpoint_echoing_the_secret_leaks_nothing(
    workspace, planted, webhook, capsys, monkeypatch
) -> None:
    with StandIn() as api:
        api.route(
            "POST",
            "/oauth/token",
            lambda r: Reply(
                401, {"error": "invalid_client", "error_description": f"bad credentials in {r.body.decode()}"}
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_CUSTOMERS_API",
            conn_env({"conn_type": "http", "host": api.url, "login": "cid", "password": planted["password"]}),
        )
        port, received = webhook
        _alert_on_failure(workspace, "example_http_api_customers", port, planted, monkeypatch)
        run = run_pipeline(workspace.dag("example_http_api_customers"), "manual__token")
    assert "connect" in run.failures
    from headwater.store import runs

    [record] = runs.runs_for(workspace.engine(), "example_http_api_customers")
    assert record.status == "failed" and "OAuth token request failed" in record.error_summary
    assert (
        "answered 401 Unauthorized: bad credentials in grant_type=client_credentials" in record.error_summary
    )
    _assert_no_secret(planted, _everything_shown(workspace, run, received, capsys, monkeypatch))


def test_api_key_in_query_echoed_by_a_failing_api_leaks_nothing(
    workspace, planted, webhook, capsys, monkeypatch
) -> None:
    with StandIn() as api:
        api.route(
            "GET",
            "/v1/customers",
            lambda r: Reply(500, {"message": f"internal error for api_key={r.query.get('key')}"}),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_CUSTOMERS_API",
            conn_env({"conn_type": "http", "host": api.url, "password": planted["password"]}),
        )
        path = workspace.sources / "example_http_api_customers.yaml"
        text = path.read_text().replace(
            "  auth:\n    type: oauth2_client_credentials\n    token_url: /oauth/token\n",
            "  auth: {type: api_key, name: key, inject_into: query}\n  retry: {max_retries: 1, backoff_seconds: 0.01}\n",
        )
        assert "api_key" in text
        path.write_text(text)
        port, received = webhook
        _alert_on_failure(workspace, "example_http_api_customers", port, planted, monkeypatch)
        run = run_pipeline(workspace.dag("example_http_api_customers"), "manual__key")
    from headwater.store import runs

    [record] = runs.runs_for(workspace.engine(), "example_http_api_customers")
    assert (
        record.status == "failed"
        and "answered 500 Internal Server Error after 2 attempts" in record.error_summary
    )
    _assert_no_secret(planted, _everything_shown(workspace, run, received, capsys, monkeypatch))
