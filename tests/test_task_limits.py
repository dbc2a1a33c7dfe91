"""Every task gets an execution_timeout and exponential retry backoff from the `monitor` section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from headwater.config.loader import load_source
from headwater.dag_builder import build_dag
from headwater.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "include" / "sources" / "demo_crm_contacts.yaml"


def _source(tmp_path: Path, monitor: str) -> Path:
    text = DEMO.read_text().replace("monitor:\n  retries: 1\n  retry_delay: 1m\n", f"monitor:\n{monitor}")
    path = tmp_path / "limits.yaml"
    path.write_text(text)
    return path


def test_defaults_reach_every_task(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(REPO / "include"))
    dag = build_dag(load_source(_source(tmp_path, "  retries: 3\n  retry_delay: 30s\n")))
    for task in dag.tasks:
        assert task.execution_timeout == timedelta(hours=6), task.task_id
        assert task.retry_delay == timedelta(seconds=30)
        assert task.retry_exponential_backoff == 2.0  # Airflow 3.3 takes the multiplier
        assert task.max_retry_delay == timedelta(hours=1)


def test_configured_limits(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(REPO / "include"))
    dag = build_dag(load_source(_source(tmp_path, "  execution_timeout: 45m\n  max_retry_delay: 10m\n")))
    assert {t.execution_timeout for t in dag.tasks} == {timedelta(minutes=45)}
    assert {t.max_retry_delay for t in dag.tasks} == {timedelta(minutes=10)}


@pytest.mark.parametrize(
    ("monitor", "message"),
    [
        pytest.param("  execution_timeout: 0s\n", "execution_timeout must be longer than 0s", id="zero_timeout"),
        pytest.param(
            "  retry_delay: 10m\n  max_retry_delay: 5m\n",
            "max_retry_delay (300s) is shorter than retry_delay (600s)",
            id="max_below_delay",
        ),
        pytest.param(
            "  execution_timeout: soon\n",
            "expected a duration like '30s', '15m', '6h', '1d' or '2w', got 'soon'",
            id="not_a_duration",
        ),
    ],
)
def test_invalid_limits_are_config_errors(tmp_path, monkeypatch, monitor, message):
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(REPO / "include"))
    with pytest.raises(ConfigError) as info:
        load_source(_source(tmp_path, monitor))
    [issue] = info.value.issues
    assert issue.loc.startswith("monitor")
    assert issue.message == message
