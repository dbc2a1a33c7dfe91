"""FastAPI app mounted on the Airflow api-server at /headwater: the Sources page and its JSON.

Plugin apps are not behind Airflow's authentication by themselves, so every route depends on
Airflow's own user resolution (the UI's session cookie or a Bearer token) and each source is
shown only to users allowed to read its DAG. FastAPI's /docs, /redoc and /openapi.json are plain
routes outside those dependencies, so they are switched off rather than served to anyone.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import GetUserDep, requires_authenticated
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse

app = FastAPI(
    title="Headwater",
    dependencies=[Depends(requires_authenticated())],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


def _manager():
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def _may_read(manager, user, dag_id: str) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return manager.is_authorized_dag(method="GET", user=user, details=DagDetails(id=dag_id))


def _visible_rows(user):
    from headwater.ui.sources import source_rows

    manager = _manager()
    return [r for r in source_rows() if _may_read(manager, user, r.dag_id)]


def _filters(status: str, connector: str, owner: str, tag: str, freshness: str) -> dict[str, str]:
    return {"status": status, "connector": connector, "owner": owner, "tag": tag, "freshness": freshness}


def _visible_audiences(user):
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    from headwater.ui.audiences import audience_rows

    manager = get_auth_manager()
    return [r for r in audience_rows() if manager.is_authorized_dag(method="GET", user=user, details=DagDetails(id=r.dag_id))]


@app.get("/sources", response_class=HTMLResponse)
def sources_page(
    user: GetUserDep, status: str = "", connector: str = "", owner: str = "", tag: str = "", freshness: str = ""
) -> str:
    from headwater.ui.page import render
    from headwater.ui.sources import filter_rows

    rows = _visible_rows(user)
    chosen = _filters(status, connector, owner, tag, freshness)
    return render(rows, shown=filter_rows(rows, **chosen), filters=chosen, audiences=_visible_audiences(user))


@app.get("/api/audiences")
def audiences_json(user: GetUserDep) -> list[dict]:
    return [row.as_dict() for row in _visible_audiences(user)]


@app.get("/api/sources")
def sources_json(
    user: GetUserDep, status: str = "", connector: str = "", owner: str = "", tag: str = "", freshness: str = ""
) -> list[dict]:
    from headwater.ui.sources import filter_rows

    rows = filter_rows(_visible_rows(user), **_filters(status, connector, owner, tag, freshness))
    return [row.as_dict() for row in rows]


def _detail(user, dag_id: str, gx_run: str | None):
    from headwater.ui.sources import source_detail

    # the same answer for a source that does not exist and one this user may not read: a user
    # without access learns nothing about which sources exist
    if not _may_read(_manager(), user, dag_id):
        raise HTTPException(status_code=404, detail=f"no source {dag_id!r}")
    found = source_detail(dag_id, gx_run=gx_run or None)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no source {dag_id!r}")
    return found


@app.get("/sources/{dag_id}", response_class=HTMLResponse)
def source_page(dag_id: str, user: GetUserDep, gx_run: str = "") -> str:
    from headwater.ui.page import render_detail

    return render_detail(_detail(user, dag_id, gx_run))


@app.get("/api/sources/{dag_id}")
def source_json(dag_id: str, user: GetUserDep, gx_run: str = "") -> dict:
    return _detail(user, dag_id, gx_run).as_dict()
