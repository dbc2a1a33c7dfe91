#!/usr/bin/env bash
# Start the local Airflow (scheduler, dag-processor, api-server, triggerer via `airflow standalone`)
# with Headwater's dags/ and plugins/, and next to it the streaming inlet (`headwater inlet` on
# 127.0.0.1:$HEADWATER_INLET_PORT, embedded segment log; stopped with Airflow, SIGTERM).
# Used by `make run` and by tests/e2e, so both start it the same way.
#
# Stopping: Ctrl-C (or SIGTERM/SIGHUP to this script, or SIGTERM to the `make` that runs it: GNU make
# passes SIGTERM on to its recipe) stops every component, however it was started (terminal,
# `make run &` from a script, nohup); a second Ctrl-C stops them at once.
# Why not just `exec airflow standalone`: Ctrl-C from a terminal reaches every process of the
# foreground group, so the scheduler gets SIGINT from the terminal and, a moment later, SIGTERM
# from standalone. The second signal interrupts its executor shutdown and it then hangs for ever
# joining LocalExecutor workers that never got their stop message (seen with Airflow 3.3.2).
# So standalone runs in its own process group, only it gets the signal, and it stops its
# components one signal each. Whatever is still alive in that group afterwards, or after
# HEADWATER_STOP_GRACE_SECONDS (5), gets SIGTERM and, 3 s later, SIGKILL.
set -euo pipefail
# shellcheck source=scripts/airflow-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/airflow-env.sh"

# How long standalone may take to stop its components before every process of it is stopped.
GRACE_SECONDS="${HEADWATER_STOP_GRACE_SECONDS:-5}"
KILL_AFTER_SECONDS=3

if [[ ! -x "$VIRTUAL_ENV/bin/airflow" ]]; then
    echo "run-airflow: $VIRTUAL_ENV/bin/airflow is missing; run 'make install' first" >&2
    exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$HEADWATER_PORT") 2>/dev/null; then
    echo "run-airflow: port $HEADWATER_PORT is already in use (another 'make run'?); set HEADWATER_PORT" >&2
    exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$HEADWATER_INLET_PORT") 2>/dev/null; then
    echo "run-airflow: inlet port $HEADWATER_INLET_PORT is already in use; set HEADWATER_INLET_PORT" >&2
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

# The streaming inlet: its own process, stopped with SIGTERM once Airflow has stopped (EXIT trap).
python -m headwater.cli inlet --host 127.0.0.1 --port "$HEADWATER_INLET_PORT" </dev/null &
inlet_pid=$!
stop_inlet() {
    kill -TERM "$inlet_pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do kill -0 "$inlet_pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$inlet_pid" 2>/dev/null || true
}
trap stop_inlet EXIT
echo "run-airflow: streaming inlet at http://127.0.0.1:$HEADWATER_INLET_PORT (write keys: headwater inlet keys create SOURCE)"

# Job control on: the background job gets its own process group (id = its pid).
# SIGINT, standalone's only stop signal, must reach it even when this script was started with
# SIGINT ignored: a background job of a non-interactive shell (`make run &` in a script, nohup,
# CI) is, and an ignored signal stays ignored across exec; bash cannot un-ignore it (POSIX), so a
# one-line Python launcher restores the default before it becomes `airflow standalone`.
set -m
python -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    airflow standalone </dev/null &
standalone_pid=$!
set +m
echo "$standalone_pid" >"$AIRFLOW_HOME/standalone.pid"

group_alive() { kill -0 -- "-$standalone_pid" 2>/dev/null; }

# Task processes run in process groups of their own (Airflow's supervisor setpgid's them), so a
# signal to standalone's group misses them: remember every process below standalone as
# "pid:start time" (the start time tells a reused pid apart), while they are still attached.
declare -A tree=()
remember_tree() {
    local -A children=()
    local pid ppid queue=("$standalone_pid")
    while read -r pid ppid; do children[$ppid]+=" $pid"; done < <(ps -e -o pid= -o ppid=)
    while ((${#queue[@]})); do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        tree[$pid]=$(started "$pid")
        # shellcheck disable=SC2206  # split on purpose
        queue+=(${children[$pid]:-})
    done
}
started() { # start time of process $1 (field 22 of /proc/PID/stat), nothing when it is gone
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    read -ra fields <<<"${stat##*) }"
    echo "${fields[19]}"
}
tree_alive() { # the remembered processes still running
    local pid now
    for pid in "${!tree[@]}"; do
        now=$(started "$pid")
        if [[ -n "$now" && "$now" == "${tree[$pid]}" ]]; then echo "$pid"; fi
    done
}
stop_all() { # $1: signal; standalone's group and every remembered process
    kill "-$1" -- "-$standalone_pid" 2>/dev/null || true
    local pid
    for pid in $(tree_alive); do kill "-$1" "$pid" 2>/dev/null || true; done
}
leftovers() { group_alive || [[ -n "$(tree_alive)" ]]; }

signals=0
stop_started=""
# shellcheck disable=SC2317  # called by the trap
on_signal() {
    signals=$((signals + 1))
    if ((signals == 1)); then
        echo "run-airflow: stopping Airflow (at most ${GRACE_SECONDS}s; Ctrl-C again to stop at once)" >&2
        stop_started=$SECONDS
        remember_tree
        kill -INT "$standalone_pid" 2>/dev/null || true
    else
        stop_all TERM
    fi
}
trap on_signal INT TERM HUP

# Until a stop is asked for, `wait` (it returns early when a trapped signal arrives). Then standalone
# gets GRACE_SECONDS to stop its components; the scheduler would otherwise wait for running tasks,
# whose supervisors keep retrying the api-server that has just stopped (30 s and more was seen).
rc=0
while kill -0 "$standalone_pid" 2>/dev/null; do
    if [[ -z "$stop_started" ]]; then
        if wait "$standalone_pid"; then rc=0; else rc=$?; fi
    elif ((SECONDS - stop_started < GRACE_SECONDS)); then
        sleep 0.2
    else
        echo "run-airflow: Airflow still running after ${GRACE_SECONDS}s: stopping every process of it" >&2
        remember_tree
        break
    fi
done

# Leftovers (a component, LocalExecutor worker or task that did not stop): SIGTERM, then SIGKILL.
# An interrupted task is safe to run again: a retried load never duplicates rows.
if leftovers; then
    stop_all TERM
    for ((i = 0; i < KILL_AFTER_SECONDS * 5; i++)); do
        leftovers || break
        sleep 0.2
    done
    if leftovers; then
        echo "run-airflow: killing what is left of Airflow" >&2
        stop_all KILL
    fi
fi
wait "$standalone_pid" 2>/dev/null || true
rm -f "$AIRFLOW_HOME/standalone.pid"
# Stopped by a signal: report it the usual way (128 + SIGINT).
((signals > 0)) && exit 130
exit "$rc"
