"""SFTP source hook: files under a folder of an SFTP server, through an Airflow `sftp` connection.

The provider's `SFTPHook` (and its `SSHHook`) reads the connection and its extras and opens the
session; this module adds listing, bounded streaming and messages that say what to fix. The
server's host key is verified by default: the connection's `host_key` extra (or the worker's
known_hosts) must hold it. `no_host_key_check: true` turns that off, and is logged as a warning.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import socket
import stat
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import paramiko
from airflow.providers.sftp.hooks.sftp import SFTPHook

from headwater.errors import ConnectionCheckError, SourceInterrupted

from .file_source import FileEntry, FileSource, static_prefix
from .models import SftpConnector
from .object_stream import SeekableStream

_WINDOW_BYTES = 8 << 20  # read ahead at most this much of a file (paramiko's prefetch is unbounded)
_PIECE_BYTES = 1 << 20
_REQUESTS_IN_FLIGHT = 64
_DEFAULT_TIMEOUT = 10
# Seconds an SFTP request may wait for its answer before the session counts as stalled (extra
# `read_timeout` overrides); paramiko otherwise waits forever on a server that stops answering.
_DEFAULT_READ_TIMEOUT = 120

REFUSED = "connection refused — is the SSH server running and the port right?"
UNKNOWN_HOST = "host name not found — check the connection's host"
TIMEOUT = "timed out — is the host reachable from the worker (firewall, VPN)?"


class SftpSourceHook(SFTPHook, FileSource):
    """
    Read files matching a glob on an SFTP server (CSV, JSON lines, JSON arrays, Parquet; compressed).

    Authentication and host keys come from the Airflow connection (`conn_id`): login with password,
    or a key (`private_key` / `key_file` extra). The `host_key` extra pins the server's key;
    without it the worker's known_hosts must know the server. Connecting is tried once
    (`conn_retry_attempts=1`): a wrong key or password does not get better by waiting, and the
    task's own retries cover network hiccups.

    :param config: the source's `connector:` section (`type: sftp`).
    :param kwargs: passed to `SFTPHook` (e.g. `conn_timeout`, `conn_retry_attempts`).
    """

    hook_name = "SFTP (Headwater)"

    def __init__(self, config: SftpConnector, **kwargs) -> None:
        kwargs.setdefault("conn_retry_attempts", 1)
        super().__init__(ssh_conn_id=config.conn_id, **kwargs)
        if self.conn_timeout is None:  # paramiko would wait forever for an unreachable host
            self.conn_timeout = _DEFAULT_TIMEOUT
        self.connector = config
        self.notes: list[str] = []
        self._next_state: dict | None = None
        self._missing_folder: str | None = None

    # -- connection ------------------------------------------------------------------------------
    def _host_port(self) -> str:
        return f"{self.remote_host}:{self.port or paramiko.config.SSH_PORT}"

    @contextmanager
    def session(self) -> Iterator[paramiko.SFTPClient]:
        """One SFTP session for the duration of the block (nested blocks share it)."""
        if self._sftp_conn is None and (self.no_host_key_check or self.allow_host_key_change):
            self.log.warning(
                "SFTP connection '%s': host key verification is OFF (extra %s); the server at %s is "
                "not authenticated, so a man-in-the-middle could read or change the files",
                self.ssh_conn_id,
                "no_host_key_check: true" if self.no_host_key_check else "allow_host_key_change: true",
                self._host_port(),
            )
        with ExitStack() as stack:
            try:
                sftp = stack.enter_context(self.get_managed_conn())
            except Exception as exc:
                raise self.connect_error(exc) from exc
            sftp.get_channel().settimeout(self._read_timeout())
            try:
                yield sftp
            except Exception:
                # The first error wins: closing a session that died may raise its own (empty) EOFError.
                closing = stack.pop_all()
                try:
                    closing.close()
                except Exception:  # noqa: BLE001, S110 - the error being raised is the one to report
                    pass
                raise

    def _read_timeout(self) -> float:
        extras = self.get_connection(self.ssh_conn_id).extra_dejson
        return float(extras.get("read_timeout", _DEFAULT_READ_TIMEOUT))

    def connect_error(self, exc: BaseException) -> ConnectionCheckError:
        """A message that says what to fix, for an exception raised while connecting."""
        where = self._host_port()
        host, port = self.remote_host, self.port or paramiko.config.SSH_PORT
        keyscan = f"ssh-keyscan -p {port} {host}" if port != paramiko.config.SSH_PORT else f"ssh-keyscan {host}"
        conn = self.ssh_conn_id
        if isinstance(exc, paramiko.BadHostKeyException):
            return ConnectionCheckError(
                f"host key of {where} CHANGED: the server presented {_describe_key(exc.key)}, but connection "
                f"'{conn}' expects {_describe_key(exc.expected_key)}. If the server's key was replaced on "
                f'purpose, update extra "host_key" ({keyscan}); otherwise do not connect: someone may be '
                "intercepting the connection",
                transient=False,
            )
        if isinstance(exc, paramiko.AuthenticationException) or (
            isinstance(exc, paramiko.SSHException) and "No authentication methods available" in str(exc)
        ):
            return ConnectionCheckError(
                f"SFTP authentication failed for user '{self.username or ''}' at {where} "
                f"(connection '{conn}'): check the password or key",
                transient=False,
            )
        if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
            return ConnectionCheckError(
                f'host key of {where} is not known: add it to connection \'{conn}\' extra "host_key" '
                f'({keyscan}; the "<type> <base64 key>" part of its output)',
                transient=False,
            )
        transient = None  # decided by `exc` (headwater.failures)
        if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError | ConnectionRefusedError):
            reason, transient = REFUSED, True
        elif isinstance(exc, socket.gaierror):
            reason = UNKNOWN_HOST
        elif isinstance(exc, TimeoutError | socket.timeout):
            reason, transient = TIMEOUT, True
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return ConnectionCheckError(
            f"cannot connect to SFTP at {where} (connection '{conn}'): {reason}", transient=transient
        )

    # -- FileSource ------------------------------------------------------------------------------
    def location(self) -> str:
        return self._url(str(self.connector.path))

    def _url(self, path: str) -> str:
        port = self.port or paramiko.config.SSH_PORT
        host = self.remote_host if port == paramiko.config.SSH_PORT else f"{self.remote_host}:{port}"
        # sftp://host/abs/path; a path relative to the login folder is written /~/rel/path
        return f"sftp://{host}{path}" if path.startswith("/") else f"sftp://{host}/~/{path}"

    def display_name(self, entry: FileEntry) -> str:
        return self._url(entry.key)

    def list_entries(self, prefix: str) -> list[FileEntry]:
        with self.session() as sftp:
            if prefix and not prefix.endswith("/"):
                attr = _stat(sftp, prefix)
                if attr is None:
                    self._missing_folder = prefix
                    return []
                if not stat.S_ISDIR(attr.st_mode or 0):
                    folder = sftp.normalize(prefix.rsplit("/", 1)[0] if "/" in prefix else ".")
                    return [_entry(prefix, attr)] if self._inside(sftp, prefix, folder) else []
                prefix += "/"
            entries: list[FileEntry] = []
            if _stat(sftp, prefix or ".") is None:
                self._missing_folder = prefix
                return []
            self._walk(sftp, prefix, entries, sftp.normalize(prefix or "."))
            return entries

    def _walk(self, sftp: paramiko.SFTPClient, folder: str, out: list[FileEntry], root: str) -> None:
        for attr in sftp.listdir_attr(folder or "."):
            key = f"{folder}{attr.filename}"
            mode = attr.st_mode or 0
            if stat.S_ISLNK(mode):  # follow links to files; links to folders could loop
                target = _stat(sftp, key)
                if target is None or not stat.S_ISREG(target.st_mode or 0):
                    continue
                if self._inside(sftp, key, root):
                    out.append(_entry(key, target))
            elif stat.S_ISDIR(mode):
                self._walk(sftp, key + "/", out, root)
            elif stat.S_ISREG(mode):
                out.append(_entry(key, attr))

    def _inside(self, sftp: paramiko.SFTPClient, key: str, root: str) -> bool:
        """Whether `key` (resolved by the server, links followed) lies in folder `root`; noted if not."""
        real = sftp.normalize(key)
        if real == root or real.startswith(root.rstrip("/") + "/"):
            return True
        # whoever can drop files in the folder must not make the worker read others
        self.notes.append(f"skipped {self._url(key)}: a link to a file outside {self._url(root)}")
        return False

    @contextmanager
    def open_entry(self, entry: FileEntry) -> Iterator[io.BufferedReader]:
        with self.session() as sftp, io.BufferedReader(
            _WindowedReader(sftp, entry.key, entry.size), buffer_size=_PIECE_BYTES
        ) as stream:
            yield stream

    def check(self) -> str:
        self._missing_folder = None
        with self.session():
            description = super().check()
        if description.startswith("no file") and self._missing_folder is not None:
            folder = self._url(self._missing_folder or static_prefix(str(self.connector.path)))
            return description.replace("; the select", f"; folder {folder} does not exist; the select", 1)
        return description

    def read(self, state: dict | None, *, reingest: list[str] | None = None):
        with self.session():  # one session for the listing and every file
            yield from super().read(state, reingest=reingest)


class _WindowedReader(SeekableStream):
    """A remote file read ahead in bounded windows: pipelined like `prefetch`, but never whole.

    paramiko's `prefetch()` requests the rest of the file at once and keeps whatever arrived until
    it is read, so a slow consumer would end up holding the file in memory. Here each window is
    one `prefetch(window_end)` and is read to its end before the next one starts. A jump
    elsewhere (Parquet footers, re-reading a CSV header) opens a fresh handle, because a handle
    with a half-read prefetch serves stale state.
    """

    def __init__(self, sftp: paramiko.SFTPClient, path: str, size: int) -> None:
        super().__init__(size)
        self._sftp, self._path = sftp, path
        self._remote: paramiko.SFTPFile | None = None
        self._window_end = 0  # end of the window being read; 0: none started on this handle

    def readinto(self, buffer) -> int:
        try:
            return self._readinto(buffer)
        except Exception as exc:
            # Not an OSError: the format reader must not take a dropped session for a damaged file.
            raise SourceInterrupted(
                f"SFTP read of {self._path} failed at byte {self._pos:,} of {self._size:,}: "
                f"{type(exc).__name__}: {str(exc).strip() or 'no answer (connection stalled or dropped)'}"
            ) from exc

    def _readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        if self._remote is None:
            self._remote = self._sftp.open(self._path, "rb")
            self._window_end = self._pos
        if self._pos >= self._window_end:  # previous window fully read: start the next one
            self._window_end = min(self._pos + _WINDOW_BYTES, self._size)
            self._remote.seek(self._pos)
            self._remote.prefetch(self._window_end, _REQUESTS_IN_FLIGHT)
        data = self._remote.read(min(len(buffer), self._window_end - self._pos))
        if not data:  # the file shrank while being read
            self._size = self._pos
            return 0
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _drop_stream(self) -> None:
        remote, self._remote = self._remote, None
        if remote is not None:
            # A read-only handle: if closing it fails (the session died), there is nothing to lose,
            # and raising here would replace the error that ended the read with an empty EOFError.
            try:
                remote.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass


def _stat(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, None) or isinstance(exc, FileNotFoundError):
            return None
        raise


def _entry(key: str, attr: paramiko.SFTPAttributes) -> FileEntry:
    mtime, size = int(attr.st_mtime or 0), int(attr.st_size or 0)
    return FileEntry(key, size, float(mtime), f"{mtime}:{size}")


def _describe_key(key: paramiko.PKey) -> str:
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"
