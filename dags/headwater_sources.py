"""Builds one Airflow DAG per Headwater source file (include/sources/*.yaml, or $HEADWATER_SOURCES_DIR).

Every source file becomes a DAG with the stages connect → select → map → validate → load → monitor,
and every audience file (include/audiences/*.yaml) a DAG connect → select → map → validate → deliver → monitor.
A broken source file becomes a placeholder DAG under the same id, tagged `headwater:invalid`, whose
only task fails with every issue of the file (naming the file and the location inside it); all
other sources keep their DAGs. This file never raises for a bad source file: an import error would
make Airflow deactivate every DAG defined here.
"""

from headwater.dag_builder import build_all

globals().update(build_all())
