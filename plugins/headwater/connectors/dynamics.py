"""Microsoft Dynamics 365 / Dataverse source: an entity set through the Web API (OData v4).

Built on the HTTP layer: OAuth 2.0 client credentials against the tenant's token endpoint
(`<authority>/<tenant>/oauth2/v2.0/token`, scope `<environment URL>/.default`), `$select` and
`$filter` from the YAML, pages followed through `@odata.nextLink` with `Prefer: odata.maxpagesize`,
incremental on `modifiedon` (`modifiedon ge <watermark>` joined to the user's filter), throttling
(429 with `Retry-After`, Dataverse's service protection limits) waited out by the client.
Option-set labels come from the `OData.Community.Display.V1.FormattedValue` annotation, asked for
only when `option_labels` names columns; other annotations (`@odata.etag`) are dropped.
"""

from __future__ import annotations

from .http.auth import Authenticator, OAuth2Authenticator
from .http.incremental import CursorSpec
from .http.models import DynamicsConnector, OAuth2ClientCredentials
from .http.paginators import NextLink
from .http.source import HttpApiSourceHook, RequestPlan

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
        headers = {
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            "Prefer": prefer,
        }
        cursor = None
        if cfg.incremental:
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
        return RequestPlan(
            path=f"/api/data/v{cfg.api_version}/{cfg.entity_set}",
            paginator=NextLink("$['@odata.nextLink']"),
            records_path="value",
            params=params,
            headers=headers,
            columns=columns,
            cursor=cursor,
            transform=self._record,
        )

    def _record(self, record: dict) -> dict:
        row = {k: v for k, v in record.items() if "@" not in k}
        for column in self.config.option_labels:
            row[f"{column}_label"] = record.get(f"{column}@{FORMATTED}")
        return row
