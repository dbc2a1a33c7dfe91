"""A Marketing Cloud REST API stand-in (protocol level) on the stand-in server.

Speaks the documented shapes: `POST /v2/token` on the auth base URL (JSON body with grant_type,
client_id, client_secret, account_id; the answer names `rest_instance_url`), and the data extension
rowset `GET /data/v1/customobjectdata/key/<key>/rowset?$page=N&$pageSize=M[&$filter=...]` whose
items are `{"keys": {...}, "values": {...}}` with dates written `M/D/YYYY h:mm:ss AM`. The REST
base is the same server under `/rest`, so a wrong base would 404.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

from .standin import Reply, Request, StandIn

CLIENT_ID, CLIENT_SECRET, MID = "mc-client", "mc-secret-4444", "5150"
KEY = "Loyalty_Members"


def member(i: int, modified: datetime) -> dict:
    return {
        "keys": {"subscriberkey": f"SK{i:03d}"},
        "values": {
            "emailaddress": f"member{i}@example.com",
            "firstname": f"Member{i}",
            "tier": "gold" if i % 2 else "silver",
            "modifieddate": modified.strftime("%-m/%-d/%Y %-I:%M:%S %p"),
        },
    }


class MarketingCloudApi:
    def __init__(self, api: StandIn, rows: list[dict], *, token_seconds: int = 1080) -> None:
        self.api = api
        self.rows = rows
        self.token_seconds = token_seconds
        self.tokens: set[str] = set()
        self.counter = itertools.count(1)
        self.data_calls = 0
        self.throttle: set[int] = set()
        self.revoke_at: int | None = None
        self.rowset = f"/rest/data/v1/customobjectdata/key/{KEY}/rowset"
        api.route("POST", "/v2/token", self.token)
        api.route("GET", self.rowset, self.rowset_page)

    def token(self, request: Request) -> Reply:
        body = request.json()
        if body.get("grant_type") != "client_credentials" or (
            body.get("client_id"),
            body.get("client_secret"),
        ) != (CLIENT_ID, CLIENT_SECRET):
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Client authentication failed.",
                    "error_uri": "https://developer.salesforce.com",
                },
            )
        if body.get("account_id") != MID:
            return Reply(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "account_id is not a business unit of this client",
                },
            )
        token = f"mc{next(self.counter)}"
        self.tokens.add(token)
        return Reply(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_seconds,
                "scope": "data_extensions_read",
                "soap_instance_url": f"{self.api.url}/soap/",
                "rest_instance_url": f"{self.api.url}/rest/",
            },
        )

    def rowset_page(self, request: Request) -> Reply:
        self.data_calls += 1
        if self.revoke_at == self.data_calls:
            self.tokens.clear()
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return Reply(
                401,
                {
                    "documentation": "https://developer.salesforce.com/docs",
                    "errorcode": 0,
                    "message": "Not Authorized",
                },
            )
        if self.data_calls in self.throttle:
            return Reply(429, {"message": "Too many requests", "errorcode": 0}, {"Retry-After": "1"})
        q = request.query
        page, size = int(q.get("$page", 1)), int(q.get("$pageSize", 2500))
        rows = self.rows
        if "$filter" in q:
            m = re.fullmatch(r"(\w+) gte '([^']+)'", q["$filter"])
            if not m:
                return Reply(400, {"message": f"Invalid filter: {q['$filter']}", "errorcode": 10000})
            field, since = m.group(1), datetime.fromisoformat(m.group(2))
            rows = [r for r in rows if datetime.strptime(r["values"][field], "%m/%d/%Y %I:%M:%S %p") >= since]
        items = rows[(page - 1) * size : page * size]
        links = {"self": f"/v1/customobjectdata/token/abc/rowset?$page={page}"}
        if page * size < len(rows):
            links["next"] = f"/v1/customobjectdata/token/abc/rowset?$page={page + 1}"
        return Reply(
            200,
            {
                "links": links,
                "requestToken": "abc",
                "tokenExpireDateUtc": "2030-01-01T00:00:00",
                "customObjectId": "de-id",
                "customObjectKey": KEY,
                "pageSize": size,
                "page": page,
                "count": len(rows),
                "top": 0,
                "items": items,
            },
        )
