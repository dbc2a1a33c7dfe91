"""A public-API-shaped customers endpoint on the stand-in server (`GET /v1/customers`).

Shaped like the common REST conventions the `http_api` example documents: OAuth 2.0 client
credentials at `POST /oauth/token`, bearer tokens that expire, `updated_since` (inclusive) as the
incremental filter, and every paging style at once (page/per_page, offset/limit, an opaque cursor,
`links.next` in the body and a `Link` header). `faults` makes given request numbers answer with an
error status (429 with `Retry-After`, 500...) to exercise retries.
"""

from __future__ import annotations

import base64
import itertools
import time
from urllib.parse import urlencode

from .standin import Reply, Request, StandIn

CLIENT_ID, CLIENT_SECRET = "hw-client", "s3cr3t-value"


def customer(i: int, updated: str, country: str = "de") -> dict:
    return {
        "id": i,
        "email": f"c{i}@example.com",
        "name": {"first": f"First{i}", "last": f"Last{i}"},
        "country": country,
        "tags": ["a", "b"],
        "updated_at": updated,
    }


class CustomersApi:
    def __init__(self, api: StandIn, rows: list[dict], *, token_seconds: float = 3600) -> None:
        self.api = api
        self.rows = rows
        self.token_seconds = token_seconds
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.counter = itertools.count(1)
        self.data_calls = 0
        self.faults: dict[int, Reply] = {}  # data request number -> reply
        self.revoke_after: int | None = None  # data request number after which live tokens are revoked
        api.route("POST", "/oauth/token", self.token)
        api.route("GET", "/v1/customers", self.customers)

    def requests_since(self, value: str) -> bool:
        """Whether a data request asked for records updated since `value`."""
        return any(r.query.get("updated_since") == value for r in self.api.requests("/v1/customers"))

    def token(self, request: Request) -> Reply:
        form = request.form()
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_id"),
            form.get("client_secret"),
        ) != (CLIENT_ID, CLIENT_SECRET):
            return Reply(
                401, {"error": "invalid_client", "error_description": "client authentication failed"}
            )
        token = f"tok{next(self.counter)}"
        self.tokens[token] = time.monotonic() + self.token_seconds
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_seconds})

    def customers(self, request: Request) -> Reply:
        self.data_calls += 1
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, 0) < time.monotonic():
            return Reply(401, {"message": "token expired or invalid"})
        if self.revoke_after is not None and self.data_calls > self.revoke_after:
            self.tokens.clear()
            self.revoke_after = None
            return Reply(401, {"message": "token expired or invalid"})
        if self.data_calls in self.faults:
            return self.faults[self.data_calls]
        q = request.query
        rows = sorted(self.rows, key=lambda r: r["id"])
        if "updated_since" in q:
            since = q["updated_since"]
            rows = [r for r in rows if r["updated_at"] >= since]
        if "cursor" in q:
            start = int(base64.b64decode(q["cursor"]).decode())
            size = int(q.get("limit", 2))
        elif "offset" in q:
            start, size = int(q["offset"]), int(q.get("limit", 2))
        else:
            size = int(q.get("per_page", 2))
            start = (int(q.get("page", 1)) - 1) * size
        page = rows[start : start + size]
        more = start + size < len(rows)
        body: dict = {
            "data": page,
            "meta": {"total": len(rows), "next_cursor": None},
            "links": {"next": None},
        }
        headers = {}
        if more:
            body["meta"]["next_cursor"] = base64.b64encode(str(start + size).encode()).decode()
            nxt = {k: v for k, v in q.items() if k not in ("page", "offset", "cursor")}
            nxt.update(page=str(start // size + 2), per_page=str(size))
            link = f"{self.api.url}/v1/customers?{urlencode(nxt)}"
            body["links"]["next"] = link
            headers["Link"] = f'<{link}>; rel="next"'
        return Reply(200, body, headers)
