"""Secrets out of text that Headwater stores or sends: run records, alerts, error XComs.

Airflow masks connection passwords and sensitive extras in task logs, but only in what goes
through its loggers; run records, XComs and alert payloads are written by our own code. So the
same masker is applied here (it knows every secret the task's connections registered), and,
because a driver may echo a value in a form the masker was not given (a libpq URI with the
password percent-encoded, a `password=...` DSN), credentials in URLs and `key=value` pairs are
cut out by pattern as well.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# scheme://user:password@host → scheme://user:***@host (the password may be percent-encoded)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):(?P<secret>[^@\s/]*)@")
# password=..., "password": "...", pwd='...' as drivers print DSNs and option dicts
_KEY_VALUE = re.compile(
    r"(?P<head>(?i:\b(?:password|passwd|pwd|passphrase|secret|token|api_key|apikey|access_key|secret_key|"
    r"private_key|sslpassword|authorization)\b)['\"]?\s*[=:]\s*)"
    r"(?P<secret>(?i:(?:bearer|basic)\s+)?(?:\"[^\"]*\"|'[^']*'|[^\s,;&)}\]]+))"
)


def redact(text: str | None) -> str | None:
    """`text` with every known secret and every credential-looking part replaced by ***."""
    if not text:
        return text
    text = _airflow_redact(text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _KEY_VALUE.sub(lambda m: m["head"] + MASK, text)


def redact_values(value: Any) -> Any:
    """`redact` applied to every string inside dicts and lists (an alert payload, an XCom)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(v) for v in value]
    return value


def _airflow_redact(text: str) -> str:
    try:
        from airflow.sdk.log import redact as masker_redact
    except ImportError:  # outside an Airflow installation (never in a task)
        return text
    redacted = masker_redact(text)
    return redacted if isinstance(redacted, str) else text
