"""SIGKILL of the inlet mid-stream: no acknowledged event is lost, none is loaded twice.

Four client threads send batches of 100 events (unique messageIds) while the inlet process is
killed with SIGKILL; batches without an answer are sent again after a restart, as the official
clients retry them (some were logged before the kill: the micro-batch drops them by messageId).
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import requests

from tests.pipeline.harness import run_pipeline


def _lake_ids(table: str) -> list[str]:
    from deltalake import DeltaTable

    from headwater import settings

    return DeltaTable(f"{settings.lake_uri()}/{table}").to_pyarrow_table(columns=["event_id"]).column(0).to_pylist()


def test_sigkill_mid_stream_loses_no_acknowledged_event(inlet_env) -> None:
    key = inlet_env.key("demo_web")
    inlet = inlet_env.inlet().start()
    acked: list[int] = []
    unanswered: list[int] = []
    lock = threading.Lock()
    counter = iter(range(1_000_000))
    stop = threading.Event()

    def batch(n: int) -> dict:
        return {"batch": [{"type": "track", "userId": f"u{n}", "event": "E", "messageId": f"b{n}-{i}", "properties": {"pad": "x" * 800}} for i in range(100)]}

    def sender(url: str) -> None:
        session = requests.Session()
        while not stop.is_set():
            with lock:
                n = next(counter)
            try:
                answer = session.post(f"{url}/v1/batch", json=batch(n), auth=(key, ""), timeout=30)
                ok = answer.status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                (acked if ok else unanswered).append(n)
            if not ok:
                return

    threads = [threading.Thread(target=sender, args=(inlet.url,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    inlet.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert len(acked) >= 20 and unanswered, (len(acked), unanswered)

    # the clients retry what got no answer, against the restarted inlet
    inlet = inlet_env.inlet().start()
    try:
        for n in unanswered:
            answer = requests.post(f"{inlet.url}/v1/batch", json=batch(n), auth=(key, ""), timeout=30)
            assert answer.status_code == 200, answer.text
    finally:
        inlet.stop()

    result = run_pipeline(inlet_env.dag("demo_web_events"), "after-crash")
    assert not result.failures, result.failures
    ids = _lake_ids("web_events")
    doubled = [i for i, c in Counter(ids).items() if c > 1]
    assert doubled == []
    expected = {f"b{n}-{i}" for n in acked + unanswered for i in range(100)}
    assert set(ids) == expected
