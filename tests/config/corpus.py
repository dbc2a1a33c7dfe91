"""The bad-config corpus: the fixtures in `invalid_sources/` plus generated ones.

Generated cases are too big to commit (1 MiB, 100k keys) or not files at all (a FIFO). The
corpus also holds two valid files, the owners of a DAG id and of a lake table that other
files try to take over: they must keep their DAGs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

HERE = Path(__file__).parent
FIXTURES = HERE / "invalid_sources"
BASE = (HERE / "valid_base.yaml").read_text()

# valid files of the corpus (each owns what another file claims)
OWNERS = ("conflict_owner", "table_owner")


def _deep_nesting(path: Path) -> None:
    # 10,000 levels: before, a RecursionError in the cache's pickling took every DAG down
    path.write_text(BASE + "x-deep: " + "[" * 10_000 + "]" * 10_000 + "\n")


def _unknown_keys(count: int):
    def write(path: Path) -> None:
        path.write_text(BASE + "".join(f"k{i}: 1\n" for i in range(count)))

    return write


def _too_large(path: Path) -> None:
    path.write_text(BASE + "description: '" + "x" * (1 << 20) + "'\n")


def _fifo(path: Path) -> None:
    os.mkfifo(path)  # opening it would block the whole parse until someone writes to it


GENERATED = {
    "deep_nesting": _deep_nesting,
    "unknown_keys_100k": _unknown_keys(100_000),  # past the node budget
    "unknown_keys_2k": _unknown_keys(2_000),  # within it: 2,000 issues, capped at 50
    "too_large": _too_large,
    "fifo": _fifo,
}


def write_corpus(folder: Path) -> list[Path]:
    """Every corpus file (fixtures and generated) in `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    for fixture in sorted(FIXTURES.glob("*.yaml")):
        shutil.copy(fixture, folder / fixture.name)
    for name, write in GENERATED.items():
        write(folder / f"{name}.yaml")
    return sorted(folder.glob("*.yaml"))
