"""Benchmark: parse `dags/` with N source files (copies of the demo sources), in-process.

    .venv/bin/python bench/parse_dags.py [--sources 1000] [--repeat 3]

Target (issue #2): 1,000 source files parse in at most 3 s on a 2-core machine, and nothing heavy
(pandas, pyarrow, great_expectations, deltalake, cloud SDKs) is imported while parsing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "pyarrow", "great_expectations", "deltalake", "boto3", "google.cloud.storage", "azure.storage.blob", "paramiko", "polars")


def make_sources(folder: Path, count: int) -> None:
    demos = sorted((ROOT / "include" / "sources").glob("demo_*.yaml"))
    for i in range(count):
        template = demos[i % len(demos)]
        # each copy differs (its own description), as real files do, so no cache entry is shared
        text = template.read_text() + f"\n# copy {i}\n"
        text = text.replace("description: ", f"description: v{i} ", 1)
        # each copy writes its own lake table: two sources writing one table are a config error
        text = re.sub(r"(?m)^load:\n  table: (\w+)", rf"load:\n  table: \1_{i:05d}", text)
        (folder / f"{template.stem}_{i:05d}.yaml").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hw-parse-"))
    sources = work / "sources"
    sources.mkdir()
    make_sources(sources, args.sources)
    os.environ.update(
        HEADWATER_SOURCES_DIR=str(sources),
        HEADWATER_INCLUDE_DIR=str(ROOT / "include"),
        HEADWATER_HOME=str(work / "home"),  # empty parse cache: the first pass is a cold parse
        AIRFLOW_HOME=str(work / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    )
    sys.path.insert(0, str(ROOT / "plugins"))
    from airflow.dag_processing.dagbag import DagBag  # noqa: E402  (after the environment is set)

    timings = []
    for _ in range(args.repeat):
        for name in [m for m in sys.modules if m.startswith("headwater") or m == "headwater_sources"]:
            del sys.modules[name]
        start = time.perf_counter()
        bag = DagBag(dag_folder=str(ROOT / "dags" / "headwater_sources.py"), safe_mode=True)
        timings.append(time.perf_counter() - start)
        assert len(bag.dags) == args.sources, (len(bag.dags), bag.import_errors)
        invalid = [d for d in bag.dags.values() if "headwater:invalid" in d.tags]
        assert not invalid, invalid[0].description
        assert not bag.import_errors, bag.import_errors
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    tasks = sum(len(d.tasks) for d in bag.dags.values())
    print(f"sources={args.sources} dags={len(bag.dags)} tasks={tasks}")
    print(f"parse seconds: cold (no YAML cache) {timings[0]:.2f}; warm " + ", ".join(f"{t:.2f}" for t in timings[1:]))
    print(f"heavy modules imported while parsing: {heavy or 'none'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
