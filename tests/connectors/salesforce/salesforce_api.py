"""A Salesforce REST / Bulk API 2.0 stand-in (protocol level) over HTTPS on loopback.

No local Salesforce exists, so this speaks the documented shapes the connector uses: the OAuth 2.0
client credentials token endpoint of a My Domain (`POST .../services/oauth2/token`, client id and
secret in a Basic header, answer with `access_token` and `instance_url`), `sobjects/<object>/describe`,
`query` / `queryAll` with `q` (a small SOQL subset: field list or `COUNT()`, `FROM`, `AND`-joined
`<field> >= <datetime>` / `<field> != null`, `ORDER BY`), `batchSize` from `Sforce-Query-Options`,
pages through `nextRecordsUrl`, `Sforce-Limit-Info: api-usage=N/15000` on each response, error
bodies as a list of `{"message", "errorCode"}` (401 `INVALID_SESSION_ID`, 429
`REQUEST_LIMIT_EXCEEDED`), and Bulk API 2.0 query jobs (create, poll `InProgress` then
`JobComplete`, CSV results paged by `Sforce-Locator`). simple-salesforce forces https, so the
server has a self-signed certificate for IP 127.0.0.1 made here.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import re
import ssl
from pathlib import Path

from tests.connectors.http.standin import Reply, Request, StandIn

CLIENT_ID, CLIENT_SECRET = "sf-consumer-key-1111", "sf-consumer-secret-2222"
VERSION = "62.0"
DATA = f"/services/data/v{VERSION}"
TOKEN_PATH = "/mydomain.salesforce.com/services/oauth2/token"
FIELDS = {
    "Id": "id",
    "FirstName": "string",
    "LastName": "string",
    "Email": "email",
    "Phone": "phone",
    "MailingCountry": "string",
    "NumberOfPurchases__c": "double",
    "IsDeleted": "boolean",
    "SystemModstamp": "datetime",
    "LastModifiedDate": "datetime",
}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate (SAN IP:127.0.0.1) and its key, written to `directory`."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sf.crt", directory / "sf.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _Routes(dict):
    """Exact routes, and `(method, "/prefix/*")` routes for paths with ids in them."""

    def get(self, key, default=None):
        if key in self:
            return self[key]
        method, path = key
        for (m, p), handler in self.items():
            if m == method and p.endswith("*") and path.startswith(p[:-1]):
                return handler
        return default


class HttpsStandIn(StandIn):
    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__()
        self.routes = _Routes()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = self.url.replace("http://", "https://")


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def contact(i: int, stamp: str, *, deleted: bool = False, purchases: float | None = 1.0) -> dict:
    return {
        "Id": f"003{i:015d}",
        "FirstName": f"First{i}",
        "LastName": f"Last{i}",
        "Email": f"c{i}@example.com",
        "Phone": None,
        "MailingCountry": "DE",
        "NumberOfPurchases__c": purchases,
        "IsDeleted": deleted,
        "SystemModstamp": stamp,
        "LastModifiedDate": stamp,
    }


class SalesforceApi:
    def __init__(self, api: HttpsStandIn, records: list[dict]) -> None:
        self.api = api
        self.records = records
        self.tokens: set[str] = set()
        self.token_counter = itertools.count(1)
        self.calls = 0  # data calls (not token requests)
        self.throttle: set[int] = set()  # data call numbers answered 429
        self.expire_at: int | None = None  # data call number at which every session expires
        self.cursors: dict[str, list[dict]] = {}
        self.jobs: dict[str, dict] = {}
        self.soql: list[str] = []
        api.route("POST", TOKEN_PATH, self.token)
        api.route("GET", f"{DATA}/sobjects/*", self.describe)
        api.route("GET", f"{DATA}/query", self.query)
        api.route("GET", f"{DATA}/queryAll", self.query)
        api.route("GET", f"{DATA}/query/*", self.more)
        api.route("POST", f"{DATA}/jobs/query", self.create_job)
        api.route("GET", f"{DATA}/jobs/query/*", self.job)

    # -- auth and the common checks ----------------------------------------------------------------
    def token(self, request: Request) -> Reply:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if (
            request.headers.get("authorization") != f"Basic {basic}"
            or request.form().get("grant_type") != "client_credentials"
        ):
            return Reply(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        token = f"00D-session-{next(self.token_counter)}"
        self.tokens.add(token)
        return Reply(
            200,
            {
                "access_token": token,
                "instance_url": self.api.url,
                "token_type": "Bearer",
                "issued_at": "1764700000000",
                "signature": "x",
            },
        )

    def _gate(self, request: Request) -> Reply | None:
        self.calls += 1
        if self.expire_at is not None and self.calls >= self.expire_at:
            self.tokens.clear()
            self.expire_at = None
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return Reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        if self.calls in self.throttle:
            return Reply(
                429,
                [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                {"Retry-After": "0"},
            )
        return None

    def _limits(self, reply: Reply) -> Reply:
        reply.headers["Sforce-Limit-Info"] = f"api-usage={self.calls}/15000"
        return reply

    # -- REST --------------------------------------------------------------------------------------
    def describe(self, request: Request) -> Reply:
        if (refused := self._gate(request)) is not None:
            return refused
        name = request.path.split("/")[-2]
        if name != "Contact":
            return Reply(
                404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
            )
        return self._limits(
            Reply(200, {"name": "Contact", "fields": [{"name": n, "type": t} for n, t in FIELDS.items()]})
        )

    def _select(self, soql: str, include_deleted: bool) -> tuple[list[str] | None, list[dict]]:
        self.soql.append(soql)
        m = re.fullmatch(r"SELECT (.+?) FROM (\w+)(?: WHERE (.+?))?(?: ORDER BY (\w+))?", soql)
        assert m, soql
        fields, _obj, where, order = m.groups()
        rows = [r for r in self.records if include_deleted or not r["IsDeleted"]]
        for cond in re.split(r" AND ", where or ""):
            cond = cond.strip().strip("()")
            if not cond:
                continue
            c = re.fullmatch(r"(\w+) (>=|!=) (\S+)", cond)
            assert c, cond
            field, op, value = c.groups()
            if op == "!=":
                rows = [r for r in rows if r.get(field) is not None]
            else:
                rows = [r for r in rows if instant(r[field].replace("+0000", "+00:00")) >= instant(value)]
        if order:
            rows.sort(key=lambda r: r[order])
        if fields == "COUNT()":
            return None, rows
        names = [f.strip() for f in fields.split(",")]
        return names, [{"attributes": {"type": "Contact"}, **{n: r.get(n) for n in names}} for r in rows]

    def _page(self, rows: list[dict], size: int) -> Reply:
        page, rest = rows[:size], rows[size:]
        body = {"totalSize": len(rows), "done": not rest, "records": page}
        if rest:
            locator = f"01gQUERY{len(self.cursors)}-{size}"
            self.cursors[locator] = rest
            body["nextRecordsUrl"] = f"{DATA}/query/{locator}"
        return self._limits(Reply(200, body))

    def query(self, request: Request) -> Reply:
        if (refused := self._gate(request)) is not None:
            return refused
        names, rows = self._select(request.query["q"], request.path.endswith("queryAll"))
        if names is None:
            return self._limits(Reply(200, {"totalSize": len(rows), "done": True, "records": []}))
        m = re.search(r"batchSize=(\d+)", request.headers.get("sforce-query-options", ""))
        return self._page(rows, int(m.group(1)) if m else 2000)

    def more(self, request: Request) -> Reply:
        if (refused := self._gate(request)) is not None:
            return refused
        locator = request.path.rsplit("/", 1)[1]
        rows = self.cursors.pop(locator)
        size = int(locator.rsplit("-", 1)[1])
        page, rest = rows[:size], rows[size:]
        body = {"totalSize": len(rows), "done": not rest, "records": page}
        if rest:
            nxt = f"01gQUERY{len(self.cursors) + 100}-{size}"
            self.cursors[nxt] = rest
            body["nextRecordsUrl"] = f"{DATA}/query/{nxt}"
        return self._limits(Reply(200, body))

    # -- Bulk API 2.0 ------------------------------------------------------------------------------
    def create_job(self, request: Request) -> Reply:
        if (refused := self._gate(request)) is not None:
            return refused
        spec = request.json()
        names, rows = self._select(spec["query"], spec["operation"] == "queryAll")
        job_id = f"750JOB{len(self.jobs) + 1:012d}"
        self.jobs[job_id] = {"names": names, "rows": rows, "polls": 0}
        return self._limits(
            Reply(
                200,
                {
                    "id": job_id,
                    "operation": spec["operation"],
                    "object": "Contact",
                    "state": "UploadComplete",
                    "contentType": "CSV",
                },
            )
        )

    def job(self, request: Request) -> Reply:
        if (refused := self._gate(request)) is not None:
            return refused
        parts = request.path.split("/")
        job = self.jobs[parts[parts.index("query") + 1]]
        if parts[-1] != "results":
            job["polls"] += 1
            state = "InProgress" if job["polls"] < 2 else "JobComplete"
            return self._limits(
                Reply(200, {"id": parts[-1], "state": state, "numberRecordsProcessed": len(job["rows"])})
            )
        start = int(request.query.get("locator") or 0)
        size = int(request.query["maxRecords"])
        page = job["rows"][start : start + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(job["names"])
        for row in page:
            writer.writerow(
                [
                    "" if row[n] is None else str(row[n]).lower() if isinstance(row[n], bool) else row[n]
                    for n in job["names"]
                ]
            )
        locator = str(start + size) if start + size < len(job["rows"]) else "null"
        return self._limits(
            Reply(
                200,
                raw=out.getvalue().encode(),
                headers={
                    "Content-Type": "text/csv",
                    "Sforce-Locator": locator,
                    "Sforce-NumberOfRecords": str(len(page)),
                },
            )
        )


@contextlib.contextmanager
def salesforce_org(tmp_path: Path, monkeypatch, conn_id: str):
    """A stand-in org with no records yet and the Airflow connection `conn_id` to it."""
    cert, key = self_signed(tmp_path)
    # the provider's login (requests) and the data client both trust the CA bundle named here
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with HttpsStandIn(cert, key) as server:
        host = server.url.removeprefix("https://")
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps(
                {
                    "conn_type": "salesforce",
                    "extra": {
                        "consumer_key": CLIENT_ID,
                        "consumer_secret": CLIENT_SECRET,
                        # simple-salesforce posts to https://<domain>.salesforce.com/services/oauth2/token
                        # (a My Domain such as `acme.my`); here that is a path on the stand-in
                        "domain": f"{host}/mydomain",
                        "version": VERSION,
                    },
                }
            ),
        )
        yield SalesforceApi(server, [])
