"""Connectors: where a source's rows come from.

`models` holds the `connector:` config models (safe at DAG parse time), `registry` maps each
`type` to its model and hook, `base` defines the reading interface (`SourceReader`, `Chunk`).
Hooks (`files`, `s3`, ..., `sqlite`, `postgres`, `mysql`, `mssql`, `redshift`) and their helpers
(`sql_query`: SQLAlchemy Core statements) import pyarrow, SQLAlchemy and provider hooks, so they
are imported only inside tasks, through `registry.load_hook`.
"""
