"""Salesforce Marketing Cloud source: data extension rows through the REST API's rowset paging.

Built on the HTTP layer: OAuth 2.0 client credentials (JSON body, `account_id` from the
connection) against the tenant's auth base URL (`/v2/token`); the REST base URL is the token
answer's `rest_instance_url`. Rows come from
`GET /data/v1/customobjectdata/key/<external key>/rowset?$page=N&$pageSize=M`, each item's
`keys` and `values` merged into one record. Incremental reads filter on a date field of the data
extension (`$filter=<field> gte '<watermark>'`); the API writes dates as `M/D/YYYY h:mm:ss AM`,
which are read as ISO 8601 (`YYYY-MM-DDTHH:MM:SS`) so that they order as dates.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from headwater.errors import ConnectionCheckError

from .http.auth import Authenticator, OAuth2Authenticator
from .http.client import HttpClient
from .http.incremental import CursorSpec
from .http.models import MarketingCloudConnector, OAuth2ClientCredentials
from .http.paginators import PageNumber
from .http.source import HttpApiSourceHook, RequestPlan

_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")


def iso_date(value: object) -> object:
    """`5/1/2024 10:00:00 AM` -> `2024-05-01T10:00:00`; any other value unchanged."""
    if not isinstance(value, str) or "/" not in value:
        return value
    for fmt in _US_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).isoformat()
        except ValueError:
            continue
    return value


class MarketingCloudSourceHook(HttpApiSourceHook):
    """
    Read the rows of a Marketing Cloud data extension in chunks, optionally incrementally.

    :param config: the source's `connector:` section (`type: salesforce_marketing_cloud`). The
        connection holds the auth base URL (host), the client id (login), the client secret
        (password) and, optionally, the extra `account_id` (the business unit's MID).
    """

    hook_name = "Salesforce Marketing Cloud source (Headwater)"
    source_label = "Marketing Cloud"
    config: MarketingCloudConnector

    def authenticator(self) -> Authenticator:
        creds = self.credentials()
        account = creds.extras.get("account_id")
        return OAuth2Authenticator(
            OAuth2ClientCredentials(
                type="oauth2_client_credentials",
                body_format="json",
                extra_body={"account_id": account} if account else {},
            ),
            creds,
            token_url=f"{creds.base_url}/v2/token",
            scopes=[],
        )

    def base_url(self, client: HttpClient) -> str:
        auth = client.auth
        assert isinstance(auth, OAuth2Authenticator)
        auth.token(client)
        rest = auth.token_response.get("rest_instance_url")
        if not rest:
            raise ConnectionCheckError(
                f"the token answer of connection '{self.config.conn_id}' has no `rest_instance_url`: "
                "is the host the tenant's auth base URL (https://<subdomain>.auth.marketingcloudapis.com)?",
                transient=False,
            )
        return str(rest).rstrip("/")

    def plan(self) -> RequestPlan:
        cfg = self.config
        cursor = None
        if cfg.date_field:
            cursor = CursorSpec(
                field=cfg.date_field,
                request_param="$filter",
                template=cfg.filter_template.replace("{field}", cfg.date_field),
                initial_value=cfg.initial_value,
                lookback_seconds=cfg.lookback_seconds,
                datetime_format="%Y-%m-%dT%H:%M:%S",
            )
        return RequestPlan(
            path=f"/data/v1/customobjectdata/key/{quote(cfg.data_extension, safe='')}/rowset",
            paginator=PageNumber("$page", "$pageSize", cfg.page_size, 1),
            records_path="items",
            columns=list(cfg.columns) if cfg.columns else None,
            cursor=cursor,
            transform=self._record,
        )

    def _record(self, item: dict) -> dict:
        keys, values = item.get("keys"), item.get("values")
        row = {**(keys if isinstance(keys, dict) else {}), **(values if isinstance(values, dict) else {})}
        if self.config.date_field and self.config.date_field in row:
            row[self.config.date_field] = iso_date(row[self.config.date_field])
        return row
