"""The streaming half of Headwater: `headwater inlet`, its write keys and its durable event log.

`spec` checks and normalises calls of the Segment / Customer.io Data Pipelines HTTP spec, `keys`
keeps write keys (hashed) in the store, `log` is the append-only log behind one interface with two
backends (`segment_log`: files under $HEADWATER_HOME, `redis_log`: Redis Streams), `app` is the
FastAPI service and `trigger` the Airflow event trigger that starts a source's micro-batch.
Nothing here is imported at DAG parse time except `trigger` (which imports only Airflow).
"""
