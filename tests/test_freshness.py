"""Freshness: the limit from `monitor.freshness` or the schedule, and the state of a last load against it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from headwater.config.sections import MonitorConfig, ScheduleConfig
from headwater.freshness import evaluate, format_age, schedule_interval

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param({"cron": "0 6 * * *"}, timedelta(days=1), id="daily_cron"),
        pytest.param({"cron": "*/30 * * * *"}, timedelta(minutes=30), id="every_30_min"),
        pytest.param({"cron": "0 2 * * 1-5"}, timedelta(days=1), id="weekdays_take_the_shortest_gap"),
        pytest.param({"cron": "@hourly"}, timedelta(hours=1), id="preset"),
        pytest.param({"interval": "6h"}, timedelta(hours=6), id="interval"),
        pytest.param({"assets": ["x-headwater://lake/t"]}, None, id="assets"),
        pytest.param({}, None, id="manual"),
        pytest.param({"cron": "@once"}, None, id="once"),
    ],
)
def test_schedule_interval(schedule: dict, expected) -> None:
    assert schedule_interval(ScheduleConfig.model_validate(schedule)) == expected


@pytest.mark.parametrize(
    ("hours_ago", "state"),
    [(None, "never"), (0.5, "fresh"), (1, "fresh"), (1.5, "ageing"), (2, "ageing"), (2.01, "stale")],
)
def test_states_against_a_two_hour_limit(hours_ago, state) -> None:
    last = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    assert evaluate(last, timedelta(hours=2), NOW).state == state


def test_no_limit_is_unknown_and_a_limit_must_be_positive() -> None:
    assert evaluate(NOW - timedelta(days=30), None, NOW).state == "unknown"
    with pytest.raises(ValueError, match="freshness must be longer than 0s"):
        MonitorConfig.model_validate({"freshness": "0s"})
    assert MonitorConfig.model_validate({"freshness": "1d"}).freshness == timedelta(days=1)


def test_format_age() -> None:
    assert [format_age(timedelta(seconds=s)) for s in (45, 3600, 5400, 172800, 90061)] == ["45s", "1h", "1h30m", "2d", "1d1h"]
