"""`customerio`: the Customer.io Track API (https://track.customer.io/api/v1).

- add: identify each person (`PUT /customers/{id}` with the variables as attributes), then
  `POST /segments/{segment_id}/add_customers` `{"ids": [...]}` (at most 1000 per call);
- modify: identify with the new attributes;
- remove: `POST /segments/{segment_id}/remove_customers`.
The person's id is the destination's identity; with `identity: email` the segment calls pass
`id_type=email`. Basic auth: site id (connection login) and Track API key (password). Customer.io
takes no idempotency key, but every call sets state (identify, segment membership), so a repeat
after a lost acknowledgment changes nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from .base import DeliveryFailed, DestinationHook, Outcome, connection
from .http import request_with_retries
from .registry import sends_variables

DEFAULT_BASE = "https://track.customer.io"


class CustomerIoHook(DestinationHook):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        conn = connection(self.config.conn_id)
        base = (conn.host or DEFAULT_BASE).rstrip("/")
        if "://" not in base:
            base = f"{conn.schema or 'https'}://{base}" + (f":{conn.port}" if conn.port else "")
        self.base = f"{base}/api/v1"
        self._auth = (conn.login or "", conn.password or "")
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=30.0, auth=self._auth, trust_env=False)
        return self._client

    def check(self) -> None:
        if not all(self._auth):
            raise DeliveryFailed(f"connection {self.config.conn_id!r} needs login (site id) and password (Track API key)", transient=False)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = request_with_retries(self.client, method, f"{self.base}{path}", max_attempts=6, **kwargs)
        if response.status_code in (401, 403):
            raise DeliveryFailed(f"Customer.io refused the credentials of {self.config.conn_id!r} (HTTP {response.status_code})", transient=False)
        return response

    def send(self, op: str, batch: list[dict]) -> Outcome:
        out = Outcome()
        identified = batch
        if op in ("add", "modify"):
            identified = []
            for s in batch:
                attributes = json.loads(s["variables"]) if sends_variables(self.config) and s["variables"] else {}
                if self.config.identity == "email":
                    attributes["email"] = s["identity"]
                r = self._call("PUT", f"/customers/{quote(s['identity'], safe='')}", json=attributes)
                if 200 <= r.status_code < 300:
                    identified.append(s)
                else:
                    out.rejected.append((s, f"identify: HTTP {r.status_code}: {r.text[:200]}"))
            if op == "modify":
                out.acked += identified
                return out
        if not identified:
            return out
        action = "add_customers" if op == "add" else "remove_customers"
        params = {"id_type": "email"} if self.config.identity == "email" else {}
        r = self._call("POST", f"/segments/{self.config.segment_id}/{action}", params=params,
                       json={"ids": [s["identity"] for s in identified]})
        if 200 <= r.status_code < 300:
            out.acked += identified
        else:
            out.rejected += [(s, f"{action}: HTTP {r.status_code}: {r.text[:200]}") for s in identified]
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
