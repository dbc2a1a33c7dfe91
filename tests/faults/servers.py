"""Servers the fault tests own (and may kill or freeze): a PostgreSQL cluster and a TCP fault proxy.

The PostgreSQL cluster is initdb'd as the `postgres` user (via runuser) into a temp folder and
started on a free port; the proxy forwards 127.0.0.1:<port> to a real server and can be frozen
(stop forwarding, keep every socket open: a server that stops answering) or made to drop every
connection (a reset mid-read), at the TCP level, so it works in front of any protocol.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.services import free_port, reachable


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: integration services are required)")
    pytest.skip(reason)


def _pg_bin() -> Path | None:
    base = Path("/usr/lib/postgresql")
    versions = sorted(base.iterdir(), key=lambda p: int(p.name)) if base.is_dir() else []
    return versions[-1] / "bin" if versions else None


class OwnPostgres:
    """A throwaway PostgreSQL cluster (trust auth) on a free port; `stop()` removes it."""

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        if bin_dir is None or shutil.which("runuser") is None:
            unavailable("PostgreSQL server binaries (initdb) or runuser are missing")
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="hw-pg-"))
        os.chmod(self.root, 0o777)
        self.data = self.root / "data"
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            text=True,
        )

    def start(self) -> None:
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "log"),
                "-w",
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            log = (self.root / "log").read_text()[-1500:]
            raise RuntimeError(f"PostgreSQL did not start: {exc.stdout}{exc.stderr}\n{log}") from exc
        deadline = time.monotonic() + 20
        while not reachable("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {(self.root / 'log').read_text()[-800:]}")
            time.sleep(0.1)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends: the server dies mid-whatever."""
        pid = self.postmaster_pid()
        for victim in [*_children(pid), pid]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:  # a short-lived child already gone
                pass
        deadline = time.monotonic() + 10
        while reachable("127.0.0.1", self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        # What a crashed postmaster leaves behind and a new one refuses to start over.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        for lock in self.root.glob(".s.PGSQL.*"):
            lock.unlink(missing_ok=True)

    def backends(self) -> list[int]:
        return _children(self.postmaster_pid())

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class FaultProxy:
    """TCP proxy 127.0.0.1:`port` → `target`, with faults switched on and off by the test.

    - `freeze()`: stop moving bytes either way; sockets stay open (a stalled server or network).
    - `thaw()`: move bytes again.
    - `drop()`: reset every open connection (RST) — a server or link dying mid-read.
    - `refuse(True)`: new connections are closed at once, as while the server is down.
    - `drop_after(n)`: reset a connection once it has sent `n` bytes to the client (once).
    - `freeze_after(n)`: freeze once a connection has sent `n` bytes to the client (once).
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._frozen = threading.Event()
        self._refusing = False
        self._drop_after: int | None = None
        self._freeze_after: int | None = None
        self.frozen_at: float | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.connections = 0
        self.bytes_to_client = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def refuse(self, on: bool) -> None:
        self._refusing = on

    def drop_after(self, n: int | None) -> None:
        self._drop_after = n

    def freeze_after(self, n: int | None) -> None:
        self._freeze_after = n

    def drop(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _reset(sock)

    def close(self) -> None:
        self._closed = True
        self.thaw()
        self.drop()
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._refusing:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            self.connections += 1
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, to_client: bool) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if to_client and self._freeze_after is not None and sent + len(data) >= self._freeze_after:
                    self._freeze_after = None
                    self.frozen_at = time.monotonic()
                    self._frozen.set()
                while self._frozen.is_set() and not self._closed:
                    time.sleep(0.02)
                limit = self._drop_after
                if to_client and limit is not None and sent + len(data) >= limit:
                    self._drop_after = None
                    dst.sendall(data[: max(0, limit - sent)])
                    _reset(src)
                    _reset(dst)
                    return
                dst.sendall(data)
                sent += len(data)
                if to_client:
                    self.bytes_to_client += len(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER) if sock.fileno() != -1 else True:
                    continue  # being reset: no orderly FIN
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER on, 0 s), as a dying peer or a middlebox would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Wake a pump thread blocked in recv() (SHUT_RD sends nothing); the socket is released,
        # with the RST, once that recv() returns.
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()


class HttpFaultProxy:
    """HTTP reverse proxy 127.0.0.1:`port` → `target_url` that answers with errors when told to.

    A protocol-level stand-in for an object store having a bad time (moto has no fault injection
    of its own): `fail(n, status, code)` answers the next `n` matching requests with an S3-style
    error document; `cut(n_bytes)` sends the next matching GET's headers and only `n_bytes` of its
    body, then resets the connection. `matching` is a substring of the request path, or "" for all.
    """

    def __init__(self, target_url: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        target = urlsplit(target_url)
        proxy = self
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self._faults: list[dict] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _any(self) -> None:
                import http.client

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy._take(self.command, self.path)
                if fault and "status" in fault:
                    proxy.requests.append((self.command, self.path, fault["status"]))
                    payload = (
                        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{fault["code"]}</Code>'
                        f"<Message>injected fault</Message></Error>"
                    ).encode()
                    self.send_response(fault["status"])
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"{target.hostname}:{target.port}"
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                proxy.requests.append((self.command, self.path, response.status))
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in (
                        "transfer-encoding",
                        "connection",
                        "content-length",
                        "date",
                        "server",
                    ):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if fault and "cut" in fault:
                    self.wfile.write(data[: fault["cut"]])
                    self.wfile.flush()
                    _reset(self.connection)
                    self.close_connection = True
                    return
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, n: int, status: int, code: str, *, matching: str = "", method: str | None = None) -> None:
        with self._lock:
            self._faults.append(
                {"left": n, "status": status, "code": code, "matching": matching, "method": method}
            )

    def cut(self, n_bytes: int, *, matching: str) -> None:
        with self._lock:
            self._faults.append({"left": 1, "cut": n_bytes, "matching": matching, "method": "GET"})

    def heal(self) -> None:
        """The store recovers: drop every fault not used up yet."""
        with self._lock:
            self._faults.clear()

    def _take(self, method: str, path: str) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["left"] > 0 and fault["matching"] in path and fault["method"] in (None, method):
                    fault["left"] -= 1
                    return fault
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
