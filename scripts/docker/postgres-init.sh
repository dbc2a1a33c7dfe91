#!/usr/bin/env bash
# Run once by the postgres image on the first start of an empty data volume
# (/docker-entrypoint-initdb.d): creates Headwater's profile/run store database next to Airflow's.
set -euo pipefail
: "${HEADWATER_DB_USER:=headwater}"
: "${HEADWATER_DB_NAME:=headwater}"
: "${HEADWATER_DB_PASSWORD:?set HEADWATER_DB_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v hw_user="$HEADWATER_DB_USER" -v hw_db="$HEADWATER_DB_NAME" -v hw_password="$HEADWATER_DB_PASSWORD" <<'EOSQL'
CREATE ROLE :"hw_user" LOGIN PASSWORD :'hw_password';
CREATE DATABASE :"hw_db" OWNER :"hw_user";
EOSQL
echo "postgres-init: database $HEADWATER_DB_NAME owned by $HEADWATER_DB_USER created"
