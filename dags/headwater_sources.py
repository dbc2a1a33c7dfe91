"""Builds one Airflow DAG per Headwater source file (include/sources/*.yaml, or $HEADWATER_SOURCES_DIR).

Every source file becomes a DAG with the stages connect → select → map → validate → load → monitor.
A broken source file is reported as this file's import error (naming the source file and the
location inside it); all other sources still get their DAGs.
"""

from headwater.dag_builder import build_all

globals().update(build_all())
