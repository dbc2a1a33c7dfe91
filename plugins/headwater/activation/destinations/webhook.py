"""`webhook`: JSON batches POSTed to an endpoint, signed with HMAC-SHA256 over the body.

Body: `{"audience", "destination", "batch_key", "signals": [{op, profile_id, identity,
variables?, idempotency_key}]}`. Headers: `X-Headwater-Signature: sha256=<hex>` (configurable name;
the key is the connection's password), `Idempotency-Key: <batch_key>` (the same signals always
give the same key). A 2xx acknowledges the whole batch; a body `{"rejected": [{"idempotency_key",
"reason"}]}` refuses some signals for good (the rest are acknowledged); another 4xx refuses the
batch; 5xx, timeouts and 429 (`Retry-After`) are retried with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from .base import DeliveryFailed, DestinationHook, Outcome, connection, payload
from .http import request_with_retries
from .registry import sends_variables


class WebhookHook(DestinationHook):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        conn = connection(self.config.conn_id)
        scheme = conn.schema or "https"
        host = (conn.host or "").rstrip("/")
        if "://" not in host:
            host = f"{scheme}://{host}"
        port = f":{conn.port}" if conn.port else ""
        self.url = f"{host}{port}/{self.config.path.lstrip('/')}"
        self._secret = (conn.password or "").encode()
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.config.timeout_s, trust_env=False)
        return self._client

    def check(self) -> None:
        if not self._secret:
            raise DeliveryFailed(f"connection {self.config.conn_id!r} has no password: it is the HMAC signing secret", transient=False)

    def send(self, op: str, batch: list[dict]) -> Outcome:
        variables = sends_variables(self.config)
        batch_key = hashlib.sha256("".join(s["key"] for s in batch).encode()).hexdigest()[:32]
        body = json.dumps({
            "audience": self.audience, "destination": self.config.name, "batch_key": batch_key,
            "signals": [payload(s, variables=variables) for s in batch],
        }, separators=(",", ":")).encode()
        signature = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", self.config.signature_header: f"sha256={signature}",
                   "Idempotency-Key": batch_key}
        response = request_with_retries(self.client, "POST", self.url, content=body, headers=headers,
                                        max_attempts=self.config.max_attempts)
        if 200 <= response.status_code < 300:
            rejected = _rejected(response)
            return Outcome(acked=[s for s in batch if s["key"] not in rejected],
                           rejected=[(s, rejected[s["key"]]) for s in batch if s["key"] in rejected])
        reason = f"HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code in (401, 403, 404):  # configuration, not data: every batch would fail
            raise DeliveryFailed(f"POST {self.url}: {reason}", transient=False)
        return Outcome(rejected=[(s, reason) for s in batch])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _rejected(response: Any) -> dict[str, str]:
    try:
        data = response.json()
    except ValueError:
        return {}
    items = data.get("rejected") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return {}
    return {str(i.get("idempotency_key")): str(i.get("reason", "rejected")) for i in items if isinstance(i, dict)}
