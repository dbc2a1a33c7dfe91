"""Headwater: YAML source files become Airflow DAGs that ingest customer data.

Kept import-light on purpose: the DAG file imports this package at parse time.
"""

__version__ = "0.1.0"
