"""Fault injection for the crash tests: `crash_point(name)` SIGKILLs the process at a named point.

The points sit where a real task could die and leave work half done (mid-select, mid-lake-write,
between the lake commit and the profile load, ...). A point fires only when the environment
variable `HEADWATER_CRASH_AT` names it, read once at import, so in production a point costs one
comparison with None. SIGKILL, not an exception: nothing of ours (no `finally`, no rollback, no
XCom push) runs after it, exactly as when the OOM killer or a lost worker ends a task.
"""

from __future__ import annotations

import os
import signal

ENV = "HEADWATER_CRASH_AT"
_TARGET = os.environ.get(ENV) or None

# Every point the code defines, so a test cannot ask for a point that never fires.
POINTS = (
    "mid_select",  # select: after the first part is staged
    "mid_quarantine_write",  # validate: after the first quarantine part went to deltalake, before its commit
    "mid_lake_write",  # load: after the first part went to deltalake, before its commit
    "after_lake_commit",  # load: the lake table committed, profiles not yet loaded
    "mid_profile_load",  # load: after the first profile chunk committed
    "after_profile_load",  # load: profiles committed, the source state not yet
)


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL when `HEADWATER_CRASH_AT` names this point."""
    if _TARGET is not None and _TARGET == name:
        os.kill(os.getpid(), signal.SIGKILL)
