"""Azure Blob Storage file source: the microsoft-azure provider's WasbHook lists and streams blobs;
`FileSource` does matching, incremental state and format reading.

Keys are blob names inside `connector.container`; a file's version is its ETag. The connection is an
Airflow `wasb` connection (a connection string, an account key, SAS or Azure AD, as the provider
supports).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

from headwater.errors import ConnectionCheckError

from .file_source import FileEntry, FileSource
from .models import AzureBlobConnector
from .object_stream import CHUNK_BYTES, ranged_file

# One ranged download per window keeps memory bounded: a single `download_blob()` of a whole blob
# buffers its first 32 MiB (the SDK's max_single_get_size) before yielding anything.
WINDOW_BYTES = 4 * CHUNK_BYTES


class AzureBlobSourceHook(WasbHook, FileSource):
    """
    Read blobs matching a name, prefix or glob in an Azure container (CSV, JSON lines, JSON, Parquet; gzip).

    :param config: the source's `connector:` section (`type: azure_blob`): `conn_id` (a `wasb`
        connection), `container`, `path` and the file options.
    """

    hook_name = "Azure Blob Storage (Headwater)"
    page_size = 5000  # blobs per List Blobs page (the API maximum)

    def __init__(self, config: AzureBlobConnector, **kwargs) -> None:
        super().__init__(wasb_conn_id=config.conn_id, **kwargs)
        self.connector = config
        self.notes: list[str] = []
        self._next_state: dict | None = None

    def _container(self):
        return self.blob_service_client.get_container_client(self.connector.container)

    def location(self) -> str:
        return f"{self._account()}/{self.connector.container}/{self.connector.path.lstrip('/')}"

    def display_name(self, entry: FileEntry) -> str:
        return f"{self._account()}/{self.connector.container}/{entry.key}"

    def _account(self) -> str:
        return self.blob_service_client.url.rstrip("/")

    def list_entries(self, prefix: str) -> list[FileEntry]:
        entries = []
        with self.translated_errors():
            blobs = self._container().list_blobs(name_starts_with=prefix or None, results_per_page=self.page_size)
            for blob in blobs:  # ItemPaged follows the continuation marker page by page
                if blob.name.endswith("/"):
                    continue  # "folder" placeholder blobs
                entries.append(FileEntry(blob.name, blob.size, blob.last_modified.timestamp(), blob.etag.strip('"')))
        return entries

    def open_entry(self, entry: FileEntry):
        from azure.core import MatchConditions

        blob = self._container().get_blob_client(entry.key)

        def open_at(offset: int) -> Iterator[bytes]:
            while offset < entry.size:
                length = min(WINDOW_BYTES, entry.size - offset)
                # Only the listed version (its ETag) is read: if the blob changed since, the read fails
                # and a retried select lists it afresh, so state never records content it did not read.
                download = blob.download_blob(
                    offset=offset,
                    length=length,
                    etag=f'"{entry.version}"',
                    match_condition=MatchConditions.IfNotModified,
                )
                for piece in download.chunks():
                    offset += len(piece)
                    yield piece

        return ranged_file(entry.size, open_at, self.display_name(entry))

    @contextmanager
    def translated_errors(self):
        """Turn Azure SDK errors into messages that say what to fix."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        container, conn = self.connector.container, self.connector.conn_id
        try:
            yield
        except ResourceNotFoundError as exc:
            raise ConnectionCheckError(f"container '{container}' does not exist (connection '{conn}')") from exc
        except ServiceRequestError as exc:
            raise ConnectionCheckError(
                f"cannot reach the Azure Blob endpoint {self._account()} for container '{container}' "
                f"(connection '{conn}'): connection refused, unknown host or timed out; check the "
                "connection string / account URL of the connection"
            ) from exc
        except (ClientAuthenticationError, HttpResponseError) as exc:
            if exc.status_code not in (401, 403):
                raise
            code = getattr(exc, "error_code", None)
            raise ConnectionCheckError(
                f"access denied to container '{container}' (connection '{conn}'): "
                f"{getattr(code, 'value', code) or exc.reason}; check the account key, SAS token or role "
                "(listing and reading blobs need Storage Blob Data Reader)"
            ) from exc
