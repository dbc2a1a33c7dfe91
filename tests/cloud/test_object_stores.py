"""S3 (moto), GCS (gcp-storage-emulator) and Azure Blob (Azurite): the shared object-store scenarios.

Each scenario runs once per store; store-specific errors live in test_s3.py and test_azure_blob.py.
"""

from __future__ import annotations

import pytest

from . import scenarios
from .stores import azure_store, gcs_store, s3_store

pytestmark = pytest.mark.integration

# store name → (stand-in fixture, adapter factory, what the store calls a bucket)
STORES = {
    "s3": ("moto_server", s3_store, "bucket"),
    "gcs": ("gcs_emulator", gcs_store, "bucket"),
    "azure_blob": ("azurite", azure_store, "container"),
}


@pytest.fixture(params=list(STORES))
def store(request, monkeypatch, bucket_name):
    server, factory, kind = STORES[request.param]
    adapter = factory(request.getfixturevalue(server), monkeypatch, bucket_name)
    adapter.kind = kind
    return adapter


def test_mixed_folder_then_only_new_and_changed_files(workspace, store):
    scenarios.mixed_folder_then_only_changes(workspace, store)


def test_identical_mtimes_are_both_ingested_once(workspace, store):
    scenarios.identical_mtimes_both_ingested_once(workspace, store)


def test_retried_select_and_load_do_not_double_rows(workspace, store):
    scenarios.retried_select_and_load_do_not_double_rows(workspace, store)


def test_reingest_parameter(workspace, store):
    scenarios.reingest_param_reads_a_file_again(workspace, store)


def test_missing_bucket_or_container(workspace, store):
    scenarios.missing_bucket_is_a_clear_connect_error(workspace, store, kind=store.kind)


def test_no_matching_file_is_not_an_error(store):
    scenarios.no_matching_file_is_not_an_error(store)


def test_listing_follows_pages(store):
    scenarios.listing_follows_pages(store)


def test_large_object_streams_and_seeks(store):
    scenarios.large_object_streams_and_seeks(store)
