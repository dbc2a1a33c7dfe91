"""`ad_audience`: an ad platform's customer list in the Meta custom-audience shape.

`POST {base}/{audience_id}/users` adds and `DELETE {base}/{audience_id}/users` removes users, body
`{"payload": {"schema": "EMAIL_SHA256" | "PHONE_SHA256", "data": [<hex sha256>, ...]}}`, at most
10,000 per request (Meta's documented limit; Google Customer Match takes the same normalised,
hashed values). Identities leave Headwater only hashed (validate: email trimmed and lower-cased,
phone as E.164 digits without '+'). Bearer token: the connection's password; API base: its host
(default https://graph.facebook.com/v19.0). Adding or removing a user twice is harmless, so a repeat
after a lost acknowledgment changes nothing.
"""

from __future__ import annotations

from typing import Any

from .base import DeliveryFailed, DestinationHook, Outcome, connection
from .http import request_with_retries

DEFAULT_BASE = "https://graph.facebook.com/v19.0"
SCHEMAS = {"email": "EMAIL_SHA256", "phone": "PHONE_SHA256"}
MAX_USERS = 10_000


class AdAudienceHook(DestinationHook):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        conn = connection(self.config.conn_id)
        base = (conn.host or DEFAULT_BASE).rstrip("/")
        if "://" not in base:
            base = f"{conn.schema or 'https'}://{base}" + (f":{conn.port}" if conn.port else "")
        self.url = f"{base}/{self.config.audience_id}/users"
        self._token = conn.password or ""
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=60.0, trust_env=False, headers={"Authorization": f"Bearer {self._token}"})
        return self._client

    def check(self) -> None:
        if not self._token:
            raise DeliveryFailed(f"connection {self.config.conn_id!r} has no password (the access token)", transient=False)

    def send(self, op: str, batch: list[dict]) -> Outcome:
        if len(batch) > MAX_USERS:  # the config caps batch_size; a hand-built call must too
            raise ValueError(f"at most {MAX_USERS} users per request, got {len(batch)}")
        body = {"payload": {"schema": SCHEMAS[self.config.identity], "data": [s["hashed"] for s in batch]}}
        method = "POST" if op == "add" else "DELETE"
        response = request_with_retries(self.client, method, self.url, json=body, max_attempts=6)
        if response.status_code in (401, 403):
            raise DeliveryFailed(f"the ad platform refused the token of {self.config.conn_id!r} (HTTP {response.status_code})", transient=False)
        if 200 <= response.status_code < 300:
            return Outcome(acked=list(batch))
        return Outcome(rejected=[(s, f"HTTP {response.status_code}: {response.text[:200]}") for s in batch])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
