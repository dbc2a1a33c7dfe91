"""File selection never leaves the folder its `path` names: local disk, SFTP and S3.

The root of a file source is the folder written in `path` before its first wildcard. Whoever can
drop files into that folder must not be able to make the worker read anything else: links that
point outside are skipped (with a note), wildcards only match names inside, and `..` cannot be
written in `path` or `exclude` at all. On S3 a key is a name, not a path: a key containing `../`
is read as that object of the bucket and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from headwater.connectors.models import Connector

SECRET_LINE = "outside-the-root"


def _rows(hook) -> list[dict]:
    return [r for c in hook.read(None) for r in c.table.to_pylist()]


# -- config: `..` is refused everywhere a path is written -------------------------------------------


@pytest.mark.parametrize("connector", [
    {"type": "local_files", "path": "../secret/*.csv"},
    {"type": "local_files", "path": "data/../../secret.csv"},
    {"type": "local_files", "path": "data/*/../../*.csv"},
    {"type": "local_files", "path": "data\\..\\..\\x.csv"},
    {"type": "local_files", "path": "data/*.csv", "exclude": ["../x"]},
    {"type": "sftp", "conn_id": "c", "path": "../../etc/passwd"},
    {"type": "s3", "conn_id": "c", "bucket": "bkt", "path": "landing/../other/*.csv"},
], ids=["relative_up", "up_in_the_middle", "glob_then_up", "backslashes", "exclude_up", "sftp_up", "s3_up"])
def test_parent_segments_are_a_config_error(connector) -> None:
    with pytest.raises(ValidationError, match="contains a '..' segment"):
        TypeAdapter(Connector).validate_python(connector)


# -- local files -----------------------------------------------------------------------------------


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """include/landing with two files, and next to include/ a folder the source must never read."""
    include = tmp_path / "include"
    (include / "landing" / "deep").mkdir(parents=True)
    (include / "landing" / "a.csv").write_text("v\ninside-a\n")
    (include / "landing" / "deep" / "b.csv").write_text("v\ninside-b\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(f"v\n{SECRET_LINE}\n")
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(include))
    return include / "landing"


def _local(path: str):
    from headwater.connectors.files import LocalFilesHook

    return LocalFilesHook(config=TypeAdapter(Connector).validate_python({"type": "local_files", "path": path}))


@pytest.mark.parametrize("pattern", ["landing", "landing/", "landing/*.csv", "landing/**", "landing/**/*.csv", "landing/*",
                                     "landing/?ink.csv", "landing/[l]ink.csv", "landing/*/*.csv", "landing/**/secret.csv"])
def test_local_links_to_files_outside_are_skipped(landing, pattern) -> None:
    (landing / "link.csv").symlink_to(landing.parent.parent / "outside" / "secret.csv")
    (landing / "deep" / "inner.csv").symlink_to(landing / "a.csv")  # a link inside the root is fine
    hook = _local(pattern)
    values = [r["v"] for r in _rows(hook)]
    assert SECRET_LINE not in values
    if "link" in pattern or "secret" in pattern:
        assert values == []
    if pattern in ("landing", "landing/**"):
        assert sorted(values) == ["inside-a", "inside-a", "inside-b"]
        assert any("link.csv: a link to a file outside" in n for n in hook.notes), hook.notes


def test_local_links_to_folders_outside_are_not_followed(landing) -> None:
    (landing / "elsewhere").symlink_to(landing.parent.parent / "outside", target_is_directory=True)
    values = [r["v"] for r in _rows(_local("landing/**"))]
    assert sorted(values) == ["inside-a", "inside-b"]


def test_local_absolute_path_reads_only_under_that_folder(landing) -> None:
    values = [r["v"] for r in _rows(_local(f"{landing}/**/*.csv"))]
    assert sorted(values) == ["inside-a", "inside-b"]


def test_local_link_swapped_in_for_a_named_file_is_skipped(landing) -> None:
    (landing / "a.csv").unlink()
    (landing / "a.csv").symlink_to(landing.parent.parent / "outside" / "secret.csv")
    assert _rows(_local("landing/a.csv")) == []


# -- S3 (moto) -------------------------------------------------------------------------------------


@pytest.mark.integration
def test_s3_keys_with_parent_segments_are_plain_names(moto_server, monkeypatch, bucket_name) -> None:
    from tests.cloud.scenarios import hook_for
    from tests.cloud.stores import s3_store

    store = s3_store(moto_server, monkeypatch, bucket_name)
    store.put("landing/a.csv", b"v\ninside-a\n")
    store.put("landing/../secret.csv", b"v\nliteral-key-under-landing\n")
    store.put("secret.csv", f"v\n{SECRET_LINE}\n".encode())
    assert sorted(r["v"] for r in _rows(hook_for(store, "landing/*.csv"))) == ["inside-a"]
    # `**` crosses folders: the object whose name contains `../` is under the prefix and is read as itself
    assert sorted(r["v"] for r in _rows(hook_for(store, "landing/**"))) == ["inside-a", "literal-key-under-landing"]
    with pytest.raises(ValidationError, match="contains a '..' segment"):
        hook_for(store, "landing/../*.csv")


# -- SFTP (a real sshd; tests/connectors/test_sftp.py) ---------------------------------------------


@pytest.mark.integration
def test_sftp_links_to_files_outside_the_folder_are_skipped(server, sftp_conn) -> None:
    from tests.connectors.test_sftp import hook

    server.write("in/a.csv", "v\ninside-a\n")
    outside = server.write("private/secret.csv", f"v\n{SECRET_LINE}\n")
    os.symlink(outside, server.data / "in" / "link.csv")
    os.symlink("/etc/passwd", server.data / "in" / "passwd.csv")
    os.symlink(server.data / "in" / "a.csv", server.data / "in" / "inner.csv")  # inside: fine
    sftp_conn("box")
    h = hook("box", "in/")
    values = [r["v"] for r in _rows(h)]
    assert sorted(values) == ["inside-a", "inside-a"]
    assert sum("a link to a file outside" in n for n in h.notes) == 2, h.notes
    assert _rows(hook("box", "in/*.csv")) and SECRET_LINE not in str(_rows(hook("box", "in/**")))
    assert _rows(hook("box", "in/link.csv")) == []  # a link named directly is held to its folder too
    assert _rows(hook("box", "in/inner.csv")) == [{"v": "inside-a"}]
