"""The Sources page in the Airflow UI: every source, its configuration and its latest run."""
