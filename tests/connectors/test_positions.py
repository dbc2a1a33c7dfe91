"""Runs (where a chunk's rows are in their source) cut and joined like the rows they describe:
each operation is checked against the same operation on one (line, record) pair per row."""

from __future__ import annotations

import random

import pytest

from headwater.connectors.file_formats import _RecordNumbers
from headwater.connectors.positions import LINE, Run, covers, runs_of, slice_runs, without_rows


def expand(runs: list[Run]) -> list[tuple[str, int | None, int | None]]:
    out = []
    for run in runs:
        for i in range(run.rows):
            out.append((run.where, None if run.line is None else run.line + i, None if run.record is None else run.record + i))
    return out


def sample(seed: int) -> list[Run]:
    rnd = random.Random(seed)
    runs, line = [], 1
    for _ in range(rnd.randint(1, 6)):
        rows = rnd.randint(1, 9)
        runs.append(Run(rows, rnd.choice(["a.csv", "b.csv"]), LINE, line, line - 1))
        line += rows + rnd.randint(0, 3)
    return runs


@pytest.mark.parametrize("seed", range(40))
def test_slice_and_drop_match_the_rows_they_describe(seed):
    runs = sample(seed)
    rows = expand(runs)
    rnd = random.Random(seed)
    start = rnd.randint(0, len(rows))
    length = rnd.randint(0, len(rows) - start)
    assert expand(slice_runs(runs, start, length)) == rows[start : start + length]
    dropped = set(rnd.sample(range(len(rows)), rnd.randint(0, len(rows))))
    kept = without_rows(runs, dropped)
    assert expand(kept) == [r for i, r in enumerate(rows) if i not in dropped]
    assert all(r.rows > 0 for r in kept)
    assert covers(kept, len(rows) - len(dropped)) or not kept


def test_runs_of_breaks_where_a_line_is_skipped():
    runs = runs_of("f", LINE, [1, 2, 3, 5, 6, 9])
    assert [(r.rows, r.line) for r in runs] == [(3, 1), (2, 5), (1, 9)]
    assert expand(runs_of("f", "item", [1, 1, 2, 2], [1, 2, 3, 4])) == [("f", 1, 1), ("f", 1, 2), ("f", 2, 3), ("f", 2, 4)]


@pytest.mark.parametrize("seed", range(20))
def test_csv_record_spans_agree_with_record_numbers(seed):
    rnd = random.Random(seed)
    numbers = _RecordNumbers()
    for n in sorted(rnd.sample(range(1, 60), rnd.randint(0, 15))):
        numbers.add_malformed(n)
    for _ in range(4):
        count = rnd.randint(0, 10)
        spans = numbers.spans(count)
        assert [first + i for first, rows in spans for i in range(rows)] == [numbers.of(i) for i in range(count)]
        numbers.advance(count)
