"""connect: prove the source can be reached and the selection exists, before reading anything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater.operators.base import StageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.connectors.registry import Connector


class ConnectOperator(StageOperator):
    """Check the connection and the selection; fail with a message a person can act on.

    :param source_name: Name of the source.
    :param connector: The source file's `connector` section (any connector type).
    """

    stage = "connect"
    ui_color = "#e8f4fd"

    def __init__(self, *, connector: Connector, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connector = connector

    def run_stage(self, context: Context) -> dict:
        from headwater.connectors.registry import make_hook

        started = datetime.now(UTC)
        hook = self.hook = make_hook(self.connector, source_name=self.source_name)
        description = hook.check()
        self.log.info("%s", description)
        # requests sent to an HTTP API (None: not an API source)
        return {"checked": description, "started_at": started.isoformat(), "api_calls": getattr(hook, "api_calls", None)}
