"""Keeps the Great Expectations result of every run beside the lake tables.

`{lake}/_validation/{dag_id}/{run_id}.json`: what was checked, what failed and how often, so a
quarantined row can be explained long after staging is gone.
"""

from __future__ import annotations

import json

from headwater.lake.staging import safe_name
from headwater.lake.storage import filesystem, join, lake_root


def validation_result_uri(dag_id: str, run_id: str, root: str | None = None) -> str:
    return join(lake_root(root), "_validation", safe_name(dag_id), f"{safe_name(run_id)}.json")


def save_validation_result(dag_id: str, run_id: str, result: dict, root: str | None = None) -> str:
    """Write (or overwrite, on retry) the run's validation result; return its location."""
    uri = validation_result_uri(dag_id, run_id, root)
    fs, path = filesystem(uri)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(json.dumps(result, indent=2, sort_keys=True, default=str).encode())
    return uri


def load_validation_result(dag_id: str, run_id: str, root: str | None = None) -> dict | None:
    uri = validation_result_uri(dag_id, run_id, root)
    fs, path = filesystem(uri)
    try:
        with fs.open_input_stream(path) as stream:
            return json.loads(stream.read())
    except FileNotFoundError:
        return None
