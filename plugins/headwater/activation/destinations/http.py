"""HTTP with retries for the HTTP destinations: backoff on 5xx and timeouts, `Retry-After` on 429.

A 4xx other than 408/429 is the destination refusing the request: it is returned, not retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from .base import DeliveryFailed

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 300.0


def request_with_retries(client: Any, method: str, url: str, *, max_attempts: int, base_delay: float = 0.5,
                         sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> Any:
    import httpx

    last = ""
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:  # refused, reset, timeout: nothing was acknowledged
            last = f"{type(exc).__name__}: {exc}"
            wait = _backoff(attempt, base_delay)
        else:
            if response.status_code not in RETRY_STATUS:
                return response
            last = f"HTTP {response.status_code}: {response.text[:200]}"
            wait = _retry_after(response) if response.status_code == 429 else None
            wait = wait if wait is not None else _backoff(attempt, base_delay)
        if attempt < max_attempts:
            sleep(wait)
    raise DeliveryFailed(f"{method} {url} failed after {max_attempts} attempt(s): {last}")


def _backoff(attempt: int, base: float) -> float:
    # exponential with full jitter: retries of many batches do not arrive in lockstep
    return random.uniform(0, base * 2 ** (attempt - 1))


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER_S)
