"""Google API errors of a BigQuery source, in words a person can act on.

Which IAM role to grant is read from the permission BigQuery names in its 403 message; a missing
dataset or table names the closest existing ones (the lookup is passed in by the hook).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from headwater.errors import ConnectionCheckError, SelectionError

# The permission BigQuery says is missing -> the predefined role that grants it (and where).
ROLE_FOR_PERMISSION = {
    "bigquery.jobs.create": "roles/bigquery.jobUser on the project that runs the jobs",
    "bigquery.readsessions.create": "roles/bigquery.readSessionUser on the project (Storage Read API)",
    "bigquery.readsessions.getData": "roles/bigquery.readSessionUser on the project (Storage Read API)",
    "bigquery.tables.getData": "roles/bigquery.dataViewer on the dataset or table",
    "bigquery.tables.get": "roles/bigquery.dataViewer (or metadataViewer) on the dataset or table",
    "bigquery.tables.list": "roles/bigquery.dataViewer (or metadataViewer) on the dataset",
    "bigquery.datasets.get": "roles/bigquery.dataViewer (or metadataViewer) on the dataset",
}
DEFAULT_ROLES = "roles/bigquery.dataViewer on the dataset and roles/bigquery.jobUser on the project"
_PERMISSION = re.compile(r"bigquery\.[a-zA-Z]+\.[a-zA-Z]+")

NETWORK = (
    "cannot reach the BigQuery API at {endpoint}{conn}: connection refused, unknown host or timed out — "
    "is the network (proxy, firewall, VPN) open from the worker?"
)


def first_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__


def closest(name: str, candidates: list[str], what: str) -> str:
    """`…; datasets with a similar name: a, b` or how many there are."""
    by_lower = {c.lower(): c for c in candidates}
    similar = [by_lower[c] for c in difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)]
    if similar:
        return f"{what}s with a similar name: {', '.join(similar)}"
    shown = ", ".join(sorted(candidates)[:10]) + (", ..." if len(candidates) > 10 else "")
    return f"no {what} with a similar name ({len(candidates)} {what}s visible{': ' + shown if candidates else ''})"


def missing_role(exc: BaseException) -> str:
    found = _PERMISSION.findall(first_message(exc)) + _PERMISSION.findall(str(exc))
    for permission in found:
        if permission in ROLE_FOR_PERMISSION:
            return f"it lacks {permission}: grant {ROLE_FOR_PERMISSION[permission]}"
    return f"grant {DEFAULT_ROLES}"


def translate(
    exc: BaseException,
    *,
    conn: str,
    endpoint: str,
    not_found: Callable[[BaseException], Exception],
) -> Exception | None:
    """The Headwater error for a Google client error, or None to let it through unchanged."""
    from google.api_core import exceptions as api
    from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    note = f" (connection '{conn}')"
    if isinstance(exc, (RefreshError, DefaultCredentialsError, api.Unauthorized, api.Unauthenticated)):
        return ConnectionCheckError(
            f"BigQuery rejected the credentials of connection '{conn}': {first_message(exc)} — check key_path "
            "or keyfile_dict in its extra (an expired or deleted service-account key fails this way)",
            transient=False,
        )
    if isinstance(exc, (api.Forbidden, api.PermissionDenied)):
        reasons = {e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict)}
        if reasons & {"quotaExceeded", "rateLimitExceeded"}:
            return ConnectionCheckError(f"BigQuery quota exceeded{note}: {first_message(exc)}", transient=True)
        return ConnectionCheckError(
            f"permission denied by BigQuery{note}: {first_message(exc)}; {missing_role(exc)} "
            "to the connection's service account",
            transient=False,
        )
    if isinstance(exc, api.NotFound):
        return not_found(exc)
    if isinstance(exc, api.BadRequest):
        return SelectionError(f"BigQuery refused the read{note}: {first_message(exc)}")
    if isinstance(
        exc,
        (RequestsConnectionError, Timeout, TransportError, api.RetryError, api.ServiceUnavailable, api.DeadlineExceeded),
    ):
        return ConnectionCheckError(NETWORK.format(endpoint=endpoint, conn=note), transient=True)
    return None
