"""Exceptions Headwater raises, each meant to be read by a person who can act on it."""

from __future__ import annotations

from dataclasses import dataclass


class HeadwaterError(Exception):
    """Base class of every Headwater error."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one source file: where (dotted path inside the file) and what."""

    file: str
    loc: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.loc}" if self.loc else self.file
        return f"{where}: {self.message}"


class ConfigError(HeadwaterError):
    """A source file (or a file it refers to) is invalid. Carries every issue found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class ConnectionCheckError(HeadwaterError):
    """The source cannot be reached; the message says what to fix (host, credentials, object name).

    `transient=True` marks a failure that waiting can cure (connection refused while a server
    restarts, a timeout), so the task is retried; `False` one that it cannot (bad credentials);
    None (default): decided by the driver error it was raised from (`headwater.failures`).
    """

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        self.transient = transient


class SourceInterrupted(HeadwaterError):
    """The source failed in the middle of reading a file or result (connection dropped, stalled, 5xx).

    Not an `OSError`, so a format reader never mistakes it for a damaged file: the read stops, the
    task fails and is retried (unless the cause is permanent, e.g. access revoked mid-read).
    """


class SelectionError(HeadwaterError):
    """The selection (table, columns, cursor, files) does not match what the source holds."""


class ErrorThresholdExceeded(HeadwaterError):
    """More rows failed than the source's `validate.max_error_ratio` allows."""
