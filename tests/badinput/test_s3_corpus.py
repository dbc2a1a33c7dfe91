"""Part of the bad input corpus through an S3 source (moto's S3 server): objects are read through
ranged GETs, so a CSV record longer than a block is read again from the object's start."""

from __future__ import annotations

import pytest

from tests.cloud.stores import s3_store

from .checks import apply, run_and_check, source_file
from .corpus import CASES, Case

pytestmark = pytest.mark.integration

S3_CASES = [
    c
    for c in CASES
    if c.id
    in {
        "csv_10mb_field_over_the_block_size",
        "csv_record_numbers_after_malformed_rows",
        "csv_truncated_gzip",
        "csv_gzip_bomb",
        "jsonl_100000_levels_deep",
        "jsonl_lone_surrogate_key",
        "json_deep_item",
        "parquet_truncated",
    }
]


@pytest.mark.parametrize("case", S3_CASES, ids=[c.id for c in S3_CASES])
def test_bad_objects_are_quarantined_or_a_clear_error(workspace, moto_server, monkeypatch, bucket_name, case: Case):
    apply(case, monkeypatch)
    store = s3_store(moto_server, monkeypatch, bucket_name)
    for name, data in case.files.items():
        store.put(f"landing/{name}", data)
    source_file(workspace, "bad_input_s3", store.connector("landing/*"))
    run_and_check(workspace, case, "bad_input_s3", lambda f: store.name(f"landing/{f}"))
