"""The error an HTTP request ends with once its retries are spent, worded for a person.

It names the endpoint (method and URL without the query string, which may carry an API key), the
status and the message the API put in the body; the text passes through `redact` so a body that
echoes a credential does not carry it into a log, an XCom or the run record. `status` lets
`headwater.failures` decide: 408, 425, 429 and 5xx are transient (the task is retried), any other
4xx is permanent (bad credentials, a missing entity: retrying cannot help).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

from headwater.errors import HeadwaterError
from headwater.redact import redact

_MAX_MESSAGE = 300


class HttpApiError(HeadwaterError):
    """A request failed for good. `status` is None when no response came (timeouts, refused)."""

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(redact(message))
        self.status = status
        self.endpoint = endpoint


def endpoint(method: str, url: str) -> str:
    """`GET https://host/path`: the query string and any user info left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{method} {urlunsplit((parts.scheme, host, parts.path, '', ''))}"


def body_message(text: str) -> str:
    """The API's own words from an error body: `error_description`, `message`, `error.message`..."""
    text = (text or "").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return _short(text)
    found = _find_message(body)
    return _short(found if found is not None else text)


def _find_message(body: object) -> str | None:
    if isinstance(body, list) and body:
        return _find_message(body[0])
    if not isinstance(body, dict):
        return None
    for key in ("error_description", "message", "Message", "detail", "title", "errorMessage", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, (dict, list)):  # OData: {"error": {"code": ..., "message": ...}}
            inner = _find_message(value)
            if inner:
                return inner
    errors = body.get("errors")
    return _find_message(errors) if errors else None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"
