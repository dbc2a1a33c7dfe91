"""The Sources pages in a real headless Chromium against the Airflow `make run` starts.

Debian's `chromium` driven by Playwright with the system browser (`playwright install` cannot
download here; scripts/ensure-services.sh installs the package). Two runs of a demo source are
triggered; the overview and the per-source page must show them, the chart must be drawn, and the
screenshots are kept under $HEADWATER_E2E_ARTIFACTS (default: the test's temporary folder).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from .conftest import Standalone
from .test_standalone import RUN_TIMEOUT_S, _task_report, _trigger, _wait_for_dag

pytestmark = pytest.mark.e2e

DEMO_DAG = "demo_crm_contacts"


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run scripts/ensure-services.sh (as root) or apt-get install chromium")
    return path


def _wait_until_done(standalone: Standalone, run_ids: list[str]) -> dict[str, str]:
    deadline = time.monotonic() + RUN_TIMEOUT_S * len(run_ids)
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        for run_id in run_ids:
            response = standalone.get(f"/api/v2/dags/{DEMO_DAG}/dagRuns/{run_id}")
            if response.status_code == 200:
                states[run_id] = response.json()["state"]
        if all(states.get(r) in ("success", "failed") for r in run_ids):
            return states
        time.sleep(3)
    pytest.fail(f"runs not finished: {states}\n" + "\n".join(_task_report(standalone, DEMO_DAG, r) for r in run_ids))


def _recorded(standalone: Standalone, run_ids: list[str]) -> list[tuple]:
    with sqlite3.connect(standalone.headwater_home / "headwater.db") as conn:
        marks = ",".join("?" * len(run_ids))
        return conn.execute(
            f"select run_id, status, rows_read, rows_loaded from hw_runs where source = ? and run_id in ({marks})",
            (DEMO_DAG, *run_ids),
        ).fetchall()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HEADWATER_E2E_ARTIFACTS") or tmp_path / "artifacts") / "sources-page"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Airflow's start (this may be the session's first test) plus two runs of six tasks: on a loaded
# 2-core machine a run took ~7 min (validate imports GX), more than the suite's 900 s default.
@pytest.mark.timeout(2700)
def test_sources_pages_in_chromium_after_two_runs(standalone: Standalone, artifacts: Path) -> None:
    from playwright.sync_api import sync_playwright

    browser_path = _chromium()
    dag = _wait_for_dag(standalone, DEMO_DAG)
    if dag.get("is_paused"):
        standalone.unpause(DEMO_DAG)
    # max_active_runs=1: the second queues behind the first (which finds the file already loaded
    # when the scheduler's own run got there first: no_data, the case the page must show well)
    run_ids = [_trigger(standalone, DEMO_DAG), _trigger(standalone, DEMO_DAG)]
    states = _wait_until_done(standalone, run_ids)
    assert set(states.values()) == {"success"}, f"{states}\n" + "\n".join(_task_report(standalone, DEMO_DAG, r) for r in run_ids)
    recorded = _recorded(standalone, run_ids)
    assert len(recorded) == 2, recorded

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1500, "height": 1000})
            # local mode (all admins): the token the API hands out is the signed-in user
            context.set_extra_http_headers({"Authorization": standalone.http.headers["Authorization"]})
            page = context.new_page()

            started = time.monotonic()
            response = page.goto(standalone.url("/headwater/sources"))
            overview_s = time.monotonic() - started
            assert response is not None and response.status == 200
            row = page.locator(f"tr[data-source='{DEMO_DAG}']")
            assert row.count() == 1
            text = row.inner_text()
            assert "success" in text or "no_data" in text
            assert "crm-team" in text and "local_files" in text
            assert "next 20" in text  # Airflow's next run, from its metadata database
            # the last successful load stays in view whatever the latest run found
            assert "read " in text and "loaded " in text and "none yet" not in text
            assert page.locator("tr[data-source] td.problem").count() >= 1  # the bad-config corpus is listed
            page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

            page.select_option("select[name=connector]", "local_files")
            page.click("form.filters button")
            page.wait_for_load_state()
            assert "connector=local_files" in page.url
            assert page.locator("tr[data-source] td.problem").count() == 0
            page.screenshot(path=str(artifacts / "overview-filtered.png"), full_page=True)

            page.click(f"tr[data-source='{DEMO_DAG}'] a[href='sources/{DEMO_DAG}']")
            page.wait_for_load_state()
            assert page.url.endswith(f"/headwater/sources/{DEMO_DAG}")
            history = page.locator("#history tbody tr")
            assert history.count() >= 2
            shown = page.locator("#history").inner_text()
            for run_id in run_ids:
                assert run_id in shown
            chart = page.locator("svg#run-chart")
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100  # laid out, not just in the text
            assert page.locator("svg#run-chart g.run").count() == history.count()
            assert page.locator("svg#run-chart polyline.duration").count() == 1
            assert page.locator("#mapping tbody tr").count() >= 10
            assert page.locator("#expectations tbody tr").count() == 3
            assert page.locator("#gx tbody tr").count() == 3  # the GX result of a run that validated rows
            assert "file(s) seen" in page.inner_text("body")
            assert page.get_attribute("#grid-link", "href") == f"/dags/{DEMO_DAG}"
            assert re.fullmatch(r"/assets/\d+", page.get_attribute("#asset-link", "href") or "")  # the lake table's asset
            page.screenshot(path=str(artifacts / "source.png"), full_page=True)
            chart.screenshot(path=str(artifacts / "chart.png"))
        finally:
            browser.close()
    for name in ("overview.png", "overview-filtered.png", "source.png", "chart.png"):
        assert (artifacts / name).stat().st_size > 1000, name
    print(f"\nscreenshots in {artifacts}; overview loaded in {overview_s:.2f} s")
