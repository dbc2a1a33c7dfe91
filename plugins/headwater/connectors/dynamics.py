"""Microsoft Dynamics 365 / Dataverse source: an entity set through the Web API (OData v4).

Built on the HTTP layer: OAuth 2.0 client credentials against the tenant's token endpoint
(`<authority>/<tenant>/oauth2/v2.0/token`, scope `<environment URL>/.default`), `$select` and
`$filter` from the YAML, pages followed through `@odata.nextLink` with `Prefer: odata.maxpagesize`,
incremental on `modifiedon` (`modifiedon ge <watermark>` joined to the user's filter), throttling
(429 with `Retry-After`, Dataverse's service protection limits) waited out by the client.
Option-set labels come from the `OData.Community.Display.V1.FormattedValue` annotation, asked for
only when `option_labels` names columns; other annotations (`@odata.etag`) are dropped.

`track_deletions`: change tracking instead of the `modifiedon` watermark. The first run asks with
`Prefer: odata.track-changes` and keeps the `@odata.deltaLink` of the last page as the state; later
runs call that link and get changed rows plus `$deletedEntity` entries (`{"id", "reason": "deleted"}`),
which become rows holding the key and `deleted = true` for the profile store's deletion path. A
delta link Dataverse no longer accepts (400/410: expired, change tracking switched off) means a
full read and a note.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .http.auth import Authenticator, OAuth2Authenticator
from .http.errors import HttpApiError
from .http.incremental import CursorSpec
from .http.models import DynamicsConnector, OAuth2ClientCredentials
from .http.paginators import NextLink
from .http.source import HttpApiSourceHook, RequestPlan

if TYPE_CHECKING:
    from .base import Chunk
    from .http.client import HttpClient

FORMATTED = "OData.Community.Display.V1.FormattedValue"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"


class DynamicsSourceHook(HttpApiSourceHook):
    """
    Read a Dataverse entity set in chunks, optionally incrementally on `modifiedon`.

    :param config: the source's `connector:` section (`type: dynamics`). The connection holds the
        environment URL (host), the application id (login), the client secret (password) and the
        extras `tenant_id` and, optionally, `authority`.
    """

    hook_name = "Dynamics 365 source (Headwater)"
    source_label = "Dynamics 365"
    config: DynamicsConnector
    _delta_from: str | None = None  # the stored delta link this read starts from
    _delta_next: str | None = None  # the delta link the read ended with

    def authenticator(self) -> Authenticator:
        creds = self.credentials()
        tenant = creds.require(
            "extra `tenant_id` (the Microsoft Entra tenant)", creds.extras.get("tenant_id", "")
        )
        authority = creds.extras.get("authority", DEFAULT_AUTHORITY).rstrip("/")
        return OAuth2Authenticator(
            OAuth2ClientCredentials(type="oauth2_client_credentials"),
            creds,
            token_url=f"{authority}/{tenant}/oauth2/v2.0/token",
            scopes=[f"{creds.base_url}/.default"],
        )

    def plan(self) -> RequestPlan:
        cfg = self.config
        params: dict[str, str] = {}
        if cfg.columns:
            params["$select"] = ",".join(cfg.columns)
        if cfg.filter:
            # parenthesised: the incremental condition is joined with `and`
            params["$filter"] = f"({cfg.filter})" if cfg.incremental else cfg.filter
        prefer = f"odata.maxpagesize={cfg.page_size}"
        if cfg.option_labels:
            prefer += f', odata.include-annotations="{FORMATTED}"'
        if cfg.track_deletions:
            prefer += ", odata.track-changes"
        headers = {
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            "Prefer": prefer,
        }
        cursor = None
        if cfg.incremental and not cfg.track_deletions:
            cursor = CursorSpec(
                field="modifiedon",
                request_param="$filter",
                template="modifiedon ge {value}",
                initial_value=cfg.initial_value,
                lookback_seconds=cfg.lookback_seconds,
            )
        columns = None
        if cfg.columns:
            columns = [*cfg.columns, *(f"{c}_label" for c in cfg.option_labels)]
            if cfg.track_deletions:
                columns.append("deleted")
        path = f"/api/data/v{cfg.api_version}/{cfg.entity_set}"
        if self._delta_from:
            path, params = self._delta_from, {}  # the link holds the whole query
        return RequestPlan(
            path=path,
            paginator=NextLink("$['@odata.nextLink']"),
            records_path="value",
            params=params,
            headers=headers,
            columns=columns,
            cursor=cursor,
            transform=self._record,
        )

    def _pages(self, client: HttpClient, plan: RequestPlan, params: dict):
        for records, body in super()._pages(client, plan, params):
            if isinstance(body, dict) and body.get("@odata.deltaLink"):
                self._delta_next = body["@odata.deltaLink"]  # on the last page only
            yield records, body

    def read(self, state: dict | None) -> Iterator[Chunk]:
        if not self.config.track_deletions:
            yield from super().read(state)
            return
        self._delta_from = (state or {}).get("delta_link")
        self._delta_next = None
        started = False
        try:
            for chunk in super().read(None):
                started = True
                yield chunk
        except HttpApiError as exc:
            # an expired or refused delta link fails on its first page, before any chunk
            if started or not self._delta_from or exc.status not in (400, 410):
                raise
            self._delta_from = None
            yield from super().read(None)
            self.notes.append(
                f"the stored delta link was refused ({exc.status}: {exc}); read the whole entity set again "
                "(deletions since the last run are not seen in this run)"
            )
        finally:
            self._delta_from = None

    def next_state(self) -> dict | None:
        if self.config.track_deletions:
            return {"delta_link": self._delta_next} if self._delta_next else None
        return super().next_state()

    def watermark_description(self) -> str | None:
        if self.config.track_deletions:
            return "delta link (change tracking)" if self._delta_next else None
        return super().watermark_description()

    def _record(self, record: dict) -> dict:
        if self.config.track_deletions:
            if str(record.get("@odata.context", "")).endswith("$deletedEntity"):
                return {self.config.primary_key[0]: record.get("id"), "deleted": True}
        row = {k: v for k, v in record.items() if "@" not in k}
        if self.config.track_deletions:
            row["deleted"] = False
        for column in self.config.option_labels:
            row[f"{column}_label"] = record.get(f"{column}@{FORMATTED}")
        return row
