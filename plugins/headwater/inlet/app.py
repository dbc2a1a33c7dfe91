"""`headwater inlet`: the HTTP service that takes Segment-spec calls and logs them durably.

Answers (the bodies are `{"success": true}` or `{"code", "message"}`, what the official clients read):
200 once the events are in the log (fsync'd / in Redis); 400 with the reason for a body the
spec does not allow or one over its limits (32 KB per call, 500 KB per batch); 401 for a missing,
unknown, expired or revoked write key; 413 + Retry-After when the stream's log is full; 429 +
Retry-After when a key sends faster than its source's `connector.rate_limit`; 503 + Retry-After
when the log cannot be written (nothing was logged; the client retries). Never 500 for bad input.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import threading
import time
import zlib
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from headwater.inlet import keys as keystore
from headwater.inlet.log import EventLog, LogFull
from headwater.inlet.spec import (
    CALLS,
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    BadRequest,
    encoded,
    events_of,
    parse_body,
    utc_now,
)

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FLUSH_SECONDS = 5.0


class Metrics:
    """Prometheus-style counters (text exposition format 0.0.4), and per-minute counts for the store."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: dict[tuple[str, tuple], float] = defaultdict(float)
        self.latency = [0] * (len(_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.minutes: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0])

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        with self.lock:
            self.counters[(name, tuple(sorted(labels.items())))] += value

    def events(self, source: str, accepted: int = 0, rejected: int = 0, reason: str = "") -> None:
        minute = utc_now().replace(second=0, microsecond=0)
        with self.lock:
            if accepted:
                self.counters[("headwater_inlet_events_accepted_total", (("source", source),))] += accepted
            if rejected:
                self.counters[("headwater_inlet_events_rejected_total", (("reason", reason), ("source", source)))] += rejected
            counts = self.minutes[(source, minute)]
            counts[0] += accepted
            counts[1] += rejected

    def observe(self, seconds: float) -> None:
        with self.lock:
            self.latency_sum += seconds
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    self.latency[i] += 1
                    break
            else:
                self.latency[-1] += 1

    def take_minutes(self) -> dict:
        with self.lock:
            taken = {k: tuple(v) for k, v in self.minutes.items()}
            self.minutes.clear()
        return taken

    def render(self) -> str:
        lines = []
        with self.lock:
            for name in sorted({n for n, _ in self.counters}):
                lines.append(f"# TYPE {name} counter")
                for (n, labels), value in sorted(self.counters.items()):
                    if n == name:
                        text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                        lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")
            lines.append("# TYPE headwater_inlet_ack_seconds histogram")
            total = 0
            for bound, count in zip((*_BUCKETS, math.inf), self.latency, strict=True):
                total += count
                le = "+Inf" if bound == math.inf else f"{bound:g}"
                lines.append(f'headwater_inlet_ack_seconds_bucket{{le="{le}"}} {total}')
            lines.append(f"headwater_inlet_ack_seconds_sum {self.latency_sum:.6f}")
            lines.append(f"headwater_inlet_ack_seconds_count {total}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RateLimiter:
    """Token bucket per write key: `rate` events/s, bursts of two seconds' worth; a batch may take the
    bucket into debt, and the key waits (429) until the debt is paid off."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, key_id: str, rate: float, events: int) -> float:
        """0 when allowed (and counted); else the seconds to wait."""
        if rate <= 0:
            return 0.0
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key_id, (2 * rate, now))
            tokens = min(2 * rate, tokens + (now - last) * rate)
            if tokens < 0:
                self.buckets[key_id] = (tokens, now)
                return -tokens / rate
            self.buckets[key_id] = (tokens - events, now)
            return 0.0


class Sources:
    """Streaming sources by name (their stream and rate limit), read from the source files again every 30 s."""

    def __init__(self, refresh: float = 30.0) -> None:
        self.refresh = refresh
        self.loaded_at = -math.inf
        self.configs: dict = {}
        self.lock = threading.Lock()

    def get(self, name: str):
        with self.lock:
            if time.monotonic() - self.loaded_at > self.refresh:
                from headwater.config.loader import load_sources

                loaded = load_sources()
                self.configs = {
                    s.dag_id: s.config.connector for s in loaded.sources if s.config.connector.type == "http_inlet"
                }
                self.loaded_at = time.monotonic()
            return self.configs.get(name)


def create_app(log: EventLog, engine, *, sources: Sources | None = None) -> FastAPI:
    """The inlet on `log`, with write keys and counts in the store behind `engine`."""
    metrics = Metrics()
    limiter = RateLimiter()
    sources = sources or Sources()

    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await _flush(engine, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        task = asyncio.create_task(flush_forever())
        try:
            yield
        finally:
            task.cancel()
            await _flush(engine, metrics)
            log.close()

    app = FastAPI(title="Headwater inlet", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.metrics = metrics

    def reject(status: int, code: str, message: str, *, source: str = "unknown", events: int = 1, retry_after: float | None = None) -> JSONResponse:
        metrics.events(source, rejected=events, reason=code)
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
        return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)

    def accept(key: str, body: dict, call: str) -> JSONResponse:
        """Key check, spec check, rate, log: in one worker thread (the key lookup and the fsync block)."""
        info = keystore.lookup(engine, key)
        if info is None:
            return reject(401, "invalid_write_key", "unknown, expired or revoked write key")
        try:
            events = encoded(events_of(body, call, utc_now()), call)
        except BadRequest as exc:
            count = len(body["batch"]) if call == "batch" and isinstance(body.get("batch"), list) else 1
            return reject(400, exc.code, str(exc), source=info.source, events=max(count, 1))
        except Exception:  # a body our checks did not foresee: still the client's 400, never a 500
            logging.getLogger(__name__).exception("unexpected error while reading a /v1/%s body", call)
            return reject(400, "unprocessable", "the inlet could not read this body (the error is in its log)", source=info.source)
        config = sources.get(info.source)
        if config is None:
            return reject(401, "invalid_write_key", f"source {info.source!r} is not a streaming source (http_inlet)", source=info.source, events=len(events))
        wait = limiter.take(info.key_id, config.rate_limit, len(events))
        if wait:
            return reject(429, "rate_limited", f"more than {config.rate_limit:g} events/s with this key", source=info.source, events=len(events), retry_after=wait)
        try:
            log.append(config.stream_name(info.source), events)
        except LogFull as exc:
            return reject(413, "log_full", str(exc), source=info.source, events=len(events), retry_after=exc.retry_after)
        except Exception as exc:  # the log is unreachable or failing: nothing was acknowledged
            return reject(503, "log_unavailable", f"the event log cannot be written now ({type(exc).__name__})", source=info.source, events=len(events), retry_after=5)
        metrics.events(info.source, accepted=len(events))
        return JSONResponse({"success": True})

    async def handle(call: str, request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            key = _basic_user(request.headers.get("authorization"))
            raw = await _read_body(request, call)
            body = parse_body(raw, call)
            if key is None:
                key = body.get("writeKey") if isinstance(body.get("writeKey"), str) else None
            if not key:
                response = reject(401, "invalid_write_key", "no write key: send it as the HTTP Basic user name or as writeKey")
            else:
                response = await run_in_threadpool(accept, key, body, call)
        except BadRequest as exc:
            response = reject(400, exc.code, str(exc))
        metrics.count("headwater_inlet_requests_total", call=call, status=str(response.status_code))
        if response.status_code == 200:
            metrics.observe(time.perf_counter() - started)
        return response

    for call in (*CALLS, "batch"):
        app.add_api_route(f"/v1/{call}", _endpoint(handle, call), methods=["POST"], name=call)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "log": log.name}

    @app.get("/metrics")
    async def metrics_text() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def _endpoint(handle, call: str):
    async def endpoint(request: Request) -> JSONResponse:
        return await handle(call, request)

    endpoint.__name__ = f"post_{call}"
    return endpoint


async def _flush(engine, metrics: Metrics) -> None:
    counts = metrics.take_minutes()
    if counts:
        try:
            await run_in_threadpool(keystore.add_counts, engine, counts)
        except Exception:  # counts for the status page only: never let them stop the inlet
            logging.getLogger(__name__).exception("cannot write the inlet's per-minute counts")


def _basic_user(header: str | None) -> str | None:
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user = decoded.partition(":")[0]
    return user or None


async def _read_body(request: Request, call: str) -> bytes:
    """The body, never more than the limit (+1 byte to tell), gunzipped when the client says so."""
    limit = MAX_BATCH_BYTES if call == "batch" else MAX_EVENT_BYTES
    gzipped = request.headers.get("content-encoding", "").lower() == "gzip"
    wire_limit = limit  # gzipped or not: a compressed body is never larger than what it holds, in practice
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > wire_limit:
        raise BadRequest("too_large", f"body is {length} bytes; the limit of /v1/{call} is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > wire_limit:
            raise BadRequest("too_large", f"body is over the limit of /v1/{call} ({limit} bytes)")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not gzipped:
        return raw
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadRequest("malformed", f"body is not valid gzip: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise BadRequest("too_large", f"body is over the limit of /v1/{call} ({limit} bytes) once unzipped")
    return data
