"""One HTTP client per read: connection pooling (httpx), retries, `Retry-After`, a rate limit, call counts.

A request is retried on 408, 425, 429, 5xx, timeouts and dropped connections, waiting the
`Retry-After` the API asked for or else an exponential backoff with full jitter (so many workers
throttled at once do not come back in step). A 401 makes the authenticator fetch a new token once
(an OAuth token can expire or be revoked mid-run). What still fails raises `HttpApiError`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from .errors import HttpApiError, body_message, endpoint

if TYPE_CHECKING:
    from .auth import Authenticator
    from .models import RetryPolicy

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def retryable(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked to wait (`Retry-After`: seconds or an HTTP date), if it did."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RateLimiter:
    """At most `per_second` requests per second (evenly spaced), shared by the threads of one read."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class HttpClient:
    """Sends requests with the policy of one source; `calls` counts every request sent (retries included).

    :param base_url: URL that relative paths and links resolve against.
    :param policy: retries and backoff.
    :param auth: adds credentials to each request; None: none.
    :param rate_limit_per_second: most requests per second; None: no limit.
    :param timeout: seconds per request (connect and read).
    :param headers: sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy,
        *,
        auth: Authenticator | None = None,
        rate_limit_per_second: float | None = None,
        timeout: float = 60,
        headers: dict[str, str] | None = None,
        secrets: list[str] | None = None,
    ) -> None:
        self.base_url = base_url
        # forms of the connection's secrets, cut out of error messages: an API may echo a request
        self.secrets = list(secrets or [])
        self.policy = policy
        self.auth = auth
        self.limiter = RateLimiter(rate_limit_per_second)
        self.calls = 0
        self.retries = 0
        # trust_env=False: the worker's proxy/CA variables are not the API's business; the
        # connection says where the API is. follow_redirects for APIs that move pages.
        self._http = httpx.Client(
            timeout=timeout, headers=headers or {}, follow_redirects=True, trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def url(self, path_or_url: str) -> str:
        """An absolute URL: links from the API may be relative to the base URL."""
        if "://" in path_or_url:
            return path_or_url
        return self.base_url.rstrip("/") + "/" + path_or_url.lstrip("/") if path_or_url else self.base_url

    def error(self, message: str, *, status: int | None, where: str) -> HttpApiError:
        for secret in self.secrets:
            message = message.replace(secret, "***")
        return HttpApiError(message, status=status, endpoint=where)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.policy.max_backoff_seconds, self.policy.backoff_seconds * (2**attempt))
        return random.uniform(0, cap)  # full jitter

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send with retries; the response of a 2xx/3xx, else `HttpApiError` (endpoint, status, message)."""
        url = self.url(url)
        where = endpoint(method, url)
        attempt = 0
        refreshed = False
        while True:
            req_headers = dict(headers or {})
            req_params = dict(params or {})
            if authenticated and self.auth is not None:
                self.auth.apply(self, req_headers, req_params)
            self.limiter.wait()
            self.calls += 1
            try:
                response = self._http.request(
                    method, url, params=req_params or None, headers=req_headers, json=json, data=data
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt < self.policy.max_retries and not isinstance(exc, httpx.UnsupportedProtocol):
                    wait = self._backoff(attempt)
                    log.warning("%s: %s; retry %d in %.1fs", where, type(exc).__name__, attempt + 1, wait)
                    self._sleep(wait, attempt)
                    attempt += 1
                    continue
                raise self.error(
                    f"{where}: no response after {attempt + 1} attempt(s): {type(exc).__name__}: {exc}",
                    status=None,
                    where=where,
                ) from exc
            status = response.status_code
            if (
                status == 401
                and authenticated
                and self.auth is not None
                and not refreshed
                and self.auth.can_refresh
            ):
                log.info("%s: 401, fetching a new token and trying again", where)
                self.auth.invalidate()
                refreshed = True
                continue
            if retryable(status) and attempt < self.policy.max_retries:
                asked = retry_after(response)
                if asked is not None and asked > self.policy.max_retry_after_seconds:
                    raise self.error(
                        f"{where} answered {status} and asked to wait {asked:.0f}s, longer than "
                        f"retry.max_retry_after_seconds ({self.policy.max_retry_after_seconds:.0f}s): "
                        f"{body_message(response.text)}",
                        status=status,
                        where=where,
                    )
                wait = asked if asked is not None else self._backoff(attempt)
                log.warning("%s answered %d; retry %d in %.1fs", where, status, attempt + 1, wait)
                self._sleep(wait, attempt)
                attempt += 1
                continue
            if status >= 400:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise self.error(
                    f"{where} answered {status} {response.reason_phrase}{tries}: {body_message(response.text)}",
                    status=status,
                    where=where,
                )
            return response

    def _sleep(self, seconds: float, attempt: int) -> None:
        self.retries += 1
        time.sleep(seconds)
