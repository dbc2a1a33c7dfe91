"""Permanent or transient: whether retrying a failed task can help.

A permanent failure (missing table or column, bad credentials, permission denied, missing bucket,
container or path, unknown host, an invalid config found at run time) fails the task at once; a
transient one (reset or timed-out connection, a server restarting, 5xx, throttling, lock timeouts,
deadlocks, serialization failures) is raised as is, so Airflow retries it with backoff.

The verdict comes from driver exception classes, SQLSTATE, MySQL error numbers, SQLite result codes
and HTTP status, never from message text. The exception chain (`raise ... from`) is walked from
the outside in, and the first link with a verdict decides; a Headwater error that wraps a transient
driver error is transient. What nothing recognises is treated as transient: it is retried, as
before this module existed.

Imported at DAG parse time (through the operators): driver modules are looked up in `sys.modules`
(an exception of a driver means its module is loaded), never imported here.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Iterator

PERMANENT = "permanent"
TRANSIENT = "transient"

# SQLSTATE classes (first two characters) and codes. PostgreSQL, MySQL and MariaDB share them.
_SQLSTATE_TRANSIENT_CLASSES = {
    "08",
    "40",
    "53",
    "57",
    "58",
}  # connection, rollback, resources, operator, system
_SQLSTATE_TRANSIENT = {"55P03", "55006", "HYT00", "HYT01"}  # lock not available, object in use, timeouts
_SQLSTATE_PERMANENT_CLASSES = {"0A", "22", "25", "28", "2B", "3D", "3F", "42", "44"}

# MySQL / MariaDB error numbers (server ER_* and client CR_*).
_MYSQL_TRANSIENT = {
    1040,  # ER_CON_COUNT_ERROR: too many connections
    1053,  # ER_SERVER_SHUTDOWN
    1152,  # ER_ABORTING_CONNECTION
    1158,
    1159,
    1160,
    1161,  # network read/write errors and timeouts
    1205,  # ER_LOCK_WAIT_TIMEOUT
    1213,  # ER_LOCK_DEADLOCK
    1317,  # ER_QUERY_INTERRUPTED
    1927,  # ER_CONNECTION_KILLED (MariaDB)
    2002,
    2003,  # CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR (refused: server down or restarting)
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST
    2055,  # CR_SERVER_LOST_EXTENDED
    3024,  # ER_QUERY_TIMEOUT (max_execution_time)
    4031,  # ER_CLIENT_INTERACTION_TIMEOUT
}
_MYSQL_PERMANENT = {
    1044,
    1045,  # access denied to database / for user
    1049,  # unknown database
    1054,  # unknown column
    1064,  # syntax error
    1142,
    1143,  # command / column denied
    1146,  # no such table
    1227,  # needs a privilege
    1792,  # write in a read-only transaction
    2005,  # CR_UNKNOWN_HOST
}

# SQLite primary result codes (extended codes carry them in the low byte).
_SQLITE_TRANSIENT = {5, 6, 10}  # BUSY, LOCKED, IOERR
_SQLITE_PERMANENT = {1, 3, 8, 11, 14, 23, 26}  # ERROR, PERM, READONLY, CORRUPT, CANTOPEN, AUTH, NOTADB

# HTTP: what a later attempt can get past.
_HTTP_TRANSIENT = {408, 425, 429}
_S3_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    # The object changed or vanished between listing and reading: a retried select lists afresh.
    "PreconditionFailed",
    "NoSuchKey",
}
_AZURE_TRANSIENT_CODES = {
    "BlobNotFound",
    "ConditionNotMet",
    "ServerBusy",
    "OperationTimedOut",
    "InternalError",
}

_ERRNO_TRANSIENT = {
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.ENETRESET,
    errno.EAGAIN,
}
_ERRNO_PERMANENT = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR}


def classify(exc: BaseException) -> str:
    """PERMANENT or TRANSIENT for a failure raised by a stage."""
    return _first_verdict(exc) or TRANSIENT


def is_permanent(exc: BaseException) -> bool:
    return classify(exc) == PERMANENT


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def _first_verdict(exc: BaseException) -> str | None:
    """The verdict of the outermost recognised link of the chain, or None if none is recognised."""
    for link in _chain(exc):
        verdict = _verdict(link)
        if verdict is not None:
            return verdict
    return None


def _verdict(exc: BaseException) -> str | None:
    for check in (_headwater, _pydantic, _adbc, _mysql, _sqlite, _botocore, _google, _azure, _paramiko, _httpx, _os):
        verdict = check(exc)
        if verdict is not None:
            return verdict
    return None


def _headwater(exc: BaseException) -> str | None:
    from headwater.errors import ConnectionCheckError, HeadwaterError, SourceInterrupted

    if not isinstance(exc, HeadwaterError):
        return None
    cause = _first_verdict(exc.__cause__) if exc.__cause__ is not None else None
    if isinstance(exc, SourceInterrupted):
        return cause or TRANSIENT
    if isinstance(exc, ConnectionCheckError) and exc.transient is not None:
        return TRANSIENT if exc.transient else PERMANENT
    # An HTTP API's answer after the client's own retries (connectors/http/errors.py): its status
    # decides as for any HTTP error, so 429 and 5xx are retried by the task too, 401/403/404 are not.
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return _http(status)
    # e.g. activation's DeliveryFailed: the destination said whether waiting can help
    if isinstance(getattr(exc, "transient", None), bool):
        return TRANSIENT if exc.transient else PERMANENT
    # Our messages say what to fix, but one that wraps a dropped connection is not the user's to fix.
    return TRANSIENT if cause == TRANSIENT else PERMANENT


def _pydantic(exc: BaseException) -> str | None:
    module = sys.modules.get("pydantic")
    if module is not None and isinstance(exc, module.ValidationError):
        return PERMANENT  # a config checked at run time (a hand-built operator's arguments)
    return None


def _sqlstate(state: str | None) -> str | None:
    if not state or len(state) != 5:
        return None
    if state in _SQLSTATE_TRANSIENT:
        return TRANSIENT
    if state[:2] in _SQLSTATE_TRANSIENT_CLASSES:
        return TRANSIENT
    if state[:2] in _SQLSTATE_PERMANENT_CLASSES:
        return PERMANENT
    return None


def _adbc(exc: BaseException) -> str | None:
    module = sys.modules.get("adbc_driver_manager")
    if module is None or not isinstance(exc, module.Error):
        return None
    verdict = _sqlstate(getattr(exc, "sqlstate", None))
    if verdict is not None:
        return verdict
    code = module.AdbcStatusCode
    status = getattr(exc, "status_code", None)
    if status in (code.IO, code.TIMEOUT, code.CANCELLED):
        return TRANSIENT
    if status in (code.NOT_FOUND, code.UNAUTHENTICATED, code.UNAUTHORIZED, code.INVALID_ARGUMENT):
        return PERMANENT
    return None


def _mysql(exc: BaseException) -> str | None:
    module = sys.modules.get("mysql.connector.errors")
    mysqldb = sys.modules.get("MySQLdb")
    if module is not None and isinstance(exc, module.Error):
        number = exc.errno
        if number in _MYSQL_TRANSIENT:
            return TRANSIENT
        if number in _MYSQL_PERMANENT:
            return PERMANENT
        verdict = _sqlstate(exc.sqlstate)
        if verdict is not None:
            return verdict
        if isinstance(exc, module.ProgrammingError | module.NotSupportedError):
            return PERMANENT
        if isinstance(exc, module.OperationalError | module.InterfaceError):
            return TRANSIENT
        return None
    if (
        mysqldb is not None
        and isinstance(exc, mysqldb.MySQLError)
        and exc.args
        and isinstance(exc.args[0], int)
    ):
        if exc.args[0] in _MYSQL_TRANSIENT:
            return TRANSIENT
        if exc.args[0] in _MYSQL_PERMANENT:
            return PERMANENT
    return None


def _sqlite(exc: BaseException) -> str | None:
    module = sys.modules.get("sqlite3")
    if module is None or not isinstance(exc, module.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    if code & 0xFF in _SQLITE_TRANSIENT:
        return TRANSIENT
    if code & 0xFF in _SQLITE_PERMANENT:
        return PERMANENT
    return None


def _http(status: int | None) -> str | None:
    if status is None:
        return None
    if status in _HTTP_TRANSIENT or status >= 500:
        return TRANSIENT
    if 400 <= status < 500:
        return PERMANENT
    return None


def _botocore(exc: BaseException) -> str | None:
    module = sys.modules.get("botocore.exceptions")
    if module is None:
        return None
    if isinstance(exc, module.ClientError):
        error = exc.response.get("Error", {})
        if error.get("Code") in _S3_TRANSIENT_CODES:
            return TRANSIENT
        return _http(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    if isinstance(
        exc, module.NoCredentialsError | module.PartialCredentialsError | module.ParamValidationError
    ):
        return PERMANENT
    if isinstance(exc, module.HTTPClientError | module.ConnectionError):
        return TRANSIENT  # endpoint unreachable, connection closed, read or connect timeout
    return None


def _google(exc: BaseException) -> str | None:
    api = sys.modules.get("google.api_core.exceptions")
    if api is not None:
        if isinstance(exc, api.RetryError):
            return TRANSIENT
        if isinstance(exc, api.GoogleAPICallError):
            return _http(exc.code)
    auth = sys.modules.get("google.auth.exceptions")
    if auth is not None and isinstance(exc, auth.TransportError):
        return TRANSIENT
    if auth is not None and isinstance(exc, auth.DefaultCredentialsError | auth.RefreshError):
        return PERMANENT
    requests = sys.modules.get("requests.exceptions")
    if requests is not None and isinstance(exc, requests.ConnectionError | requests.Timeout):
        return TRANSIENT
    return None


def _azure(exc: BaseException) -> str | None:
    module = sys.modules.get("azure.core.exceptions")
    if module is None:
        return None
    if isinstance(exc, module.ServiceRequestError | module.ServiceResponseError):
        return TRANSIENT
    if isinstance(exc, module.HttpResponseError):
        code = getattr(exc, "error_code", None)
        if getattr(code, "value", code) in _AZURE_TRANSIENT_CODES:
            return TRANSIENT
        return _http(exc.status_code)
    return None


def _paramiko(exc: BaseException) -> str | None:
    module = sys.modules.get("paramiko")
    if module is None:
        return None
    if isinstance(exc, module.AuthenticationException | module.BadHostKeyException):
        return PERMANENT
    if isinstance(exc, module.ssh_exception.NoValidConnectionsError):
        return TRANSIENT  # refused on every address: the server is down or restarting
    if isinstance(exc, module.SSHException):
        return TRANSIENT  # banner/protocol failures, "Server connection dropped", channel closed
    return None


def _httpx(exc: BaseException) -> str | None:
    module = sys.modules.get("httpx")
    if module is None:
        return None
    if isinstance(exc, module.HTTPStatusError):
        return _http(exc.response.status_code)
    if isinstance(exc, module.InvalidURL | module.UnsupportedProtocol):
        return PERMANENT  # a base URL that cannot work (checked first: UnsupportedProtocol is a TransportError)
    if isinstance(exc, module.TimeoutException | module.TransportError):
        return TRANSIENT  # refused, reset, timed out: a later attempt can get through
    return None


def _os(exc: BaseException) -> str | None:
    if isinstance(exc, socket.gaierror):
        # EAI_AGAIN: the resolver is unreachable for now; any other: the name does not exist.
        return TRANSIENT if exc.errno == socket.EAI_AGAIN else PERMANENT
    if isinstance(exc, TimeoutError | ConnectionError | EOFError):
        return TRANSIENT
    if isinstance(exc, OSError):
        if exc.errno in _ERRNO_TRANSIENT:
            return TRANSIENT
        if exc.errno in _ERRNO_PERMANENT:
            return PERMANENT
    return None
