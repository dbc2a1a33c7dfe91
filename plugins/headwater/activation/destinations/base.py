"""What every destination hook implements, and how a delivery reports what was acknowledged.

`send(op, batch)` delivers one batch of signals of one op and returns what the destination
acknowledged (indices into the batch) and what it rejected for good (index → reason). A failure
that retrying may cure, after the hook's own retries, is raised as `DeliveryFailed`: delivery stops
for that destination, everything acknowledged so far is kept, and the task fails so Airflow
retries it. `finish()` lets a hook that writes once per run (file_drop) deliver what it buffered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.errors import HeadwaterError


class DeliveryFailed(HeadwaterError):
    """The destination did not acknowledge a batch (after retries); `transient`: worth retrying later."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class Outcome:
    acked: list[dict] = field(default_factory=list)  # signals the destination acknowledged
    rejected: list[tuple[dict, str]] = field(default_factory=list)  # (signal, reason): refused for good


class DestinationHook:
    """Base of the destination hooks.

    :param config: the destination's entry of the audience file (its type's model).
    :param audience: audience name (payloads and idempotency keys carry it).
    :param run_id: the Airflow run (file names of file_drop).
    """

    def __init__(self, *, config: Any, audience: str, run_id: str = "manual") -> None:
        self.config = config
        self.audience = audience
        self.run_id = run_id

    def check(self) -> None:
        """Connect and authenticate; raise with a message saying what to fix."""

    def send(self, op: str, batch: list[dict]) -> Outcome:
        raise NotImplementedError

    def finish(self) -> Outcome:
        return Outcome()

    def close(self) -> None:
        pass


def connection(conn_id: str) -> Any:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def payload(signal: dict, *, variables: bool) -> dict:
    """The JSON form of one signal, the same for every HTTP destination."""
    import json

    out = {"op": signal["op"], "profile_id": signal["profile_id"], "identity": signal["identity"],
           "idempotency_key": signal["key"]}
    if variables:
        out["variables"] = json.loads(signal["variables"]) if signal["variables"] else {}
    if "hashed" in signal:
        out["hashed"] = signal["hashed"]
    return out
