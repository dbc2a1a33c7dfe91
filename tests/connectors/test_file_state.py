"""File-source state: files no longer listed are forgotten after the retention, never by mistake."""

from __future__ import annotations

from headwater.connectors.file_source import next_file_state
from headwater.connectors.files import LocalFilesHook
from headwater.connectors.models import LocalFilesConnector

DAY = 86_400


def hook(path: str, **fields) -> LocalFilesHook:
    return LocalFilesHook(config=LocalFilesConnector(type="local_files", path=path, **fields))


def read_ids(h: LocalFilesHook, state: dict | None) -> list[str]:
    return [row["id"] for chunk in h.read(state) for row in chunk.table.to_pylist()]


def entry(version: str) -> dict:
    return {"version": version, "mtime": 1.0, "size": 1}


def test_unlisted_files_are_marked_then_forgotten_after_the_retention():
    state = {"files": {"a": entry("1"), "b": entry("1")}}
    new, forgotten = next_file_state(state, {}, {"a"}, retention_days=30, now=100 * DAY)
    assert new == {"files": {"a": entry("1"), "b": entry("1")}, "missing": {"b": 100 * DAY}} and forgotten == 0
    # still gone 29 days later: kept; 30 days later: forgotten
    kept, _ = next_file_state(new, {}, {"a"}, retention_days=30, now=129 * DAY)
    assert kept == new
    gone, forgotten = next_file_state(new, {}, {"a"}, retention_days=30, now=130 * DAY)
    assert gone == {"files": {"a": entry("1")}} and forgotten == 1
    # back before then: no longer missing
    back, _ = next_file_state(new, {}, {"a", "b"}, retention_days=30, now=110 * DAY)
    assert back == {"files": {"a": entry("1"), "b": entry("1")}}


def test_retention_zero_forgets_at_once_and_an_empty_listing_forgets_nothing():
    state = {"files": {"a": entry("1"), "b": entry("1")}}
    new, forgotten = next_file_state(state, {"c": entry("2")}, {"a", "c"}, retention_days=0, now=DAY)
    assert new == {"files": {"a": entry("1"), "c": entry("2")}} and forgotten == 1
    # A listing that came back empty (mount missing, credentials scoped wrong) changes nothing,
    # even with retention 0: the next good listing must not read every file again.
    same, forgotten = next_file_state(state, {}, set(), retention_days=0, now=DAY)
    assert same == state and forgotten == 0


def test_a_file_that_comes_back_unchanged_is_not_read_again(include_dir):
    folder = include_dir / "d"
    folder.mkdir()
    (folder / "a.csv").write_text("id\n1\n")
    (folder / "b.csv").write_text("id\n2\n")
    h = hook("d/*.csv")
    assert read_ids(h, None) == ["1", "2"]
    state = h.next_state()
    parked = folder.parent / "b.csv.parked"
    (folder / "b.csv").rename(parked)  # a listing that misses b for a while
    assert read_ids(h, state) == []
    state = h.next_state()
    assert set(state["missing"]) == {"d/b.csv"} and "d/b.csv" in state["files"]
    assert h.watermark_description().startswith("2 files read so far")
    parked.rename(folder / "b.csv")
    assert read_ids(h, state) == []  # same version as before: not ingested twice
    assert "missing" not in h.next_state()

    (folder / "b.csv").rename(parked)
    h0 = hook("d/*.csv", forget_missing_after_days=0)
    assert read_ids(h0, state) == []
    assert set(h0.next_state()["files"]) == {"d/a.csv"}
    assert "forgot 1 file(s) no longer listed for 0 day(s)" in h0.notes


def test_an_empty_listing_keeps_the_state(include_dir):
    folder = include_dir / "d"
    folder.mkdir()
    (folder / "a.csv").write_text("id\n1\n")
    h = hook("d/*.csv", forget_missing_after_days=0)
    read_ids(h, None)
    state = h.next_state()
    (folder / "a.csv").unlink()
    assert read_ids(h, state) == []
    assert h.next_state() == state
