# Headwater's Airflow image: the official Airflow 3.3.2 image plus Headwater's pinned dependencies.
# Built by docker-compose.yaml (`docker compose build`); dags/, plugins/ and include/ are baked in
# and, in the compose stack, also mounted over so edits show up without a rebuild.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

USER airflow
COPY --chown=airflow:0 requirements.txt /opt/headwater/requirements.txt
# - The lock is the one `make install` uses; the Celery executor's providers come on top (versions
#   checked against the lock with `uv pip compile`).
# - The FAB provider shipped in the image cannot live with the lock (flask-appbuilder wants
#   python-dateutil<3 and an older SQLAlchemy): it is removed and the stack uses Airflow's
#   SimpleAuthManager (see docker-compose.yaml).
# - The lock leaves mysqlclient out (overrides.txt); the image already ships a built mysqlclient.
RUN pip uninstall -y apache-airflow-providers-fab \
    && pip install --no-cache-dir -r /opt/headwater/requirements.txt \
        apache-airflow-providers-celery==3.26.0 apache-airflow-providers-redis==4.7.1

COPY --chown=airflow:0 pyproject.toml /opt/headwater/pyproject.toml
COPY --chown=airflow:0 plugins/headwater /opt/headwater/plugins/headwater
RUN pip install --no-cache-dir --no-deps /opt/headwater

COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 include /opt/airflow/include
