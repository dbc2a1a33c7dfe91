"""Stop a read that has stalled: shut down the connection's socket when no data came for too long.

libpq (under ADBC) waits for the server in C and retries its `poll()` when a signal interrupts it,
so neither a Python socket timeout nor Airflow's `execution_timeout` (a SIGALRM handler, which
only runs once the C call returns) can end a read from a server that stopped answering. TCP
keepalives do not help either while the server's kernel still answers. The watchdog thread
shuts the socket down instead: the driver's next `recv` returns, the read fails with the
driver's "connection closed" error, and the task is retried.
"""

from __future__ import annotations

import os
import socket
import threading
import time


def tcp_socket_fds() -> set[int]:
    """File descriptors of this process's TCP sockets (to find the one a driver just opened)."""
    import psutil

    return {c.fd for c in psutil.Process().net_connections(kind="tcp") if c.fd != -1}


class StallWatchdog:
    """Shut down `fds` once `timeout` seconds pass without a `kick()`.

    :param fds: the connection's socket file descriptors (see `tcp_socket_fds`).
    :param timeout: seconds without progress before the read counts as stalled.
    """

    def __init__(self, fds: set[int], timeout: float) -> None:
        self.timeout = timeout
        self.stalled = False
        self._fds = set(fds)
        self._last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="headwater-stall-watchdog", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._last = time.monotonic()

    def close(self) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(max(0.05, self._last + self.timeout - time.monotonic())):
            if time.monotonic() - self._last >= self.timeout:
                self.stalled = True
                for fd in self._fds:
                    _shutdown(fd)
                return


def _shutdown(fd: int) -> None:
    try:
        # A duplicate shares the socket: shutting it down wakes the driver's blocked read, while
        # the driver still owns (and later closes) the original descriptor.
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()
