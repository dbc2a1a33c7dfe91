"""The production event log: one Redis stream per source stream (`headwater:inlet:<stream>`).

The inlet `XADD`s a request's events in one pipeline and answers once Redis has them (how durable
that is follows the server's persistence: `appendonly yes` + `appendfsync always` for an fsync
per write, see docs/streaming.md). Each consuming source is a consumer group named after it.
`read` first reclaims every pending entry of the group (`XPENDING` + `XCLAIM`: a worker that died
left them), acknowledges those at or before the committed position (their load committed but the run
ended before `release`), replays the rest in id order and then takes new entries (`XREADGROUP >`)
up to the limit. `release` (`XACK`) runs only after the lake and the profile store committed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from headwater import settings
from headwater.inlet.log import Backlog, EventLog, LogFull, ReadResult, encode

CONSUMER = "headwater"
_PAGE = 1000


def stream_key(stream: str) -> str:
    return f"headwater:inlet:{stream}"


class RedisLog(EventLog):
    name = "redis"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._lengths: dict[str, tuple[float, int]] = {}

    def append(self, stream: str, events: list[dict] | list[bytes]) -> None:
        key = stream_key(stream)
        if self._length(key) + len(events) > settings.inlet_redis_max_events():
            raise LogFull(f"the Redis stream of {stream!r} is full")
        pipe = self.client.pipeline(transaction=True)  # MULTI/EXEC: all of the request or none
        for event in events:
            pipe.xadd(key, {"e": encode(event)})
        pipe.execute()

    def _length(self, key: str) -> int:
        now = time.monotonic()
        seen = self._lengths.get(key)
        if seen is None or now - seen[0] > 1.0:
            seen = self._lengths[key] = (now, self.client.xlen(key))
        return seen[1]

    def _group(self, key: str, group: str) -> None:
        import redis

        try:
            self.client.xgroup_create(key, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, stream: str, consumer: str, position: dict | None, limit: int) -> ReadResult:
        key = stream_key(stream)
        self._group(key, consumer)
        committed = (position or {}).get("last_id")
        self._reclaim(key, consumer)
        if committed:
            self._ack_through(key, consumer, committed)
        events: list[dict] = []
        notes: list[str] = []
        last = committed
        # this consumer's pending entries first (a crashed run's), then new ones
        for start in ("0", ">"):
            while len(events) < limit:
                answer = self.client.xreadgroup(consumer, CONSUMER, {key: start}, count=min(_PAGE, limit - len(events)))
                entries = answer[0][1] if answer else []
                if not entries:
                    break
                for entry_id, fields in entries:
                    entry_id = entry_id.decode()
                    last = entry_id if last is None or _id(entry_id) > _id(last) else last
                    if not fields:  # trimmed away while pending
                        notes.append(f"entry {entry_id} was trimmed from the stream before it was read")
                        continue
                    events.append(json.loads(fields[b"e"]))
                if start == "0":
                    start = entries[-1][0].decode()  # pending history pages on by id
        return ReadResult(events, {"last_id": last} if last else {}, notes)

    def _reclaim(self, key: str, group: str) -> None:
        """Take over the pending entries of other consumers of the group (a worker that died)."""
        low = "-"
        while True:
            pending = self.client.xpending_range(key, group, min=low, max="+", count=_PAGE)
            if not pending:
                return
            theirs = [p["message_id"] for p in pending if p["consumer"].decode() != CONSUMER]
            if theirs:
                self.client.xclaim(key, group, CONSUMER, min_idle_time=0, message_ids=theirs, justid=True)
            low = "(" + pending[-1]["message_id"].decode()

    def _ack_through(self, key: str, group: str, last_id: str) -> None:
        while True:
            pending = self.client.xpending_range(key, group, min="-", max=last_id, count=_PAGE)
            if not pending:
                return
            self.client.xack(key, group, *[p["message_id"] for p in pending])

    def release(self, stream: str, consumer: str, position: dict | None) -> None:
        """XACK what the committed position covers; trim entries older than the retention."""
        key = stream_key(stream)
        last_id = (position or {}).get("last_id")
        if last_id:
            self._group(key, consumer)
            self._ack_through(key, consumer, last_id)
        horizon_ms = int((time.time() - settings.inlet_retention_seconds()) * 1000)
        self.client.xtrim(key, minid=f"{max(horizon_ms, 0)}-0", approximate=True)

    def backlog(self, stream: str, consumer: str, position: dict | None) -> Backlog:
        key = stream_key(stream)
        last_id = (position or {}).get("last_id") or "0-0"
        first = self.client.xrange(key, min=f"({last_id}", max="+", count=1)
        if not first:
            return Backlog(0, None)
        oldest = datetime.fromtimestamp(_id(first[0][0].decode())[0] / 1000, UTC)
        count = 0
        cursor = f"({last_id}"
        while True:  # counted in pages of ids only; a backlog is normally small
            page = self.client.xrange(key, min=cursor, max="+", count=10_000)
            count += len(page)
            if len(page) < 10_000:
                break
            cursor = "(" + page[-1][0].decode()
        return Backlog(count, oldest)

    def close(self) -> None:
        self.client.close()


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
