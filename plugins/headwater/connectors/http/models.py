"""YAML models of the HTTP API layer and of the connector types built on it.

Imported at DAG parse time (through `connectors.models`): pydantic and the standard library only.
Every component has a `type`; unknown keys are rejected. Secrets never appear here: they come from
the Airflow connection named by `conn_id` (password, login, and the allow-listed extras named below).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from headwater.config.base import FieldProblem, StrictModel

# `$.data.items`, `data.items`, `$['@odata.nextLink']`, `results[0].rows`; `$` or empty: the body itself.
_PATH_SEGMENT = r"(?:\.?[A-Za-z_@$][\w@$-]*|\[\d+\]|\['[^']+'\]|\[\"[^\"]+\"\])"
_JSON_PATH = re.compile(rf"^(?:\$)?(?:{_PATH_SEGMENT})*$")
# Header names that carry credentials: those come from the connection, never from the YAML.
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "apikey"}


def json_path(value: str) -> str:
    """Check a JSON path of the supported subset (names, quoted names, array indexes)."""
    if not _JSON_PATH.match(value.strip()):
        raise ValueError(
            f"'{value}' is not a JSON path of the form `$.data.items`, `items`, `$['@odata.nextLink']` or `results[0].rows`"
        )
    return value.strip()


JsonPath = Annotated[
    str, Field(description="JSON path: `$.data.items`, `items`, `$['@odata.nextLink']`; `$`: the body.")
]


# -- authenticators ------------------------------------------------------------------------------
class NoAuth(StrictModel):
    """No authentication (a public API)."""

    type: Literal["none"]


class ApiKeyAuth(StrictModel):
    """An API key, the connection's password, sent in a header or a query parameter."""

    type: Literal["api_key"]
    name: str = Field(min_length=1, description="Header or query parameter name, e.g. `X-API-Key`.")
    inject_into: Literal["header", "query"] = "header"
    prefix: str = Field("", description="Text before the key, e.g. `Token ` (header only).")


class BearerAuth(StrictModel):
    """`Authorization: Bearer <the connection's password>`."""

    type: Literal["bearer"]


class BasicAuth(StrictModel):
    """HTTP basic authentication with the connection's login and password."""

    type: Literal["basic"]


class _OAuth2(StrictModel):
    token_url: str | None = Field(
        None,
        description="Token endpoint (absolute, or relative to the base URL); else the connection extra `token_url`.",
    )
    scopes: list[str] = Field(default_factory=list)
    body_format: Literal["form", "json"] = Field("form", description="How the token request is encoded.")
    extra_body: dict[str, str] = Field(
        default_factory=dict,
        description="Further non-secret fields of the token request (e.g. `account_id`).",
    )
    refresh_before_seconds: float = Field(
        60, ge=0, description="Fetch a new token this long before the old one expires."
    )

    @field_validator("extra_body")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if re.search(r"secret|password|token", key, re.I):
                raise ValueError(
                    f"'{key}' looks like a secret: it belongs in the Airflow connection, not the source file"
                )
        return value


class OAuth2ClientCredentials(_OAuth2):
    """OAuth 2.0 client credentials: client id = connection login, client secret = connection password."""

    type: Literal["oauth2_client_credentials"]


class OAuth2RefreshToken(_OAuth2):
    """OAuth 2.0 refresh token grant: the refresh token is the connection extra `refresh_token`;
    client id / secret are the connection's login / password (either may be empty)."""

    type: Literal["oauth2_refresh_token"]


Auth = Annotated[
    NoAuth | ApiKeyAuth | BearerAuth | BasicAuth | OAuth2ClientCredentials | OAuth2RefreshToken,
    Field(discriminator="type"),
]


# -- paginators ----------------------------------------------------------------------------------
class NoPagination(StrictModel):
    """One request, one page."""

    type: Literal["none"]


class NextLinkPaginator(StrictModel):
    """The next page's URL is in the body (`path`) or in the `Link: <...>; rel="next"` header."""

    type: Literal["next_link"]
    path: str | None = Field(
        None, description="JSON path of the next URL in the body; unset: the `Link` header."
    )

    _path = field_validator("path")(lambda v: v if v is None else json_path(v))


class CursorPaginator(StrictModel):
    """The body holds a token for the next page, sent back as a query parameter."""

    type: Literal["cursor"]
    token_path: str = Field(description="JSON path of the next-page token; absent/empty/null: last page.")
    param: str = Field(min_length=1, description="Query parameter the token is sent in.")

    _path = field_validator("token_path")(json_path)


class OffsetPaginator(StrictModel):
    """`offset`/`limit` parameters; stops at a page shorter than `limit` (or at `total_path`)."""

    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(100, gt=0)
    total_path: str | None = Field(
        None, description="JSON path of the total record count, if the API gives one."
    )

    _path = field_validator("total_path")(lambda v: v if v is None else json_path(v))


class PageNumberPaginator(StrictModel):
    """A page number parameter (and a page size); stops at a page shorter than `size`."""

    type: Literal["page_number"]
    page_param: str = "page"
    size_param: str | None = "per_page"
    size: int = Field(100, gt=0)
    start: int = Field(1, ge=0, description="Number of the first page (1, or 0 for some APIs).")


Paginator = Annotated[
    NoPagination | NextLinkPaginator | CursorPaginator | OffsetPaginator | PageNumberPaginator,
    Field(discriminator="type"),
]


# -- records, incremental, retries ---------------------------------------------------------------
class RecordSelector(StrictModel):
    """Where the records are in a response body and what happens to nested values."""

    path: str = Field("$", description="JSON path of the records array (`$`: the body is the array).")
    nested: Literal["json", "flatten"] = Field(
        "json",
        description="json: a nested object or array is one column holding JSON text; flatten: "
        "objects become columns `parent<separator>child` (arrays stay JSON).",
    )
    separator: str = Field("_", min_length=1)

    _path = field_validator("path")(json_path)


class HttpIncremental(StrictModel):
    """Incremental reads on a cursor field of the records (watermark rules as for SQL sources)."""

    cursor_field: str = Field(
        min_length=1, description="Field of each record, e.g. `updated_at` (after flattening)."
    )
    request_param: str | None = Field(
        None,
        description="Query parameter that tells the API where to start; unset: the API returns "
        "everything and Headwater keeps only records at or after the watermark.",
    )
    template: str = Field("{value}", description="Text sent in `request_param`; `{value}` is the watermark.")
    join_with: str = Field(
        " and ",
        description="When `params` already sets `request_param` (an OData `$filter`): joined with this.",
    )
    datetime_format: str | None = Field(
        None,
        description="strftime format for a timestamp watermark in the request (default ISO 8601, `Z` for UTC).",
    )
    initial_value: str | int | float | None = Field(
        None, description="Where the first run starts (unset: everything)."
    )
    lookback_seconds: float = Field(
        0,
        ge=0,
        description="Ask again for this much before the watermark (late-arriving changes); "
        "records in the window are read again, so load with `mode: merge`.",
    )

    @field_validator("template")
    @classmethod
    def _has_value(cls, value: str) -> str:
        if "{value}" not in value:
            raise ValueError("template must contain `{value}` (where the watermark goes)")
        return value


class RetryPolicy(StrictModel):
    """Retries of one request: 5xx, 408, 429 and timeouts, with exponential backoff and jitter."""

    max_retries: int = Field(5, ge=0)
    backoff_seconds: float = Field(
        1.0, ge=0, description="First wait; doubled at each retry, with full jitter."
    )
    max_backoff_seconds: float = Field(60, ge=0)
    max_retry_after_seconds: float = Field(
        600,
        ge=0,
        description="Longest `Retry-After` honoured; a longer one fails the request (the task is retried later).",
    )


class _HttpCommon(StrictModel):
    """What every HTTP connector type shares."""

    conn_id: str = Field(min_length=1, description="Airflow connection: base URL (host) and the secrets.")
    primary_key: list[str] = Field(default_factory=list, description="Fields that identify a record.")
    retry: RetryPolicy = RetryPolicy()
    rate_limit_per_second: float | None = Field(
        None, gt=0, description="Most requests per second to this API."
    )
    timeout_seconds: float = Field(60, gt=0, description="Per request (connect, read).")
    chunk_size: int = Field(10_000, gt=0, description="Records per chunk (bounds memory).")

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


# -- connector types -----------------------------------------------------------------------------
class HttpApiConnector(_HttpCommon):
    """Any JSON REST API, described in YAML: auth, paging, records, incremental cursor."""

    type: Literal["http_api"]
    path: str = Field("", description="Path appended to the connection's base URL, e.g. `/v1/customers`.")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str | int | float | bool] = Field(default_factory=dict, description="Query parameters.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Non-secret headers (`Accept`, API version)."
    )
    body: dict | None = Field(None, description="JSON body (POST only).")
    auth: Auth = NoAuth(type="none")
    paginator: Paginator = NoPagination(type="none")
    records: RecordSelector = RecordSelector()
    columns: list[str] | None = Field(
        None, min_length=1, description="Keep only these fields (after flattening)."
    )
    incremental: HttpIncremental | None = None
    max_pages: int | None = Field(
        None, gt=0, description="Stop after this many pages (a guard against endless paging)."
    )

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in _SECRET_HEADERS:
                raise ValueError(
                    f"header '{name}' carries a credential: use `auth` (the secret comes from the Airflow connection)"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpApiConnector:
        if self.body is not None and self.method != "POST":
            raise FieldProblem("body", "a body is sent with `method: POST` only")
        if (
            self.columns is not None
            and self.incremental
            and self.incremental.cursor_field not in self.columns
        ):
            raise FieldProblem(
                "incremental",
                f"cursor field '{self.incremental.cursor_field}' is not selected; add it to connector.columns",
            )
        return self


class DynamicsConnector(_HttpCommon):
    """Microsoft Dynamics 365 / Dataverse Web API (OData v4), with OAuth client credentials.

    Connection: host = the environment URL (`https://org.crm.dynamics.com`), login = application
    (client) id, password = client secret, extra `tenant_id` (and `authority`, default
    `https://login.microsoftonline.com`).
    """

    type: Literal["dynamics"]
    entity_set: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Entity set name, e.g. `contacts`."
    )
    columns: list[str] | None = Field(None, min_length=1, description="Columns (`$select`); unset: all.")
    filter: str | None = Field(None, min_length=1, description="OData `$filter`, e.g. `statecode eq 0`.")
    incremental: bool = Field(
        True, description="Read only rows with `modifiedon` at or after the last run's maximum."
    )
    initial_value: str | None = Field(None, description="First run: `modifiedon` to start at (ISO 8601).")
    lookback_seconds: float = Field(0, ge=0)
    page_size: int = Field(5000, gt=0, le=5000, description="`Prefer: odata.maxpagesize`.")
    option_labels: list[str] = Field(
        default_factory=list,
        description="Option-set (choice) columns whose label is wanted too: read into `<column>_label`.",
    )
    api_version: str = Field("9.2", pattern=r"^\d+\.\d+$")
    track_deletions: bool = Field(
        False,
        description="Change tracking (`Prefer: odata.track-changes`): the state keeps the delta link "
        "instead of the `modifiedon` watermark; later runs read only changes, and deleted rows arrive "
        "with the key and `deleted = true` (map it to the field named in `mapping.deleted`). "
        "Needs change tracking on the table, one `primary_key` column and no `filter`.",
    )

    @property
    def added_columns(self) -> list[str]:
        """Columns read beside `columns`: option-set labels, and `deleted` under change tracking."""
        return [*(f"{c}_label" for c in self.option_labels), *(["deleted"] if self.track_deletions else [])]

    @model_validator(mode="after")
    def _consistent(self) -> DynamicsConnector:
        if self.track_deletions:
            # Dataverse refuses $filter with change tracking
            if self.filter is not None:
                raise FieldProblem(
                    "filter", "change tracking (track_deletions) cannot be combined with a $filter"
                )
            if len(self.primary_key) != 1:
                raise FieldProblem(
                    "primary_key",
                    "track_deletions needs the one key column (e.g. [contactid]): deleted rows carry only it",
                )
        if self.columns is not None:
            for i, name in enumerate(self.option_labels):
                if name not in self.columns:
                    raise FieldProblem(
                        f"option_labels.{i}", f"'{name}' is not selected; add it to connector.columns"
                    )
            if self.incremental and not self.track_deletions and "modifiedon" not in self.columns:
                raise FieldProblem(
                    "columns", "incremental reads need `modifiedon`: add it to connector.columns"
                )
        return self


class MarketingCloudConnector(_HttpCommon):
    """Salesforce Marketing Cloud data extension rows, through the REST API's rowset paging.

    Connection: host = the tenant's auth base URL (`https://<subdomain>.auth.marketingcloudapis.com`),
    login = client id, password = client secret, extra `account_id` (MID, optional). The REST base
    URL comes from the token response (`rest_instance_url`).
    """

    type: Literal["salesforce_marketing_cloud"]
    data_extension: str = Field(min_length=1, description="External key of the data extension.")
    columns: list[str] | None = Field(None, min_length=1, description="Fields to keep; unset: all.")
    date_field: str | None = Field(
        None, min_length=1, description="Date field for incremental reads; unset: full read."
    )
    filter_template: str = Field(
        "{field} gte '{value}'", description="Rowset `$filter` for incremental reads (`{field}`, `{value}`)."
    )
    initial_value: str | None = None
    lookback_seconds: float = Field(0, ge=0)
    page_size: int = Field(2500, gt=0, le=2500, description="`$pageSize` (the API's maximum is 2500).")

    @model_validator(mode="after")
    def _consistent(self) -> MarketingCloudConnector:
        if self.columns is not None and self.date_field and self.date_field not in self.columns:
            raise FieldProblem(
                "date_field", f"'{self.date_field}' is not selected; add it to connector.columns"
            )
        if "{value}" not in self.filter_template:
            raise FieldProblem("filter_template", "must contain `{value}` (where the watermark goes)")
        return self
