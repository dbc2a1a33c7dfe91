"""Test-wide setup: an isolated Airflow and Headwater home, set before anything imports Airflow.

Airflow reads its configuration when first imported, so these variables are set at collection
time, not in a fixture. Individual tests point HEADWATER_* at their own tmp folders.
"""

from __future__ import annotations

import os
import tempfile

_BASE = tempfile.mkdtemp(prefix="headwater-tests-")
os.environ.setdefault("AIRFLOW_HOME", os.path.join(_BASE, "airflow"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("HEADWATER_HOME", os.path.join(_BASE, "headwater"))
os.environ.setdefault("HEADWATER_YAML_CACHE", "0")  # tests edit files in place; parse them afresh
