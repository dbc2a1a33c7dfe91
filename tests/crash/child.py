"""Run one task of a source's DAG in a process of its own, with the run's XComs kept in a JSON file.

    python tests/crash/child.py SOURCE_YAML TASK_ID RUN_ID XCOM_FILE   # one task, then exit
    python tests/crash/child.py --serve                                  # a fork server (below)

The crash tests run the task to be killed this way (with `HEADWATER_CRASH_AT` set) so a SIGKILL
ends a real task process, as a lost worker or the OOM killer would, not a Python exception in the
test. Importing Airflow and the data libraries takes 5-25 s, so `--serve` imports them once and
forks a fresh child per request (JSON lines on stdin: source, task, run_id, xcom_file, env; answer:
the child's wait status). The server itself never touches the lake or a database, so each child
starts as clean as a new task process (deltalake's runtime and engines are created in the child).
The task runs through tests/pipeline/harness.py (a fake task instance and DAG run; everything
else real). XComs are written back only when the task ends: a killed task leaves none, as in
Airflow, where a task's return value is pushed after `execute` returns.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_xcoms(path: Path) -> dict:
    if not path.exists():
        return {}
    return {(task, key): value for task, key, value in json.loads(path.read_text())}


def save_xcoms(path: Path, xcoms: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([[task, key, value] for (task, key), value in xcoms.items()]))
    os.replace(tmp, path)


def main(source_yaml: str, task_id: str, run_id: str, xcom_file: str) -> int:
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    from headwater.config.loader import load_source
    from headwater.dag_builder import build_dag
    from tests.pipeline.harness import run_task

    dag = build_dag(load_source(Path(source_yaml)))
    path = Path(xcom_file)
    xcoms = load_xcoms(path)
    try:
        run_task(dag, task_id, run_id, xcoms)
    except Exception as exc:
        save_xcoms(path, xcoms)  # the `error` XCom the stage pushed before raising
        print(f"task {task_id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    save_xcoms(path, xcoms)
    return 0


def serve() -> int:
    # answers go to the original stdout; anything the tasks print goes to stderr
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    # what a task imports, loaded once here; nothing is run
    import deltalake  # noqa: F401
    import pyarrow  # noqa: F401
    import sqlalchemy  # noqa: F401

    import headwater.faults
    import headwater.operators  # noqa: F401
    from headwater.config.loader import load_source  # noqa: F401
    from headwater.dag_builder import build_dag  # noqa: F401
    from tests.pipeline.harness import run_task  # noqa: F401

    print(json.dumps({"ready": True}), file=answers, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.environ.update(request["env"])
                headwater.faults._TARGET = os.environ.get(headwater.faults.ENV) or None
                code = main(request["source"], request["task"], request["run_id"], request["xcom_file"])
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"returncode": returncode}), file=answers, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["--serve"] else main(*sys.argv[1:]))
