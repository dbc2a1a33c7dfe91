"""`HttpApiSourceHook`: reads pages from an HTTP API into Arrow chunks, for every HTTP connector type.

A connector type is a `RequestPlan` (what to request, how to page, where the records are) plus an
authenticator. `http_api` takes both straight from its YAML; `dynamics` and
`salesforce_marketing_cloud` subclass the hook and build them from their own fields. Memory holds
one page and one chunk at a time. `api_calls` counts the requests the last `check` or `read` sent
(token requests and retries included); the stage manifests carry it into the run record.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

from headwater.connectors.base import SourceReader
from headwater.errors import SelectionError

from .auth import Authenticator, Credentials, make_authenticator
from .client import HttpClient
from .errors import HttpApiError, endpoint
from .incremental import CursorFilter, CursorSpec
from .paginators import Paginator, make_paginator
from .records import ChunkBuilder, find, flatten

if TYPE_CHECKING:
    from headwater.connectors.base import Chunk

    from .models import HttpApiConnector


@dataclass
class RequestPlan:
    """Everything a read requests, independent of the connector type's YAML."""

    path: str
    paginator: Paginator
    records_path: str = "$"
    method: str = "GET"
    params: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    body: dict | None = None
    nested: str = "json"
    separator: str = "_"
    columns: list[str] | None = None
    cursor: CursorSpec | None = None
    max_pages: int | None = None
    # Reshapes one record as the API sends it into a flat-enough dict (None: not a record).
    transform: Callable[[dict], dict] | None = None


class HttpApiSourceHook(SourceReader, BaseHook):
    """
    Read records from a JSON HTTP API in chunks, optionally incrementally.

    :param config: the source's `connector:` section (`type: http_api`, or a type built on it);
        `config.conn_id` names the Airflow connection with the base URL and the secrets.
    """

    conn_name_attr = "conn_id"
    conn_type = "http"
    hook_name = "HTTP API source (Headwater)"
    source_label = "HTTP API"

    def __init__(self, config: HttpApiConnector, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.notes: list[str] = []
        self.api_calls = 0
        self._next_state: dict | None = None
        self._creds: Credentials | None = None

    # -- what a connector type supplies ---------------------------------------------------------
    def credentials(self) -> Credentials:
        if self._creds is None:
            self._creds = Credentials.from_connection(self.config.conn_id)
        return self._creds

    def authenticator(self) -> Authenticator:
        return make_authenticator(self.config.auth, self.credentials())

    def base_url(self, client: HttpClient) -> str:
        """The URL the plan's path is relative to (may need the client: a token response can name it)."""
        url = self.credentials().base_url
        if not url:
            raise SelectionError(
                f"connection '{self.config.conn_id}' has no host: set it to the API's base URL (e.g. https://api.example.com)"
            )
        return url

    def plan(self) -> RequestPlan:
        cfg = self.config
        inc = cfg.incremental
        cursor = None
        if inc is not None:
            cursor = CursorSpec(
                field=inc.cursor_field,
                request_param=inc.request_param,
                template=inc.template,
                join_with=inc.join_with,
                datetime_format=inc.datetime_format,
                initial_value=inc.initial_value,
                lookback_seconds=inc.lookback_seconds,
            )
        return RequestPlan(
            path=cfg.path,
            paginator=make_paginator(cfg.paginator),
            records_path=cfg.records.path,
            method=cfg.method,
            params=dict(cfg.params),
            headers=dict(cfg.headers),
            body=cfg.body,
            nested=cfg.records.nested,
            separator=cfg.records.separator,
            columns=list(cfg.columns) if cfg.columns else None,
            cursor=cursor,
            max_pages=cfg.max_pages,
        )

    # -- shared ---------------------------------------------------------------------------------
    def client(self) -> HttpClient:
        cfg = self.config
        return HttpClient(
            "",
            cfg.retry,
            auth=self.authenticator(),
            rate_limit_per_second=cfg.rate_limit_per_second,
            timeout=cfg.timeout_seconds,
            secrets=self.credentials().secret_forms(),
        )

    def _open(self) -> tuple[HttpClient, RequestPlan]:
        client = self.client()
        try:
            client.base_url = self.base_url(client)
        except BaseException:
            self.api_calls = client.calls
            client.close()
            raise
        return client, self.plan()

    def _pages(self, client: HttpClient, plan: RequestPlan, params: dict) -> Iterator[tuple[list, object]]:
        """(records, body) of each page, following the paginator."""
        page = plan.paginator.start(client.url(plan.path), params)
        pages = 0
        while page is not None:
            response = client.request(
                plan.method, page.url, params=page.params, headers=plan.headers, json=plan.body
            )
            pages += 1
            where = endpoint(plan.method, page.url)
            try:
                body = response.json()
            except ValueError:
                raise HttpApiError(
                    f"{where} answered {response.status_code} with a body that is not JSON "
                    f"(Content-Type {response.headers.get('Content-Type', 'none')})",
                    status=response.status_code,
                ) from None
            records = find(body, plan.records_path)
            if records is None:
                records = []
            elif isinstance(records, dict):
                records = [records]  # a single object where a list was expected: one record
            elif not isinstance(records, list):
                raise SelectionError(
                    f"{where}: the records path '{plan.records_path}' holds a {type(records).__name__}, not a list of records"
                )
            yield records, body
            next_page = plan.paginator.next(page, response, body, len(records))
            if next_page is not None and plan.max_pages and pages >= plan.max_pages:
                self.notes.append(f"stopped after max_pages ({plan.max_pages}) pages; more were offered")
                break
            page = next_page

    def _shape(self, plan: RequestPlan, record: object) -> dict | None:
        if not isinstance(record, dict):
            return None
        if plan.transform is not None:
            record = plan.transform(record)
        return flatten(record, plan.separator) if plan.nested == "flatten" else record

    def describe(self, client: HttpClient, plan: RequestPlan) -> str:
        return f"{self.source_label} {endpoint(plan.method, client.url(plan.path))} (connection '{self.config.conn_id}')"

    def check(self) -> str:
        """Fetch the first page: proves the URL, the credentials and the records path; checks fields."""
        client, plan = self._open()
        try:
            pages = self._pages(client, plan, dict(plan.params))
            records, _ = next(pages)
            pages.close()
            where = self.describe(client, plan)
            if records:
                first = self._shape(plan, records[0])
                if first is None:
                    raise SelectionError(
                        f"{where}: the records at '{plan.records_path}' are {type(records[0]).__name__}s, not objects"
                    )
                wanted = [
                    *(plan.columns or []),
                    *([plan.cursor.field] if plan.cursor else []),
                    *self.config.primary_key,
                ]
                missing = [w for w in dict.fromkeys(wanted) if w not in first]
                if missing:
                    names = list(first)
                    close = difflib.get_close_matches(missing[0], names, n=3, cutoff=0.6)
                    hint = f"did you mean {', '.join(close)}? " if close else ""
                    raise SelectionError(
                        f"field '{missing[0]}' not found in the first record of {where}; {hint}fields: {', '.join(names)}"
                    )
            incremental = f"; incremental on {plan.cursor.field}" if plan.cursor else "; full read each run"
            return f"{where}: {len(records)} record(s) on the first page{incremental}"
        finally:
            self.api_calls = client.calls
            client.close()

    def read(self, state: dict | None) -> Iterator[Chunk]:
        self.notes = []
        self._next_state = None
        client, plan = self._open()
        cursor = CursorFilter(plan.cursor, list(self.config.primary_key), state) if plan.cursor else None
        params = cursor.apply(plan.params) if cursor else dict(plan.params)
        where = self.describe(client, plan)
        self.log.info("Reading %s with parameters %s", where, sorted(params))
        key_fields = list(self.config.primary_key) or ([plan.cursor.field] if plan.cursor else [])
        builder = ChunkBuilder(self.config.chunk_size, plan.columns, key_fields, where)
        try:
            for records, _ in self._pages(client, plan, params):
                for raw in records:
                    builder.count += 1
                    record = self._shape(plan, raw)
                    if not record:
                        builder.bad_record(
                            raw, "not a JSON object" if record is None else "an object without fields"
                        )
                        continue
                    if cursor is not None and not cursor.keep(record):
                        continue
                    yield from builder.add(record)
            last = builder.flush()
            if last.table.num_rows or last.errors:
                yield last
        finally:
            self.api_calls = client.calls
            client.close()
        if cursor is not None:
            self._next_state = cursor.state()
            self.notes.extend(cursor.notes)

    def next_state(self) -> dict | None:
        return self._next_state

    def watermark_description(self) -> str | None:
        state = self._next_state
        if not state:
            return None
        cursor = state["cursor"]
        count = len(state.get("keys_at_cursor", []))
        return f"{cursor['column']} = {cursor['value']} ({count} record{'s' if count != 1 else ''} at that value)"
