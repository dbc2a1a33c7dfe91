"""The two log backends on their own: torn writes, checksums, rotation, retention (segments);
consumer groups, reclaim of a dead worker's entries, XACK only on release (Redis)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from headwater.inlet.log import open_log
from headwater.inlet.segment_log import SegmentLog, _frame
from tests.services import require_service


def _events(n: int, start: int = 0) -> list[dict]:
    return [{"messageId": f"m{i}", "type": "track", "receivedAt": "2026-12-03T10:00:00.000Z"} for i in range(start, start + n)]


def test_a_writer_killed_mid_record_leaves_nothing_half_readable(segments_env) -> None:
    log = SegmentLog(segments_env.home / "inlet" / "log")
    log.append("s", _events(3))
    log.close()
    # another process appends one whole record and half of the next, and is SIGKILLed
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from headwater.inlet.segment_log import _Writer, _frame\n"
        "w = _Writer(Path(sys.argv[1]))\n"
        "whole = _frame(b'{\"messageId\":\"m3\",\"type\":\"track\"}')\n"
        "half = _frame(b'{\"messageId\":\"m4\",\"type\":\"track\"}')\n"
        "os.write(w.fd, whole + half[: len(half) // 2])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    child = subprocess.run([sys.executable, "-c", code, str(log.folder("s"))], env=segments_env.process_env())
    assert child.returncode == -signal.SIGKILL
    result = log.read("s", "c", None, 100)
    assert [e["messageId"] for e in result.events] == ["m0", "m1", "m2", "m3"]
    assert any("torn record" in note for note in result.notes)
    # read to its end and closed: both segments leave the position
    assert result.position["offsets"] == {} and result.position["done_before"]
    # the next writer starts a segment of its own; nothing is appended after the torn tail
    log.append("s", _events(1, start=5))
    again = log.read("s", "c", result.position, 100)
    assert [e["messageId"] for e in again.events] == ["m5"]
    log.close()


def test_a_record_with_a_wrong_checksum_is_never_read(segments_env) -> None:
    log = SegmentLog(segments_env.home / "inlet" / "log")
    log.append("s", _events(1))
    log.close()
    segment = next(log.folder("s").iterdir())
    good = _frame(b'{"messageId":"ok"}')
    with open(segment, "ab") as handle:
        handle.write(b"00000000 " + b'{"messageId":"forged"}\n' + good)
    result = log.read("s", "c", None, 100)
    assert [e["messageId"] for e in result.events] == ["m0", "ok"]
    assert any("wrong checksum" in note for note in result.notes)


def test_segments_rotate_by_size_and_age_and_reads_page_through(segments_env, monkeypatch) -> None:
    monkeypatch.setenv("HEADWATER_INLET_SEGMENT_BYTES", "400")
    log = SegmentLog(segments_env.home / "inlet" / "log")
    for i in range(10):
        log.append("s", _events(2, start=2 * i))
    assert len(list(log.folder("s").iterdir())) >= 5
    position, seen = None, []
    while True:
        result = log.read("s", "c", position, 3)
        if not result.events:
            break
        seen += [e["messageId"] for e in result.events]
        position = result.position
    assert seen == [f"m{i}" for i in range(20)]
    assert log.backlog("s", "c", position).events == 0
    assert log.backlog("s", "c", None).events == 20
    monkeypatch.setenv("HEADWATER_INLET_SEGMENT_SECONDS", "0")
    log.append("s", _events(1, start=20))  # past its age: a new segment
    monkeypatch.setenv("HEADWATER_INLET_RETENTION_SECONDS", "0")
    before = len(list(log.folder("s").iterdir()))
    log.release("s", "c", position)  # finished, closed segments go; the active one stays
    left = sorted(log.folder("s").iterdir())
    assert len(left) < before and left
    assert [e["messageId"] for e in log.read("s", "c", position, 10).events] == ["m20"]
    log.close()


@pytest.fixture
def redis_log(tmp_path, monkeypatch):
    from tests.inlet.conftest import REDIS_DB, _flush_redis

    require_service("Redis", "127.0.0.1", 6379)
    monkeypatch.setenv("HEADWATER_INLET_REDIS_URL", f"redis://127.0.0.1:6379/{REDIS_DB}")
    _flush_redis()
    log = open_log("redis")
    yield log
    log.close()
    _flush_redis()


def test_redis_reclaims_a_dead_workers_entries_and_acks_only_on_release(redis_log) -> None:
    from headwater.inlet.redis_log import stream_key

    redis_log.append("s", _events(5))
    key = stream_key("s")
    redis_log.client.xgroup_create(key, "src", id="0")
    # a worker took three entries and died before acknowledging them
    redis_log.client.xreadgroup("src", "dead-worker", {key: ">"}, count=3)
    result = redis_log.read("s", "src", None, 100)
    assert [e["messageId"] for e in result.events] == [f"m{i}" for i in range(5)]
    pending = redis_log.client.xpending(key, "src")
    assert pending["pending"] == 5  # read, not acknowledged: the load has not committed
    # a run that died before its commit: the next read replays the same entries
    assert [e["messageId"] for e in redis_log.read("s", "src", None, 100).events] == [f"m{i}" for i in range(5)]
    redis_log.release("s", "src", result.position)
    assert redis_log.client.xpending(key, "src")["pending"] == 0
    redis_log.append("s", _events(1, start=5))
    assert redis_log.backlog("s", "src", result.position).events == 1
    assert [e["messageId"] for e in redis_log.read("s", "src", result.position, 100).events] == ["m5"]


def test_redis_log_full_and_limits(redis_log, monkeypatch) -> None:
    from headwater.inlet.log import LogFull

    monkeypatch.setenv("HEADWATER_INLET_REDIS_MAX_EVENTS", "3")
    redis_log.append("s", _events(3))
    time.sleep(1.1)  # the length is looked at again at most once a second
    with pytest.raises(LogFull):
        redis_log.append("s", _events(1))
    assert redis_log.read("s", "src", None, 2).position["last_id"]
