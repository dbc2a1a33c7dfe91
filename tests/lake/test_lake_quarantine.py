"""The `_quarantine` table: RowErrors in, idempotent per (source, run)."""

from __future__ import annotations

import pyarrow as pa

from headwater.lake.delta import read_table
from headwater.lake.quarantine import ERRORS_SCHEMA, QUARANTINE_SCHEMA, errors_to_table, write_quarantine
from headwater.records import RowError


def _errors(*rows: int) -> list[RowError]:
    return [
        RowError(
            row=r,
            stage="validate",
            code="expect_column_values_to_not_be_null",
            column="email",
            value=None,
            message="null email",
            record='{"email": null}',
        )
        for r in rows
    ] + [
        RowError(
            row=None,
            stage="select",
            code="MALFORMED_ROW",
            column=None,
            value="a,b,",
            message="3 fields",
            location="people.csv:line 7",
        )
    ]


def test_errors_to_table():
    table = errors_to_table(_errors(4))
    assert table.schema == ERRORS_SCHEMA
    assert table.to_pylist()[1] == {
        "stage": "select",
        "row": None,
        "error_code": "MALFORMED_ROW",
        "column": None,
        "value": "a,b,",
        "message": "3 fields",
        "record": None,
        "location": "people.csv:line 7",
    }
    assert errors_to_table([]).num_rows == 0


def test_write_is_idempotent_per_source_and_run(lake):
    parts = [errors_to_table(_errors(1, 2)), errors_to_table([]), errors_to_table(_errors(7))]
    assert write_quarantine(parts, source="crm", run_id="r'1") == 5
    assert write_quarantine(parts, source="crm", run_id="r'1") == 5  # retried load
    write_quarantine([errors_to_table(_errors(3))], source="crm", run_id="r2")
    write_quarantine([errors_to_table(_errors(3))], source="shop", run_id="r'1")

    table = read_table("_quarantine")
    assert table.schema == QUARANTINE_SCHEMA
    counts = {}
    for row in table.select(["source", "run_id"]).to_pylist():
        key = (row["source"], row["run_id"])
        counts[key] = counts.get(key, 0) + 1
    assert counts == {("crm", "r'1"): 5, ("crm", "r2"): 2, ("shop", "r'1"): 2}
    assert (lake / "_quarantine" / "source=crm").is_dir()  # partitioned by source


def test_a_later_run_of_the_same_batch_replaces_the_rows(lake):
    # the first run read the data, quarantined its bad rows and was killed before its state commit;
    # the next run reads the same data (same batch): its rejections replace the first run's
    write_quarantine([errors_to_table(_errors(1, 2))], source="crm", run_id="r1", batch="e1")
    write_quarantine([errors_to_table(_errors(1, 2))], source="crm", run_id="r2", batch="e1")
    write_quarantine([errors_to_table(_errors(3))], source="crm", run_id="r3", batch="e2")
    rows = read_table("_quarantine").select(["run_id", "batch"]).to_pylist()
    assert sorted((r["run_id"], r["batch"]) for r in rows) == [("r2", "e1")] * 3 + [("r3", "e2")] * 2


def test_nothing_to_write(lake):
    assert write_quarantine([], source="crm", run_id="r") == 0
    assert not (lake / "_quarantine").exists()


def test_parts_read_back_from_parquet_keep_working(lake, tmp_path):
    # Parts come back from staging Parquet files, possibly with a dictionary or large_string type.
    part = errors_to_table(_errors(1)).cast(
        pa.schema(
            [pa.field(f.name, pa.large_string() if f.type == pa.string() else f.type) for f in ERRORS_SCHEMA]
        )
    )
    assert write_quarantine([part], source="crm", run_id="r") == 2
