"""`salesforce_marketing_cloud`: rows of a data extension through the Marketing Cloud REST API.

Auth: OAuth 2 client credentials, `POST {auth_base}/v2/token` (client id = connection login,
secret = password, auth base = host; extra `account_id` optional) → `access_token` and
`rest_instance_url`. add/modify: `POST {rest}/hub/v1/dataevents/key:{key}/rowset` with
`[{"keys": {"profile_id": ...}, "values": {"identity", <variables>, "in_audience": true}}]` (an
upsert; at most 2500 rows per call here). remove: the same upsert with `"in_audience": false`:
the REST API has no documented row delete (deletes go through SOAP), so a member who leaves stays
in the data extension marked out of the audience; filter on `in_audience` in Marketing Cloud.
The token is fetched again when it expires or is refused once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .base import DeliveryFailed, DestinationHook, Outcome, connection
from .http import request_with_retries
from .registry import sends_variables


class SfmcHook(DestinationHook):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        conn = connection(self.config.conn_id)
        base = (conn.host or "").rstrip("/")
        if "://" not in base:
            base = f"{conn.schema or 'https'}://{base}" + (f":{conn.port}" if conn.port else "")
        self.auth_base = base
        self._client_id, self._secret = conn.login or "", conn.password or ""
        self._account = (conn.extra_dejson or {}).get("account_id")
        self._token: str | None = None
        self._expires = 0.0
        self.rest_base = ""
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=60.0, trust_env=False)
        return self._client

    def _authenticate(self) -> None:
        body = {"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._secret}
        if self._account:
            body["account_id"] = self._account
        r = request_with_retries(self.client, "POST", f"{self.auth_base}/v2/token", json=body, max_attempts=4)
        if r.status_code != 200:
            raise DeliveryFailed(f"Marketing Cloud refused the client credentials of {self.config.conn_id!r} (HTTP {r.status_code})",
                                 transient=r.status_code >= 500)
        data = r.json()
        self._token = data["access_token"]
        self._expires = time.monotonic() + float(data.get("expires_in", 1080)) - 60
        self.rest_base = data["rest_instance_url"].rstrip("/")

    def check(self) -> None:
        self._authenticate()

    def send(self, op: str, batch: list[dict]) -> Outcome:
        rows = []
        for s in batch:
            values = json.loads(s["variables"]) if sends_variables(self.config) and s["variables"] and op != "remove" else {}
            rows.append({"keys": {"profile_id": s["profile_id"]},
                         "values": {**values, "identity": s["identity"], "in_audience": op != "remove"}})
        for attempt in range(2):
            if self._token is None or time.monotonic() > self._expires:
                self._authenticate()
            url = f"{self.rest_base}/hub/v1/dataevents/key:{self.config.data_extension_key}/rowset"
            r = request_with_retries(self.client, "POST", url, json=rows, max_attempts=6,
                                     headers={"Authorization": f"Bearer {self._token}"})
            if r.status_code == 401 and attempt == 0:  # expired early: one new token, once
                self._token = None
                continue
            break
        if 200 <= r.status_code < 300:
            return Outcome(acked=list(batch))
        if r.status_code in (401, 403, 404):
            raise DeliveryFailed(f"{url}: HTTP {r.status_code}: {r.text[:200]}", transient=False)
        return Outcome(rejected=[(s, f"HTTP {r.status_code}: {r.text[:200]}") for s in batch])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
