"""A Dataverse Web API stand-in (protocol level) on the stand-in server.

Speaks the documented shapes: Microsoft identity platform client-credentials token endpoint
(`POST /<tenant>/oauth2/v2.0/token`, form body, scope `<environment URL>/.default`), entity sets at
`/api/data/v9.2/<set>` with `$select`, `$filter` (`and`-joined `<column> eq <n>` and
`modifiedon ge <instant>`), `Prefer: odata.maxpagesize=N` paging through `@odata.nextLink` with a
`$skiptoken`, `@odata.etag` on each row, FormattedValue annotations when the Prefer header asks,
OData error bodies (`{"error": {"code", "message"}}`), and 429 with `Retry-After` when told to.
Change tracking as documented: `Prefer: odata.track-changes` puts an `@odata.deltaLink` (with a
`$deltatoken`) on the last page; calling it returns rows changed since, plus
`{"@odata.context": ".../$metadata#contacts/$deletedEntity", "id", "reason": "deleted"}` for rows
removed since; a token in `expired` is answered with the given error status.
"""

from __future__ import annotations

import copy
import itertools
import re
from urllib.parse import urlencode

from .standin import Reply, Request, StandIn

TENANT, APP_ID, APP_SECRET = "tenant-1111", "app-2222", "dv-secret-3333"
FORMATTED = "OData.Community.Display.V1.FormattedValue"
GENDER = {1: "Male", 2: "Female"}


def contact(i: int, modified: str, *, state: int = 0, gender: int = 1) -> dict:
    return {
        "contactid": f"00000000-0000-0000-0000-{i:012d}",
        "fullname": f"Contact {i}",
        "emailaddress1": f"contact{i}@example.com",
        "gendercode": gender,
        "statecode": state,
        "modifiedon": modified,
    }


def _condition(text: str):
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if " and " in text:
        parts = [_condition(p) for p in text.split(" and ")]
        return lambda row: all(p(row) for p in parts)
    m = re.fullmatch(r"(\w+) (eq|ge) (.+)", text)
    if not m:
        raise ValueError(text)
    column, op, value = m.groups()
    if op == "eq":
        return lambda row: row.get(column) == int(value)
    return lambda row: row.get(column) >= value


class DataverseApi:
    def __init__(self, api: StandIn, contacts: list[dict]) -> None:
        self.api = api
        self.contacts = contacts
        self.tokens: set[str] = set()
        self.counter = itertools.count(1)
        self.data_calls = 0
        self.throttle: set[int] = set()  # data request numbers answered 429
        self.revoke_at: int | None = None  # data request number at which every token is revoked
        self.snapshots: dict[str, list[dict]] = {}  # delta token -> the rows as they were then
        self.expired: dict[str, int] = {}  # delta token -> error status it is answered with
        api.route("POST", f"/{TENANT}/oauth2/v2.0/token", self.token)
        api.route("GET", "/api/data/v9.2/contacts", self.entity_set)
        api.route(
            "GET",
            "/api/data/v9.2/contactz",
            lambda r: Reply(
                404,
                {
                    "error": {
                        "code": "0x80060888",
                        "message": "Resource not found for the segment 'contactz'.",
                    }
                },
            ),
        )

    def token(self, request: Request) -> Reply:
        form = request.form()
        if (form.get("client_id"), form.get("client_secret")) != (APP_ID, APP_SECRET):
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        if form.get("scope") != f"{self.api.url}/.default" or form.get("grant_type") != "client_credentials":
            return Reply(
                400, {"error": "invalid_scope", "error_description": f"bad scope {form.get('scope')}"}
            )
        token = f"dv{next(self.counter)}"
        self.tokens.add(token)
        return Reply(
            200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    def entity_set(self, request: Request) -> Reply:
        self.data_calls += 1
        if self.revoke_at == self.data_calls:
            self.tokens.clear()
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return Reply(
                401,
                {"error": {"code": "0x80072560", "message": "The user is not a member of the organization."}},
                {"WWW-Authenticate": "Bearer"},
            )
        if self.data_calls in self.throttle:
            return Reply(
                429,
                {
                    "error": {
                        "code": "0x80072322",
                        "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                    }
                },
                {"Retry-After": "1"},
            )
        q = request.query
        if "$deltatoken" in q:
            return self.delta(q)
        prefer = request.headers.get("prefer", "")
        size = (
            int(re.search(r"odata.maxpagesize=(\d+)", prefer).group(1)) if "maxpagesize" in prefer else 5000
        )
        rows = sorted(self.contacts, key=lambda r: r["contactid"])
        if "$filter" in q:
            try:
                keep = _condition(q["$filter"])
            except ValueError:
                return Reply(
                    400,
                    {"error": {"code": "0x80060888", "message": f"Syntax error in $filter: {q['$filter']}"}},
                )
            rows = [r for r in rows if keep(r)]
        columns = q["$select"].split(",") if "$select" in q else None
        for column in columns or []:
            if column not in self.contacts[0]:
                return Reply(
                    400,
                    {
                        "error": {
                            "code": "0x80060888",
                            "message": f"Could not find a property named '{column}' on type 'Microsoft.Dynamics.CRM.contact'.",
                        }
                    },
                )
        start = int(q.get("$skiptoken", 0))
        page = rows[start : start + size]
        labels = FORMATTED in prefer
        value = []
        for row in page:
            out = {
                "@odata.etag": 'W/"1"',
                **{k: v for k, v in row.items() if columns is None or k in columns or k == "contactid"},
            }
            if labels and "gendercode" in out:
                out[f"gendercode@{FORMATTED}"] = GENDER[row["gendercode"]]
            value.append(out)
        body = {"@odata.context": f"{self.api.url}/api/data/v9.2/$metadata#contacts", "value": value}
        if start + size < len(rows):
            nxt = {k: v for k, v in q.items() if k != "$skiptoken"} | {"$skiptoken": str(start + size)}
            body["@odata.nextLink"] = f"{self.api.url}/api/data/v9.2/contacts?{urlencode(nxt)}"
        elif "odata.track-changes" in prefer:
            body["@odata.deltaLink"] = self.delta_link(q)
        return Reply(200, body, {"OData-Version": "4.0"})

    def delta_link(self, q: dict) -> str:
        token = f"{len(self.snapshots) + 1}!{len(self.contacts)}"
        self.snapshots[token] = copy.deepcopy(self.contacts)
        keep = {k: v for k, v in q.items() if k == "$select"} | {"$deltatoken": token}
        return f"{self.api.url}/api/data/v9.2/contacts?{urlencode(keep)}"

    def delta(self, q: dict) -> Reply:
        token = q["$deltatoken"]
        if token in self.expired or token not in self.snapshots:
            return Reply(
                self.expired.get(token, 400),
                {
                    "error": {
                        "code": "0x80044352",
                        "message": "Version stamp associated with the client has expired.",
                    }
                },
            )
        before = {r["contactid"]: r for r in self.snapshots[token]}
        now = {r["contactid"]: r for r in self.contacts}
        columns = q["$select"].split(",") if "$select" in q else None
        value = [
            {"@odata.etag": 'W/"2"', **{k: v for k, v in row.items() if columns is None or k in columns}}
            for key, row in sorted(now.items())
            if before.get(key) != row
        ]
        value += [
            {
                "@odata.context": f"{self.api.url}/api/data/v9.2/$metadata#contacts/$deletedEntity",
                "id": key,
                "reason": "deleted",
            }
            for key in sorted(before.keys() - now.keys())
        ]
        body = {
            "@odata.context": f"{self.api.url}/api/data/v9.2/$metadata#contacts",
            "value": value,
            "@odata.deltaLink": self.delta_link(q),
        }
        return Reply(200, body, {"OData-Version": "4.0"})
