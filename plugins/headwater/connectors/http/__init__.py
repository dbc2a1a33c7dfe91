"""A declarative HTTP API layer: authenticators, paginators, record selectors, incremental cursors
and a retrying, rate-limited client, all chosen in YAML (like Airbyte's low-code CDK).

`models` holds the YAML models (light: imported at DAG parse time); the other modules import
httpx and pyarrow and are imported only inside tasks:

- `auth`: API key, bearer, basic, OAuth 2.0 client credentials and refresh token
- `paginators`: next link (JSON path or `Link` header), cursor token, offset/limit, page number
- `records`: the records array by JSON path, nested values kept as JSON or flattened, Arrow chunks
- `incremental`: cursor field, request parameter or filter template, watermark, lookback
- `client`: retries with backoff and jitter, 429 and `Retry-After`, rate limit, call counting
- `errors`: the error raised after the retries (endpoint, status, body message; never a secret)
- `source`: `HttpApiSourceHook`, the reader every HTTP connector type uses

A connector for one system (Dynamics, Marketing Cloud) builds the same pieces from its own,
shorter YAML and hands them to `HttpApiSourceHook`.
"""
