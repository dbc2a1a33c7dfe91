"""Authenticators: put the connection's secret on each request, fetching OAuth tokens as needed.

Every secret comes from the Airflow connection (`Credentials`): password, login and the extras
allow-listed in `Credentials.from_connection`; the YAML only says which kind of auth. OAuth 2.0
tokens are cached for the read and fetched again `refresh_before_seconds` before they expire, and
at once when the API answers 401 (revoked or expired early). Tokens are registered with Airflow's
secret masker so they never show in a task log.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.errors import ConnectionCheckError

from .errors import HttpApiError

if TYPE_CHECKING:
    from .client import HttpClient
    from .models import ApiKeyAuth, OAuth2ClientCredentials, OAuth2RefreshToken

# Connection extras read (allowlist, never spread wholesale): only these reach a request.
EXTRAS = ("token_url", "refresh_token", "tenant_id", "authority", "account_id")


@dataclass(frozen=True)
class Credentials:
    """What a connection holds for an HTTP API (repr hides the secrets)."""

    conn_id: str
    base_url: str
    login: str = ""
    password: str = field(default="", repr=False)
    extras: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_connection(cls, conn_id: str) -> Credentials:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        extra = conn.extra_dejson or {}
        creds = cls(
            conn_id=conn_id,
            base_url=base_url(conn.host, conn.schema, conn.port, conn.conn_type),
            login=conn.login or "",
            password=conn.password or "",
            extras={k: str(extra[k]) for k in EXTRAS if extra.get(k) not in (None, "")},
        )
        creds.register_secrets()
        return creds

    def secret_forms(self) -> list[str]:
        """Every form the secrets can take in a request, and so in an API's echo of one: as is,
        form-encoded (`+` for space), percent-encoded, JSON-escaped. Longest first, for replacing."""
        from urllib.parse import quote, quote_plus

        forms: set[str] = set()
        for secret in (self.password, self.extras.get("refresh_token", "")):
            if len(secret) >= 4:
                forms.update({secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1]})
        return sorted(forms, key=len, reverse=True)

    def register_secrets(self) -> None:
        """Tell Airflow's masker every form of the secrets (it knows only the raw password)."""
        for form in self.secret_forms():
            _mask(form)

    def require(self, what: str, value: str) -> str:
        if not value:
            raise ConnectionCheckError(f"connection '{self.conn_id}' has no {what}", transient=False)
        return value


def base_url(host: str | None, schema: str | None, port: int | None, conn_type: str | None = None) -> str:
    """The API's base URL from an Airflow connection: `host` may be a whole URL; else scheme
    (`schema`: http or https, default https), host and port."""
    host = (host or "").strip()
    if "://" in host:
        return host.rstrip("/")
    if not host:
        return ""
    scheme = schema if schema in ("http", "https") else "https"
    return f"{scheme}://{host}{f':{port}' if port else ''}"


def _mask(secret: str) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # outside an Airflow installation (never in a task)
        return
    mask_secret(secret)


class Authenticator:
    """Adds credentials to a request. `can_refresh`: a 401 is worth one more try with a new token."""

    can_refresh = False

    def apply(self, client: HttpClient, headers: dict[str, str], params: dict[str, object]) -> None:
        raise NotImplementedError

    def invalidate(self) -> None:
        """Forget a cached token (the API refused it)."""


class NoAuthenticator(Authenticator):
    def apply(self, client, headers, params) -> None:
        return None


class ApiKeyAuthenticator(Authenticator):
    def __init__(self, config: ApiKeyAuth, creds: Credentials) -> None:
        self.config = config
        self.key = creds.require("password (the API key)", creds.password)

    def apply(self, client, headers, params) -> None:
        if self.config.inject_into == "header":
            headers[self.config.name] = self.config.prefix + self.key
        else:
            params[self.config.name] = self.key


class BearerAuthenticator(Authenticator):
    def __init__(self, creds: Credentials) -> None:
        self.token = creds.require("password (the bearer token)", creds.password)

    def apply(self, client, headers, params) -> None:
        headers["Authorization"] = f"Bearer {self.token}"


class BasicAuthenticator(Authenticator):
    def __init__(self, creds: Credentials) -> None:
        pair = f"{creds.require('login', creds.login)}:{creds.password}".encode()
        self.header = "Basic " + base64.b64encode(pair).decode("ascii")
        _mask(self.header)

    def apply(self, client, headers, params) -> None:
        headers["Authorization"] = self.header


class OAuth2Authenticator(Authenticator):
    """Client credentials or refresh token grant; the token is cached until shortly before it expires.

    `token_response` is the last token answer (Marketing Cloud puts its REST base URL there).
    `tokens_fetched` counts token requests (the tests check a mid-run refresh).
    """

    can_refresh = True

    def __init__(
        self,
        config: OAuth2ClientCredentials | OAuth2RefreshToken,
        creds: Credentials,
        *,
        token_url: str | None = None,
        scopes: list[str] | None = None,
    ) -> None:
        self.config = config
        self.creds = creds
        url = token_url or config.token_url or creds.extras.get("token_url")
        if not url:
            raise ConnectionCheckError(
                f"OAuth 2.0 needs a token URL: set connector.auth.token_url or the extra `token_url` "
                f"of connection '{creds.conn_id}'",
                transient=False,
            )
        self.token_url = url
        self.scopes = scopes if scopes is not None else list(config.scopes)
        self.refresh_token = creds.extras.get("refresh_token", "")
        if config.type == "oauth2_refresh_token":
            creds.require("extra `refresh_token`", self.refresh_token)
        else:
            creds.require("login (the client id)", creds.login)
            creds.require("password (the client secret)", creds.password)
        self.access_token: str | None = None
        self.expires_at = 0.0
        self.token_response: dict = {}
        self.tokens_fetched = 0

    def _body(self) -> dict[str, str]:
        body: dict[str, str] = {}
        if self.config.type == "oauth2_refresh_token":
            body["grant_type"] = "refresh_token"
            body["refresh_token"] = self.refresh_token
        else:
            body["grant_type"] = "client_credentials"
        if self.creds.login:
            body["client_id"] = self.creds.login
        if self.creds.password:
            body["client_secret"] = self.creds.password
        if self.scopes:
            body["scope"] = " ".join(self.scopes)
        body.update(self.config.extra_body)
        return body

    def fetch(self, client: HttpClient) -> None:
        body = self._body()
        sent = {"json": body} if self.config.body_format == "json" else {"data": body}
        try:
            response = client.request("POST", self.token_url, authenticated=False, **sent)
        except HttpApiError as exc:
            raise HttpApiError(
                f"OAuth token request failed: {exc}", status=exc.status, endpoint=exc.endpoint
            ) from exc
        try:
            answer = response.json()
            token = answer["access_token"]
        except (ValueError, KeyError, TypeError):
            raise HttpApiError(
                f"OAuth token endpoint {self.token_url} answered without an `access_token`", status=None
            ) from None
        _mask(token)
        if answer.get("refresh_token"):  # rotated refresh tokens: use the new one for the rest of the read
            self.refresh_token = answer["refresh_token"]
            _mask(self.refresh_token)
        try:
            lifetime = float(answer.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        self.access_token = token
        self.expires_at = time.monotonic() + lifetime
        self.token_response = {k: v for k, v in answer.items() if k not in ("access_token", "refresh_token")}
        self.tokens_fetched += 1

    def token(self, client: HttpClient) -> str:
        if (
            self.access_token is None
            or time.monotonic() >= self.expires_at - self.config.refresh_before_seconds
        ):
            self.fetch(client)
        return self.access_token  # type: ignore[return-value]

    def apply(self, client, headers, params) -> None:
        headers["Authorization"] = f"Bearer {self.token(client)}"

    def invalidate(self) -> None:
        self.access_token = None


def make_authenticator(config, creds: Credentials) -> Authenticator:
    """The authenticator for an `auth:` section."""
    kind = config.type
    if kind == "none":
        return NoAuthenticator()
    if kind == "api_key":
        return ApiKeyAuthenticator(config, creds)
    if kind == "bearer":
        return BearerAuthenticator(creds)
    if kind == "basic":
        return BasicAuthenticator(creds)
    if kind in ("oauth2_client_credentials", "oauth2_refresh_token"):
        return OAuth2Authenticator(config, creds)
    raise ValueError(f"unknown auth type '{kind}'")
