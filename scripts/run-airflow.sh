#!/usr/bin/env bash
# Start the local Airflow (scheduler, dag-processor, api-server, triggerer via `airflow standalone`)
# with Headwater's dags/ and plugins/. Used by `make run` and by tests/e2e, so both start it the same way.
#
# Stopping: Ctrl-C (or SIGTERM/SIGHUP to this script) stops every component; a second Ctrl-C stops
# them at once. Why not just `exec airflow standalone`: Ctrl-C from a terminal reaches every process
# of the foreground group, so the scheduler gets SIGINT from the terminal and, a moment later, SIGTERM
# from standalone. The second signal interrupts its executor shutdown and it then hangs for ever
# joining LocalExecutor workers that never got their stop message (seen with Airflow 3.3.2).
# So standalone runs in its own process group, only it gets the signal, and it stops its
# components one signal each. Whatever is still alive in that group afterwards is killed.
set -euo pipefail
# shellcheck source=scripts/airflow-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/airflow-env.sh"

GRACE_SECONDS="${HEADWATER_STOP_GRACE_SECONDS:-30}"

if [[ ! -x "$VIRTUAL_ENV/bin/airflow" ]]; then
    echo "run-airflow: $VIRTUAL_ENV/bin/airflow is missing; run 'make install' first" >&2
    exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$HEADWATER_PORT") 2>/dev/null; then
    echo "run-airflow: port $HEADWATER_PORT is already in use (another 'make run'?); set HEADWATER_PORT" >&2
    exit 1
fi
mkdir -p "$AIRFLOW_HOME" "$HEADWATER_HOME"
echo "run-airflow: AIRFLOW_HOME=$AIRFLOW_HOME HEADWATER_HOME=$HEADWATER_HOME"
echo "run-airflow: UI and REST API at http://127.0.0.1:$HEADWATER_PORT (Ctrl-C stops everything)"

# Embedded SQLite metadata DB: migrate it here and switch it to write-ahead logging (a setting
# stored in the database file). In WAL mode readers never block the writer, so the api-server,
# scheduler and task processes stop failing each other's requests with "database is locked".
if [[ "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite}" == sqlite* ]]; then
    airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
    python - "$AIRFLOW_HOME/airflow.db" <<'PY'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    print("run-airflow: metadata DB journal mode:", db.execute("PRAGMA journal_mode=WAL").fetchone()[0])
PY
fi

# Job control on: the background job gets its own process group (id = its pid) and, unlike a
# background job without job control, does not start with SIGINT ignored.
set -m
airflow standalone </dev/null &
standalone_pid=$!
set +m
echo "$standalone_pid" >"$AIRFLOW_HOME/standalone.pid"

group_alive() { kill -0 -- "-$standalone_pid" 2>/dev/null; }

signals=0
# shellcheck disable=SC2317  # called by the trap
on_signal() {
    signals=$((signals + 1))
    if ((signals == 1)); then
        echo "run-airflow: stopping Airflow (Ctrl-C again to stop at once)" >&2
        kill -INT "$standalone_pid" 2>/dev/null || true
    else
        kill -TERM -- "-$standalone_pid" 2>/dev/null || true
    fi
}
trap on_signal INT TERM HUP

# `wait` returns early when a trapped signal arrives: wait again until standalone has exited.
rc=0
while kill -0 "$standalone_pid" 2>/dev/null; do
    if wait "$standalone_pid"; then rc=0; else rc=$?; fi
done

# Leftovers of the group (a component that did not stop): SIGTERM, then SIGKILL after the grace period.
if group_alive; then
    kill -TERM -- "-$standalone_pid" 2>/dev/null || true
    for ((i = 0; i < GRACE_SECONDS * 2; i++)); do
        group_alive || break
        sleep 0.5
    done
    if group_alive; then
        echo "run-airflow: killing what is left of Airflow" >&2
        kill -KILL -- "-$standalone_pid" 2>/dev/null || true
    fi
fi
rm -f "$AIRFLOW_HOME/standalone.pid"
# Stopped by a signal: report it the usual way (128 + SIGINT).
((signals > 0)) && exit 130
exit "$rc"
