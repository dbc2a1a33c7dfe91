"""Every route of the Headwater plugin refuses anonymous requests when Airflow's auth applies.

Plugin FastAPI apps are mounted on the api-server without Airflow's authentication, so the app
must guard itself. The routes are enumerated from the app (and from what the plugin mounts), so a
route added later is covered too: FastAPI's own /docs, /redoc and /openapi.json included.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def mounted(tmp_path, monkeypatch):
    """The app the plugin mounts, with Airflow's SimpleAuthManager and login required (no all-admins)."""
    import importlib

    from airflow.api_fastapi.app import create_auth_manager

    from headwater.store import db

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(tmp_path / "sources"))
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    (tmp_path / "sources").mkdir()
    db.reset_engines()
    create_auth_manager()
    [entry] = importlib.import_module("headwater_plugin").HeadwaterPlugin().fastapi_apps
    yield entry["app"]
    db.reset_engines()


def _paths(app) -> list[str]:
    # path parameters get a harmless value; every method a route declares is tried
    return sorted({re.sub(r"\{[^}]+\}", "x", route.path) for route in app.routes})


def _requests(app):
    for route in app.routes:
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            yield method, path


def test_the_app_has_only_the_routes_we_know(mounted) -> None:
    # a new route must be added here deliberately (and is then covered by the tests below)
    assert _paths(mounted) == ["/api/audiences", "/api/sources", "/api/sources/x", "/sources", "/sources/x"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Cookie": "_token=not-a-jwt"}],
    ids=["no_credentials", "bad_bearer_token", "bad_session_cookie"],
)
def test_every_route_refuses_anonymous_requests(mounted, headers) -> None:
    http = TestClient(mounted)
    answers = {(m, p): http.request(m, p, headers=headers).status_code for m, p in _requests(mounted)}
    # plus the paths FastAPI would serve by default, and an unknown one
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/static/x.js"):
        answers[("GET", path)] = http.get(path, headers=headers).status_code
    served = {k: v for k, v in answers.items() if v not in (401, 403, 404)}
    assert served == {}, f"served to an anonymous client: {served}"
    assert all(answers[("GET", p)] in (401, 403) for p in ("/sources", "/api/sources", "/sources/x", "/api/sources/x", "/api/audiences"))


def test_a_signed_in_user_is_served(mounted) -> None:
    """The refusals above come from authentication: the same routes answer a valid token."""
    from airflow import settings
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.models.revoked_token import RevokedToken

    # token validation looks the token up in the revocation list of the metadata database
    RevokedToken.__table__.create(settings.engine, checkfirst=True)
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    http = TestClient(mounted)
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/sources", headers=headers).status_code == 200
    assert http.get("/api/audiences", headers=headers).status_code == 200
    assert http.get("/sources", headers=headers).status_code == 200
    assert http.get("/sources", headers={"Cookie": f"_token={token}"}).status_code == 200
    # the per-source routes: past authentication, a source that does not exist is a 404
    assert http.get("/sources/x", headers=headers).status_code == 404
    assert http.get("/api/sources/x", headers=headers).status_code == 404
