"""`headwater preview`: map and validate the first rows of a source; nothing loaded, no state written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headwater.cli import main
from headwater.commands import preview as preview_module

REPO = Path(__file__).resolve().parents[1]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with its size and mtime, except the parsed-YAML cache."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "cache" not in p.relative_to(root).parts
    }


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of include/ and an empty HEADWATER_HOME: nothing can be written elsewhere."""
    from headwater.store import db

    shutil.copytree(REPO / "include", tmp_path / "include", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(tmp_path / "include"))
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(tmp_path / "include" / "sources"))
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    for name in (
        "HEADWATER_LAKE_URI",
        "HEADWATER_STORE_URL",
        "HEADWATER_STORE_CONN_ID",
        "HEADWATER_LOOKUPS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    db.reset_engines()
    yield tmp_path
    db.reset_engines()


@pytest.mark.parametrize(
    ("source", "columns", "expectations"),
    [
        (
            "demo_crm_contacts",
            ["crm_id", "email", "email_sha256", "full_name", "birth_date"],
            ["expect_column_values_to_not_be_null(email)", "expect_column_values_to_be_unique(crm_id)"],
        ),
        (
            "demo_loyalty_members",
            ["loyalty_id", "loyalty_tier", "loyalty_points"],
            ["expect_column_values_to_be_in_set(loyalty_tier)"],
        ),
        (
            "demo_purchase_events",
            ["event_id", "occurred_at", "amount"],
            ["expect_column_values_to_be_between(amount)"],
        ),
    ],
)
def test_preview_demo_sources_writes_nothing(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    source: str,
    columns: list[str],
    expectations: list[str],
) -> None:
    before = snapshot(workspace)
    assert main(["preview", source, "--rows", "5"]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 rows mapped onto" in out
    for name in columns + expectations:
        assert name in out
    assert "passed" in out
    assert "nothing was loaded or written" in out
    assert snapshot(workspace) == before  # no lake, no store, no staging, no state; include/ untouched
    home = workspace / "home"
    assert not (home / "lake").exists() and not (home / "headwater.db").exists()


def test_preview_ignores_and_keeps_the_stored_watermark(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from headwater.store import db, state

    engine = db.get_engine()
    db.create_all(engine)
    stored = {
        "cursor": {"column": "updated_at", "value": "2999-01-01 00:00:00", "type": "str"},
        "keys_at_cursor": [],
    }
    state.set_state(engine, "demo_loyalty_members", stored, "run-1")
    before = snapshot(workspace)
    assert main(["preview", "demo_loyalty_members", "--rows", "3"]) == 0
    assert "3 of 3 rows mapped" in capsys.readouterr().out  # read from the initial value, not the watermark
    assert state.get_state(engine, "demo_loyalty_members") == stored
    assert snapshot(workspace) == before


def test_preview_stops_the_reader_after_n_rows(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.connectors import registry

    readers = []
    real = registry.make_hook

    def spy(config, **kwargs):
        hook = real(config, **kwargs)
        read = hook.read

        def tracked(state, **kw):
            assert state is None
            readers.append(read(state, **kw))
            return readers[-1]

        hook.read = tracked
        return hook

    monkeypatch.setattr(registry, "make_hook", spy)
    source = preview_module.find_source("demo_loyalty_members")
    described, sample, errors = preview_module.read_sample(source, 7)
    assert sample.num_rows == 7 and sample.column("_hw_row").to_pylist() == list(range(7))
    assert readers and readers[0].gi_frame is None  # generator closed: the connection is released


def test_preview_shows_rejected_rows_and_failed_expectations(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = workspace / "include" / "demo" / "tiny.csv"
    data.write_text("id,email,points\n1,a@x.io,10\n2,not-an-email,20\n3,c@x.io,lots\n")
    (workspace / "include" / "sources" / "tiny.yaml").write_text(
        """
connector: {type: local_files, path: demo/tiny.csv, format: csv}
mapping:
  target: customer_profile
  fields:
    - {to: crm_id, from: id}
    - {to: email, from: email}
    - {to: loyalty_points, from: points}
    - {to: email_sha256, expr: "sha256_salted(email, 'pii_salt')"}
validate:
  max_error_ratio: 1
  expectations:
    - {type: expect_column_values_to_match_regex, column: email, regex: "@"}
""".lstrip()
    )
    monkeypatch.setenv("AIRFLOW_VAR_PII_SALT", "pepper")
    assert main(["preview", str(workspace / "include" / "sources" / "tiny.yaml")]) == 0
    out = capsys.readouterr().out
    assert "2 of 3 rows mapped" in out
    assert "CAST_FAILED loyalty_points: not a valid integer" in out
    assert "expect_column_values_to_match_regex email" in out
    assert "failed" in out


def test_read_counts_unreadable_rows_like_the_run_record_and_only_within_rows(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """150 data rows, rows 10 and 120 malformed (lines 11 and 121): a run records 150 read."""
    lines = ["id,email"]
    for n in range(1, 151):
        lines.append(f"{n},x{n}@x.io,extra" if n in (10, 120) else f"{n},x{n}@x.io")
    (workspace / "include" / "demo" / "bad_lines.csv").write_text("\n".join(lines) + "\n")
    (workspace / "include" / "sources" / "bad_lines.yaml").write_text(
        """
connector: {type: local_files, path: demo/bad_lines.csv, format: csv}
mapping:
  target: customer_profile
  fields:
    - {to: customer_id, from: id}
    - {to: email, from: email}
  record_key: customer_id
validate: {max_error_ratio: 1}
""".lstrip()
    )
    assert main(["preview", "bad_lines", "--rows", "200"]) == 0
    out = capsys.readouterr().out
    assert "150 rows read (148 readable, 2 unreadable)" in out
    assert "line 11 (record 10):" in out and "line 121 (record 120):" in out

    assert main(["preview", "bad_lines", "--rows", "20"]) == 0
    out = capsys.readouterr().out
    assert "20 rows read (19 readable, 1 unreadable)" in out
    assert "19 of 19 rows mapped" in out
    assert "line 11 (record 10):" in out
    assert "line 121" not in out  # past the 20 rows read


def test_demo_preview_counts_what_its_run_records(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`airflow dags test demo_crm_contacts` recorded rows_read 61 (docs/operations.md): 60 + 1 malformed line."""
    assert main(["preview", "demo_crm_contacts"]) == 0
    assert "61 rows read (60 readable, 1 unreadable)" in capsys.readouterr().out


def test_unknown_source(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no source 'nope'; sources: demo_crm_contacts, demo_loyalty_members" in err
    assert main(["preview", "demo_crm_contact"]) == 1
    assert "no source 'demo_crm_contact'; did you mean 'demo_crm_contacts'?" in capsys.readouterr().err


def test_undefined_connection_is_named(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = workspace / "include" / "sources" / "nowhere.yaml"
    source.write_text(
        """
connector: {type: postgres, conn_id: hw_defined_nowhere, table: t}
mapping:
  target: customer_profile
  fields:
    - {to: customer_id, from: id}
  record_key: customer_id
""".lstrip()
    )
    assert main(["preview", "nowhere"]) == 1
    err = capsys.readouterr().err
    assert f"{source}: connector.conn_id: The conn_id `hw_defined_nowhere` isn't defined; looked in" in err
    assert "Traceback" not in err


def test_missing_salt_is_reported(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "include" / "sources" / "salted.yaml").write_text(
        """
connector: {type: local_files, path: demo/crm_contacts.csv, format: csv}
mapping:
  target: customer_profile
  fields:
    - {to: email_sha256, expr: "sha256_salted(Email, 'hw_test_missing_salt')"}
""".lstrip()
    )
    assert main(["preview", "salted", "--rows", "2"]) == 1
    assert "Airflow Variable 'hw_test_missing_salt', which is not set" in capsys.readouterr().err


# --- connections from Airflow's metadata database -------------------------------------------------

STORED_PASSWORD = "pw-only-in-the-metadata-db-7f3a"
CONNECTION_INSERT = """
import sys
from airflow.models import Connection
from airflow.settings import Session

with Session() as session:
    session.add(Connection(conn_id=sys.argv[1], conn_type="postgres", host="127.0.0.1", port=5432,
                           login="postgres", password=sys.argv[2], schema="test"))
    session.commit()
"""


def _airflow_free_env(**overrides: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HEADWATER_", "_AIRFLOW"))}
    return {**env, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", **overrides}


@pytest.fixture(scope="module")
def metadata_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Airflow metadata DB (SQLite) holding the connection `hw_meta_pg`, as
    `airflow connections add` or the UI would store it (password encrypted with the home's Fernet key)."""
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("airflow_home")
    env = _airflow_free_env(AIRFLOW_HOME=str(home))
    migrate = subprocess.run(
        [str(REPO / ".venv" / "bin" / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    # Through Airflow's own model and session: the `airflow connections add` CLI takes minutes here.
    insert = subprocess.run(
        [sys.executable, "-c", CONNECTION_INSERT, "hw_meta_pg", STORED_PASSWORD],
        env=env,
        capture_output=True,
        text=True,
    )
    assert insert.returncode == 0, insert.stderr
    return home


def test_preview_uses_a_connection_stored_in_the_metadata_db(metadata_db: Path, tmp_path: Path) -> None:
    """The connection exists only in the metadata DB of the Airflow home `make run` would use
    (HEADWATER_AIRFLOW_HOME; AIRFLOW_HOME unset), as after `airflow connections add`."""
    import subprocess

    import psycopg

    from tests.services import require_service, unique

    require_service("PostgreSQL", "127.0.0.1", 5432)
    table = unique("hw_meta_conn")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as pg:
        pg.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, email text)")
        pg.execute(f"INSERT INTO {table} VALUES (1, 'a@x.io'), (2, 'b@x.io'), (3, 'c@x.io')")
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "meta_conn.yaml").write_text(
        f"""
connector: {{type: postgres, conn_id: hw_meta_pg, table: {table}, primary_key: [id]}}
mapping:
  target: customer_profile
  fields:
    - {{to: customer_id, from: id}}
    - {{to: email, from: email}}
  record_key: customer_id
""".lstrip()
    )
    env = _airflow_free_env(
        HEADWATER_AIRFLOW_HOME=str(metadata_db),
        HEADWATER_SOURCES_DIR=str(sources),
        HEADWATER_HOME=str(tmp_path / "home"),
        PYTHONPATH=str(REPO / "plugins"),
    )
    try:
        result = subprocess.run(
            [str(REPO / ".venv" / "bin" / "headwater"), "preview", "meta_conn"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as pg:
            pg.execute(f"DROP TABLE {table}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "3 rows read (3 readable, 0 unreadable)" in result.stdout
    assert "b@x.io" in result.stdout
    assert STORED_PASSWORD not in output
