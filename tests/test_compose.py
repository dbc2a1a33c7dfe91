"""docker-compose.yaml: valid for Debian's docker-compose 1.29 (offline) and shaped as Headwater needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yaml"

SERVICES = {
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "flower",
    "headwater-inlet",
}
AIRFLOW_SERVICES = sorted(s for s in SERVICES if s.startswith("airflow-") or s in ("flower", "headwater-inlet"))


def mount_target(volume: str) -> str:
    """`SOURCE:TARGET[:MODE]` → TARGET; SOURCE may hold `${VAR:-default}`."""
    parts = volume.split(":")
    return parts[-2] if parts[-1] in ("ro", "rw") else parts[-1]


def mount_source(volume: str) -> str:
    parts = volume.split(":")
    return ":".join(parts[:-2] if parts[-1] in ("ro", "rw") else parts[:-1])


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_compose_file_validates_offline() -> None:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed (scripts/ensure-services.sh installs Debian's package)"
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "AIRFLOW_UID": "50000"},
    )
    assert result.returncode == 0, result.stderr


def test_no_fields_docker_compose_1_29_rejects(compose: dict) -> None:
    assert "name" not in compose
    for name, service in compose["services"].items():
        assert "start_interval" not in service.get("healthcheck", {}), name


def test_services(compose: dict) -> None:
    assert SERVICES <= compose["services"].keys()
    assert compose["services"]["flower"].get("profiles") == ["flower"]
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_services_share_the_project(compose: dict, service: str) -> None:
    spec = compose["services"][service]
    env = spec["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["HEADWATER_STORE_CONN_ID"] == "headwater_store"
    assert env["AIRFLOW_CONN_HEADWATER_STORE"].startswith("postgresql://headwater:")
    assert env["AIRFLOW_CONN_HEADWATER_STORE"].endswith("@postgres:5432/headwater")
    assert env["HEADWATER_INCLUDE_DIR"] == "/opt/airflow/include"
    assert env["HEADWATER_LAKE_URI"]
    targets = {mount_target(volume) for volume in spec["volumes"]}
    for folder in ("dags", "plugins", "include", "logs", "config"):
        assert f"/opt/airflow/{folder}" in targets, f"{service} does not mount {folder}/"
    assert spec.get("build") == "."


def test_worker_runs_celery(compose: dict) -> None:
    worker = compose["services"]["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_image_builds_from_the_pinned_airflow() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "apache/airflow:3.3.2-python3.11" in dockerfile
    assert "requirements.txt" in dockerfile


def test_store_database_is_created(compose: dict) -> None:
    postgres = compose["services"]["postgres"]
    init = [v for v in postgres["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert init, "postgres does not run scripts/docker/postgres-init.sh"
    script = REPO / mount_source(init[0])
    assert script.is_file()
    assert "HEADWATER_DB_PASSWORD" in postgres["environment"]


def test_inlet_service_logs_to_redis(compose: dict) -> None:
    inlet = compose["services"]["headwater-inlet"]
    assert inlet["entrypoint"] == ["python", "-m", "headwater.cli"]
    assert inlet["command"][:3] == ["inlet", "--host", "0.0.0.0"]
    assert any(port.endswith(":8090") for port in inlet["ports"])
    env = inlet["environment"]
    assert env["HEADWATER_INLET_LOG"] == "redis"
    assert env["HEADWATER_INLET_REDIS_URL"] == "redis://redis:6379/1"  # not Celery's database 0
    assert "redis" in inlet["depends_on"]
    assert "--appendonly" in compose["services"]["redis"]["command"]
