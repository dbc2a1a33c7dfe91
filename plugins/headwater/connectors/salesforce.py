"""Salesforce source: one sObject through the REST API (`query`/`queryAll`) or a Bulk API 2.0 query job.

Login is the provider's `SalesforceHook` (username/password/token, JWT, client credentials or a
session id, as its connection says); the data requests go through the HTTP layer's client, so
retries, 429 / `Retry-After`, the rate limit and the API call count are the layer's. A 401
(`INVALID_SESSION_ID`, an expired session) logs in again through the hook and retries once.

- Fields are checked against `GET /sobjects/<object>/describe` at connect (closest names when one
  is missing); Bulk CSV values are typed from the same describe.
- Incremental on `SystemModstamp` (or `LastModifiedDate`): SOQL `>=` the watermark, ordered by it;
  records at the watermark already loaded are dropped (the SQL sources' rules, `CursorFilter`).
- `include_deleted`: `queryAll`, so deleted records arrive with `IsDeleted = true`; a source maps
  that to a boolean field named in `mapping.deleted`, which removes the record from its profile.
- REST pages follow `nextRecordsUrl`; Bulk 2.0: create job, poll until `JobComplete`, fetch CSV
  result pages by `Sforce-Locator`.
- `Sforce-Limit-Info: api-usage=N/M` of the last response goes in the run record's notes.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from headwater.errors import SelectionError

from .http.auth import Authenticator
from .http.client import HttpClient
from .http.errors import HttpApiError
from .http.incremental import CursorFilter, CursorSpec
from .http.paginators import NextLink
from .http.records import ChunkBuilder
from .http.source import HttpApiSourceHook, RequestPlan

if TYPE_CHECKING:
    from .base import Chunk  # noqa: F401
    from .salesforce_models import SalesforceConnector

_NUMBERS = {"int": int, "double": float, "currency": float, "percent": float, "long": int}


class SalesforceAuthenticator(Authenticator):
    """The session of the provider's SalesforceHook as a bearer token; a 401 logs in again."""

    def __init__(self, conn_id: str) -> None:
        from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

        self.hook = SalesforceHook(salesforce_conn_id=conn_id)
        extras = self.hook.get_connection(conn_id).extra_dejson or {}
        # a fixed session id cannot be renewed: a 401 then fails at once
        self.can_refresh = not (extras.get("session_id") or extras.get("extra__salesforce__session_id"))
        self.logins = 0
        self._sf = None

    def sf(self):
        if self._sf is None:
            self.hook.__dict__.pop("conn", None)  # `conn` is a cached_property: drop it to log in again
            self._sf = self.hook.get_conn()
            self.logins += 1
        return self._sf

    @property
    def instance_url(self) -> str:
        return f"https://{self.sf().sf_instance}"

    def apply(self, client, headers, params) -> None:
        headers["Authorization"] = f"Bearer {self.sf().session_id}"

    def invalidate(self) -> None:
        self._sf = None


class SalesforceClient(HttpClient):
    """The layer's client, trusting the CA bundle requests uses (`REQUESTS_CA_BUNDLE`), noting API usage."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
        if bundle:  # same trust as the provider's login (requests), which reads this variable
            self._http.close()
            self._http = httpx.Client(
                timeout=kwargs.get("timeout", 60), follow_redirects=True, trust_env=False, verify=bundle
            )
        self.limit_info: str | None = None

    def url(self, path_or_url: str) -> str:
        # `nextRecordsUrl` is a path from the instance root (`/services/data/v62.0/query/01g...-2000`)
        if path_or_url.startswith("/services/"):
            root = self.base_url.split("/services/", 1)[0]
            return root + path_or_url
        return super().url(path_or_url)

    def request(self, method, url, **kwargs) -> httpx.Response:
        response = super().request(method, url, **kwargs)
        self.limit_info = response.headers.get("Sforce-Limit-Info") or self.limit_info
        return response


def soql_literal_columns(cfg: SalesforceConnector) -> list[str]:
    """Fields selected: the configured ones plus the key, the cursor and `IsDeleted` when asked."""
    extra = [*cfg.primary_key]
    if cfg.incremental:
        extra.append(cfg.cursor_field)
    if cfg.include_deleted:
        extra.append("IsDeleted")
    return list(dict.fromkeys([*cfg.fields, *extra]))


class SalesforceSourceHook(HttpApiSourceHook):
    """
    Read one Salesforce object in chunks, optionally incrementally and with its deleted records.

    :param config: the source's `connector:` section (`type: salesforce`); `conn_id` names an
        Airflow `salesforce` connection as the provider's SalesforceHook reads it.
    """

    hook_name = "Salesforce source (Headwater)"
    source_label = "Salesforce"
    config: SalesforceConnector

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self._auth: SalesforceAuthenticator | None = None
        self._describe: dict[str, dict] | None = None
        self.mode: str | None = None  # "rest" or "bulk", for the tests and the notes

    def authenticator(self) -> Authenticator:
        if self._auth is None:
            self._auth = SalesforceAuthenticator(self.config.conn_id)
        return self._auth

    def client(self) -> HttpClient:
        cfg = self.config
        return SalesforceClient(
            "",
            cfg.retry,
            auth=self.authenticator(),
            rate_limit_per_second=cfg.rate_limit_per_second,
            timeout=cfg.timeout_seconds,
        )

    def base_url(self, client: HttpClient) -> str:
        return f"{self._auth.instance_url}/services/data/v{self.config.api_version}"  # type: ignore[union-attr]

    def plan(self) -> RequestPlan:
        return RequestPlan(path="query", paginator=NextLink("nextRecordsUrl"), records_path="records")

    # -- describe --------------------------------------------------------------------------------
    def fields(self, client: HttpClient) -> dict[str, dict]:
        if self._describe is None:
            try:
                body = client.request("GET", f"sobjects/{self.config.object}/describe").json()
            except HttpApiError as exc:
                if exc.status == 404:
                    raise SelectionError(
                        f"Salesforce object '{self.config.object}' not found (connection '{self.config.conn_id}'): {exc}"
                    ) from None
                raise
            self._describe = {f["name"]: f for f in body.get("fields", [])}
        return self._describe

    def check_fields(self, client: HttpClient) -> None:
        known = self.fields(client)
        lower = {name.lower(): name for name in known}
        for name in soql_literal_columns(self.config):
            if name in known:
                continue
            close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
            if name.lower() in lower:
                close = [lower[name.lower()]]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SelectionError(
                f"field '{name}' is not a field of Salesforce object '{self.config.object}'{hint} "
                f"({len(known)} fields in its describe)"
            )

    def _logins(self) -> int:
        return self._auth.logins if self._auth is not None else 0

    def check(self) -> str:
        logins = self._logins()
        client, _ = self._open()
        try:
            self.check_fields(client)
            cfg = self.config
            how = f"incremental on {cfg.cursor_field}" if cfg.incremental else "full read each run"
            deleted = ", deleted records through queryAll" if cfg.include_deleted else ""
            return f"Salesforce {cfg.object} at {urlsplit(client.base_url).netloc} ({len(self.fields(client))} fields; {how}{deleted})"
        finally:
            # the provider's logins (token requests) go through requests, not the client: counted here
            self.api_calls = client.calls + self._logins() - logins
            client.close()

    # -- the query -------------------------------------------------------------------------------
    def soql(self, since: str | None, *, count: bool = False) -> str:
        cfg = self.config
        conditions = [f"({cfg.where})"] if cfg.where else []
        if since is not None:
            conditions.append(f"{cfg.cursor_field} >= {since}")
        select = "COUNT()" if count else ", ".join(soql_literal_columns(cfg))
        text = f"SELECT {select} FROM {cfg.object}"
        if conditions:
            text += " WHERE " + " AND ".join(conditions)
        if cfg.incremental and not count:
            text += f" ORDER BY {cfg.cursor_field}"
        return text

    def read(self, state: dict | None) -> Iterator[Chunk]:
        cfg = self.config
        self.notes = []
        self._next_state = None
        logins = self._logins()
        client, plan = self._open()
        cursor = None
        if cfg.incremental:
            spec = CursorSpec(
                field=cfg.cursor_field,
                # SOQL datetime literal; seconds only, which is earlier than the watermark: safe with >=
                datetime_format="%Y-%m-%dT%H:%M:%SZ",
                initial_value=cfg.initial_value,
                lookback_seconds=cfg.lookback_seconds,
            )
            cursor = CursorFilter(spec, list(cfg.primary_key), state)
        columns = soql_literal_columns(cfg)
        what = f"Salesforce {cfg.object}"
        builder = ChunkBuilder(cfg.chunk_size, columns, list(cfg.primary_key), what)
        try:
            self.check_fields(client)
            soql = self.soql(cursor.request_value() if cursor else None)
            self.mode = self._mode(client, cursor)
            self.log.info("Reading %s with %s: %s", what, self.mode, soql)
            records = self._bulk(client, soql) if self.mode == "bulk" else self._rest(client, soql)
            for record in records:
                builder.count += 1
                record.pop("attributes", None)
                if cursor is not None and not cursor.keep(record):
                    continue
                yield from builder.add(record)
            last = builder.flush()
            if last.table.num_rows or last.errors:
                yield last
        finally:
            self.api_calls = client.calls + self._logins() - logins
            if client.limit_info:  # type: ignore[attr-defined]
                self.notes.append(
                    f"Salesforce API usage after this read: {client.limit_info} (Sforce-Limit-Info)"
                )  # type: ignore[attr-defined]
            client.close()
        if cursor is not None:
            self._next_state = cursor.state()
            self.notes.extend(cursor.notes)

    def _mode(self, client: HttpClient, cursor: CursorFilter | None) -> str:
        cfg = self.config
        if cfg.bulk != "auto":
            return "bulk" if cfg.bulk == "always" else "rest"
        since = cursor.request_value() if cursor else None
        body = client.request(
            "GET", "queryAll" if cfg.include_deleted else "query", params={"q": self.soql(since, count=True)}
        ).json()
        total = int(body.get("totalSize", 0))
        self.notes.append(
            f"{total} record(s) matched; {'Bulk API 2.0' if total > cfg.bulk_threshold else 'REST query'}"
        )
        return "bulk" if total > cfg.bulk_threshold else "rest"

    def _rest(self, client: HttpClient, soql: str) -> Iterator[dict]:
        cfg = self.config
        plan = RequestPlan(
            path="queryAll" if cfg.include_deleted else "query",
            paginator=NextLink("nextRecordsUrl"),
            records_path="records",
            params={"q": soql},
            headers={"Sforce-Query-Options": f"batchSize={cfg.page_size}"},
        )
        for records, _ in self._pages(client, plan, plan.params):
            yield from records

    def _bulk(self, client: HttpClient, soql: str) -> Iterator[dict]:
        cfg = self.config
        job = client.request(
            "POST",
            "jobs/query",
            json={
                "operation": "queryAll" if cfg.include_deleted else "query",
                "query": soql,
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
        ).json()
        job_id = job["id"]
        deadline = time.monotonic() + cfg.bulk_timeout_seconds
        while True:
            status = client.request("GET", f"jobs/query/{job_id}").json()
            state = status.get("state")
            if state == "JobComplete":
                break
            if state in ("Failed", "Aborted"):
                raise HttpApiError(
                    f"Salesforce Bulk API 2.0 query job {job_id} on {cfg.object} ended {state}: "
                    f"{status.get('errorMessage') or 'no message'}",
                    status=None,
                )
            if time.monotonic() > deadline:
                raise HttpApiError(
                    f"Salesforce Bulk API 2.0 query job {job_id} still {state} after {cfg.bulk_timeout_seconds:.0f}s",
                    status=None,
                )
            time.sleep(cfg.bulk_poll_seconds)
        self.notes.append(f"Bulk API 2.0 job {job_id}: {status.get('numberRecordsProcessed', '?')} record(s)")
        types = {name: f.get("type") for name, f in self.fields(client).items()}
        locator: str | None = None
        while True:
            params = {"maxRecords": str(cfg.bulk_page_records)}
            if locator:
                params["locator"] = locator
            response = client.request(
                "GET", f"jobs/query/{job_id}/results", params=params, headers={"Accept": "text/csv"}
            )
            for row in csv.DictReader(io.StringIO(response.text)):
                yield {name: _typed(value, types.get(name)) for name, value in row.items()}
            locator = response.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                break


def _typed(value: str, kind: str | None) -> object:
    """A Bulk CSV value (always text) as the REST API would give it: empty is null, typed by describe."""
    if value == "":
        return None
    if kind == "boolean":
        return value.lower() == "true"
    if kind in _NUMBERS:
        try:
            return _NUMBERS[kind](value)
        except ValueError:
            return value
    return value
