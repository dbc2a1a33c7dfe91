"""Local services the integration tests need, and the rule for when one is missing.

PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) run on these machines. When one is
unreachable its tests are skipped with the reason, except in CI (env `CI` set), where they fail:
an integration test never passes by not running.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if reachable(host, port):
        return
    reason = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: integration services are required)")
    pytest.skip(reason)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
