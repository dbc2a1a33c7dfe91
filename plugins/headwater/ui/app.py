"""FastAPI app mounted on the Airflow api-server at /headwater: the Sources page and its JSON.

Plugin apps are not behind Airflow's authentication by themselves, so every route depends on
Airflow's own user resolution (the UI's session cookie or a Bearer token) and each source is
shown only to users allowed to read its DAG. FastAPI's /docs, /redoc and /openapi.json are plain
routes outside those dependencies, so they are switched off rather than served to anyone.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import GetUserDep, requires_authenticated
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI(
    title="Headwater",
    dependencies=[Depends(requires_authenticated())],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


def _visible_rows(user):
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    from headwater.ui.sources import source_rows

    manager = get_auth_manager()
    return [r for r in source_rows() if manager.is_authorized_dag(method="GET", user=user, details=DagDetails(id=r.dag_id))]


def _visible_audiences(user):
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    from headwater.ui.audiences import audience_rows

    manager = get_auth_manager()
    return [r for r in audience_rows() if manager.is_authorized_dag(method="GET", user=user, details=DagDetails(id=r.dag_id))]


@app.get("/sources", response_class=HTMLResponse)
def sources_page(user: GetUserDep) -> str:
    from headwater.ui.page import render

    return render(_visible_rows(user), _visible_audiences(user))


@app.get("/api/audiences")
def audiences_json(user: GetUserDep) -> list[dict]:
    return [row.as_dict() for row in _visible_audiences(user)]


@app.get("/api/sources")
def sources_json(user: GetUserDep) -> list[dict]:
    return [row.as_dict() for row in _visible_rows(user)]
