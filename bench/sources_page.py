"""Benchmark: the Sources pages with 1,000 sources and 100 runs each, in-process.

    .venv/bin/python bench/sources_page.py [--sources 1000] [--runs 100] [--repeat 3] [--store-url URL]

Target (issue #14): the overview (HTML and JSON) answers in at most 3 s and a per-source page in at
most 1 s on this 2-core machine. The store is filled with `runs` run records per source (100,000
rows by default, bulk-inserted); the pages are requested through the plugin's FastAPI app with a
signed-in admin (Airflow's auth is tested in tests/test_ui.py, not timed here).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVERVIEW_TARGET_S = 3.0
DETAIL_TARGET_S = 1.0


def fill_store(engine, dag_ids: list[str], runs_per_source: int) -> float:
    from headwater.store import db, runs
    from headwater.store.values import to_json

    rng = random.Random(14)
    start = time.perf_counter()
    now = datetime.now(UTC)
    statuses = ["success"] * 6 + ["no_data"] * 2 + ["failed", "threshold_exceeded"]
    batch: list[dict] = []
    with db.write_transaction(engine) as conn:
        for dag_id in dag_ids:
            for i in range(runs_per_source):
                started = now - timedelta(hours=runs_per_source - i)
                status = rng.choice(statuses)
                read = 0 if status == "no_data" else rng.randint(100, 100_000)
                quarantined = read // rng.randint(20, 200) if read else 0
                batch.append({
                    "source": dag_id, "run_id": f"scheduled__{started.isoformat()}", "dag_id": dag_id, "status": status,
                    "rows_read": read, "rows_mapped": read - quarantined // 2, "rows_quarantined": quarantined,
                    "rows_loaded": 0 if status in ("failed", "threshold_exceeded") else read - quarantined,
                    "profiles_upserted": 0, "watermark_before": f"{i} file(s) ingested",
                    "watermark_after": f"{i + 1} file(s) ingested", "started_at": started,
                    "ended_at": started + timedelta(seconds=rng.uniform(20, 600)), "duration_s": rng.uniform(20, 600),
                    "errors_by_code": to_json({"CAST_FAILED": quarantined // 2, "EXPECTATION_FAILED": quarantined - quarantined // 2}),
                    "error_summary": "1 file(s) unchanged since the last run, skipped" if status == "no_data" else None,
                    "details": to_json({"files_read": 1, "files": ["export.csv"]}),
                })
                if len(batch) >= 5000:
                    conn.execute(runs.run_table.insert(), batch)
                    batch = []
        if batch:
            conn.execute(runs.run_table.insert(), batch)
    return time.perf_counter() - start


def timed(client, path: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store-url", default=None, help="SQLAlchemy URL of an empty store (default: SQLite in a temp folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hw-pagebench-"))
    sources = work / "sources"
    sources.mkdir()
    sys.path.insert(0, str(ROOT / "plugins"))
    sys.path.insert(0, str(ROOT / "bench"))
    from parse_dags import make_sources

    make_sources(sources, args.sources)
    os.environ.update(
        HEADWATER_SOURCES_DIR=str(sources),
        HEADWATER_INCLUDE_DIR=str(ROOT / "include"),
        HEADWATER_HOME=str(work / "home"),
        AIRFLOW_HOME=str(work / "airflow"),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
    )
    if args.store_url:
        os.environ["HEADWATER_STORE_URL"] = args.store_url
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from headwater.config.loader import load_sources
    from headwater.store import db
    from headwater.ui.app import app

    dag_ids = [s.dag_id for s in load_sources().sources]
    assert len(dag_ids) == args.sources, len(dag_ids)
    engine = db.get_engine()
    filled = fill_store(engine, dag_ids, args.runs)
    print(f"store {db.describe(engine)}: {len(dag_ids) * args.runs:,} run records for {len(dag_ids):,} sources, filled in {filled:.1f} s")

    create_auth_manager()
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="admin", role="admin")
    client = TestClient(app)
    probe = dag_ids[len(dag_ids) // 2]
    results = {
        "overview HTML /sources": timed(client, "/sources", args.repeat),
        "overview JSON /api/sources": timed(client, "/api/sources", args.repeat),
        "filtered overview /sources?status=failed": timed(client, "/sources?status=failed", args.repeat),
        f"per-source HTML /sources/{probe}": timed(client, f"/sources/{probe}", args.repeat),
        f"per-source JSON /api/sources/{probe}": timed(client, f"/api/sources/{probe}", args.repeat),
    }
    size = len(client.get("/sources").content)
    failed = False
    for name, times in results.items():
        target = DETAIL_TARGET_S if "per-source" in name else OVERVIEW_TARGET_S
        ok = statistics.median(times) <= target
        failed |= not ok
        print(f"{name}: median {statistics.median(times):.3f} s, all {', '.join(f'{t:.3f}' for t in times)} (target {target:.1f} s) {'ok' if ok else 'MISSED'}")
    print(f"overview HTML size {size / 1e6:.2f} MB")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
