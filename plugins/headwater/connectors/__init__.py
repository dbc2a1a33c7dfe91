"""Connectors: where a source's rows come from.

`models` holds the `connector:` config models (safe at DAG parse time), `registry` maps each
`type` to its model and hook, `base` defines the reading interface (`SourceReader`, `Chunk`).
Hooks (`files`, `sqlite`, `postgres`, `mysql`) and their helpers import pyarrow and provider
hooks, so they are imported only inside tasks, through `registry.load_hook`.
"""
