"""Settings for the local (laptop) Airflow that `make run` starts; not used in production.

Airflow's embedded SQLite metadata database fails a request with "database is locked" after
SQLite's default 5 s wait when the scheduler, the api-server and several task processes write at
once. `scripts/airflow-env.sh` points `[database] sql_alchemy_connect_args` here so writers wait
longer instead of failing.
"""

SQLITE_CONNECT_ARGS = {"timeout": 60}
