"""A local BigQuery for the tests: `bqemulator` (PyPI, DuckDB-backed), REST + gRPC on free ports.

The emulator pins packages Airflow's venv cannot take, so it runs from its own virtual environment,
built on first use by `scripts/bqemulator-env.sh` (cached under ~/.cache/headwater). It serves
the REST API (jobs, tables, tabledata.list) and the Storage Read API over plaintext gRPC, so both
table read paths are tested for real. What it lacks is tested at the protocol level: IAM and
credential refusals against a small HTTP server speaking BigQuery's REST errors
(test_bigquery_errors.py); a query job's result through the Storage Read API against a gRPC server
speaking BigQueryRead (test_bigquery_storage_protocol.py).

Without the emulator its tests skip with the reason, except in CI (env `CI` set), where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import free_port, reachable, unique

REPO = Path(__file__).resolve().parents[3]
PROJECT = "hw-test"
START_TIMEOUT = 90.0


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the BigQuery emulator is required)")
    pytest.skip(reason)


@dataclass
class Emulator:
    rest_port: int
    grpc_port: int
    proc: subprocess.Popen
    log: Path

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def grpc_url(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def client(self):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=PROJECT, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=self.rest_url)
        )

    @property
    def retry(self):
        """A short retry: the client's default retries an emulator's 500 for 10 minutes."""
        from google.cloud.bigquery import DEFAULT_RETRY

        return DEFAULT_RETRY.with_deadline(10)

    def insert(self, ref: str, rows: list[dict]) -> list:
        """insert_rows_json (streaming insert): bqemulator does not implement load jobs from JSON."""
        return self.client().insert_rows_json(ref, rows, retry=self.retry)

    def connection(self, **extra) -> str:
        """An Airflow `google_cloud_platform` connection (AIRFLOW_CONN_* JSON) to this emulator."""
        fields = {
            "project": PROJECT,
            "is_anonymous": True,
            "api_endpoint": self.rest_url,
            "storage_api_endpoint": self.grpc_url,
            "retry_deadline": 20,
            **extra,
        }
        return json.dumps({"conn_type": "google_cloud_platform", "extra": fields})


def emulator_env() -> Path:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "bqemulator-env.sh")], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        unavailable(f"could not build the bqemulator environment: {done.stderr.strip()[-800:]}")
    env = Path(done.stdout.strip().splitlines()[-1])
    print(f"\nbqemulator environment {env} ready after {time.monotonic() - started:.1f} s")
    return env


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory) -> Iterator[Emulator]:
    env_dir = emulator_env()
    rest, grpc = free_port(), free_port()
    log = tmp_path_factory.mktemp("bqemulator") / "bqemulator.log"
    env = {
        **os.environ,
        "HOME": str(env_dir / "home"),  # DuckDB finds the pre-installed spatial extension here
        "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",  # no Avro extension download
    }
    env.pop("PYTHONPATH", None)
    cmd = [
        str(env_dir / "bin" / "bqemulator"), "start",
        "--rest-port", str(rest), "--grpc-port", str(grpc),
        "--project", PROJECT, "--ephemeral", "--log-level", "warning", "--log-format", "console",
    ]
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    emulator = Emulator(rest, grpc, proc, log)
    try:
        while not (reachable("127.0.0.1", rest) and reachable("127.0.0.1", grpc)):
            if proc.poll() is not None or time.monotonic() - started > START_TIMEOUT:
                tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
                unavailable(f"bqemulator did not start on 127.0.0.1:{rest}/{grpc}: {tail or 'no output'}")
            time.sleep(0.2)
        print(f"\nbqemulator listening on {rest} (REST) and {grpc} (gRPC) after {time.monotonic() - started:.1f} s")
        yield emulator
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def bq_dataset(bq_emulator) -> Iterator[str]:
    """A dataset of its own for one test."""
    client = bq_emulator.client()
    name = unique("hw_bq")
    client.create_dataset(name)
    yield name
    client.delete_dataset(name, delete_contents=True, not_found_ok=True)
