# shellcheck shell=bash
# Environment of the local Airflow that `make run` starts. Sourced (never executed) by
# scripts/run-airflow.sh, which `make run` and tests/e2e both use, so they start Airflow the same way.
#
# Overridable from the calling environment:
#   HEADWATER_PORT          api-server port (default 8080; bound to 127.0.0.1 only)
#   HEADWATER_INLET_PORT    port of the streaming inlet `headwater inlet` (default 8090; 127.0.0.1 only)
#   HEADWATER_AIRFLOW_HOME  AIRFLOW_HOME to use (default <repo>/.airflow)
#   HEADWATER_HOME          Headwater's working folder: lake folder, SQLite store (default <repo>/.headwater)
# Any other HEADWATER_* variable (see plugins/headwater/settings.py) is passed through untouched.

HEADWATER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HEADWATER_ROOT

export HEADWATER_PORT="${HEADWATER_PORT:-8080}"
export HEADWATER_INLET_PORT="${HEADWATER_INLET_PORT:-8090}"
export HEADWATER_HOME="${HEADWATER_HOME:-$HEADWATER_ROOT/.headwater}"
export AIRFLOW_HOME="${HEADWATER_AIRFLOW_HOME:-$HEADWATER_ROOT/.airflow}"

export AIRFLOW__CORE__DAGS_FOLDER="$HEADWATER_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$HEADWATER_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# Local mode: everybody is admin, no login page.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
# The api-server listens on the loopback interface only; tasks reach its execution API there too.
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$HEADWATER_PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$HEADWATER_PORT/execution/"

# The embedded SQLite metadata DB: writers wait up to 60 s for a lock rather than fail the request.
if [[ "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite}" == sqlite* ]]; then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS:-headwater.local_airflow.SQLITE_CONNECT_ARGS}"
  # Task processes report to the api-server, which may itself be waiting for that lock: with the
  # 5 s default a busy moment killed a starting task ("PATCH task-instances/.../run" read timeout)
  # and sent it to up_for_retry. Wait as long as the database would.
  export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-75}"
fi

# LocalExecutor forks `parallelism` worker processes up front (32 by default): keep a laptop light.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-8}"

export PYTHONPATH="$HEADWATER_ROOT/plugins${PYTHONPATH:+:$PYTHONPATH}"
# `airflow standalone` starts its components as `airflow ...` found on PATH: use the project's venv.
export VIRTUAL_ENV="$HEADWATER_ROOT/.venv"
# scripts/local-bin/airflow first: it starts scheduler and triggerer without their log servers,
# which would listen on every interface (the api-server reads the log files directly).
export PATH="$HEADWATER_ROOT/scripts/local-bin:$VIRTUAL_ENV/bin:$PATH"
# The scheduler's health server (off unless enabled) would listen on 0.0.0.0 by default.
export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST=127.0.0.1
