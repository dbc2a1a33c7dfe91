"""`sql_table`: members as rows of a PostgreSQL or MySQL/MariaDB table (upsert on add/modify, delete on remove).

The table (created when missing) has `profile_id` (primary key), `identity`, one column per
variable (typed from the variable's expression) and `headwater_run_id`, `headwater_updated_at`.
Each batch is one transaction: committed means acknowledged. The URL is built from the Airflow
connection's fields (no extras passed through).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from .base import DeliveryFailed, DestinationHook, Outcome, connection

_DRIVERS = {"postgres": "postgresql+psycopg2", "mysql": "mysql+mysqlconnector"}


class SqlTableHook(DestinationHook):
    def __init__(self, *, variable_types: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variable_types = variable_types or {}
        self._engine: Any = None
        self._table: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from sqlalchemy import URL, create_engine

            conn = connection(self.config.conn_id)
            driver = _DRIVERS.get(conn.conn_type)
            if driver is None:
                raise DeliveryFailed(f"connection {self.config.conn_id!r} is of type {conn.conn_type!r}; sql_table needs postgres or mysql", transient=False)
            url = URL.create(driver, username=conn.login or None, password=conn.password or None,
                             host=conn.host or None, port=conn.port or None, database=conn.schema or None)
            self._engine = create_engine(url, pool_pre_ping=True)
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def table(self) -> Any:
        if self._table is None:
            from sqlalchemy import (
                BigInteger,
                Boolean,
                Column,
                Date,
                DateTime,
                Float,
                MetaData,
                String,
                Table,
                Text,
            )

            kinds = {"integer": BigInteger, "number": Float, "float": Float, "boolean": Boolean, "date": Date,
                     "timestamp": DateTime(timezone=True)}
            schema, _, name = self.config.table.rpartition(".")
            text = String(1024) if self.dialect == "mysql" else Text
            columns = [Column("profile_id", String(32), primary_key=True), Column("identity", text)]
            columns += [Column(var, kinds.get(kind, text)) for var, kind in self.variable_types.items()]
            columns += [Column("headwater_run_id", String(250)), Column("headwater_updated_at", DateTime(timezone=True))]
            self._table = Table(name, MetaData(), *columns, schema=schema or None)
        return self._table

    def check(self) -> None:
        from sqlalchemy import inspect

        table = self.table()
        table.create(self.engine, checkfirst=True)
        have = {c["name"] for c in inspect(self.engine).get_columns(table.name, schema=table.schema)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise DeliveryFailed(f"table {self.config.table} lacks column(s) {', '.join(missing)}", transient=False)

    def send(self, op: str, batch: list[dict]) -> Outcome:
        from sqlalchemy import delete

        table = self.table()
        with self.engine.begin() as conn:
            if op == "remove":
                conn.execute(delete(table).where(table.c.profile_id.in_([s["profile_id"] for s in batch])))
            else:
                rows = [self._row(s) for s in batch]
                conn.execute(self._upsert(table, rows))
        return Outcome(acked=list(batch))

    def _upsert(self, table: Any, rows: list[dict]) -> Any:
        updates = [c.name for c in table.columns if c.name != "profile_id"]
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            stmt = insert(table).values(rows)
            return stmt.on_conflict_do_update(index_elements=["profile_id"], set_={c: stmt.excluded[c] for c in updates})
        from sqlalchemy.dialects.mysql import insert

        stmt = insert(table).values(rows)
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in updates})

    def _row(self, signal: dict) -> dict:
        values = json.loads(signal["variables"]) if signal["variables"] else {}
        row = {"profile_id": signal["profile_id"], "identity": signal["identity"],
               "headwater_run_id": self.run_id, "headwater_updated_at": self._time(datetime.now(UTC))}
        for var, kind in self.variable_types.items():
            value = values.get(var)
            if value is not None and kind == "date":
                value = date.fromisoformat(value)
            elif value is not None and kind == "timestamp":
                value = self._time(datetime.fromisoformat(value))
            row[var] = value
        return row

    def _time(self, value: datetime) -> datetime:
        # MySQL DATETIME has no zone: UTC, naive
        if self.dialect == "mysql":
            return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return value

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
