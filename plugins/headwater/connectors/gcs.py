"""Google Cloud Storage file source: the google provider's GCSHook lists and streams objects;
`FileSource` does matching, incremental state and format reading.

Keys are object names inside `connector.bucket`; a file's version is its generation. The connection
is an Airflow `google_cloud_platform` connection (key file, or `is_anonymous` for emulators); the
storage client honours `STORAGE_EMULATOR_HOST` for a local emulator.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from airflow.providers.google.cloud.hooks.gcs import GCSHook

from headwater.errors import ConnectionCheckError

from .file_source import FileEntry, FileSource
from .models import GcsConnector
from .object_stream import CHUNK_BYTES, guarded_file

DEFAULT_ENDPOINT = "https://storage.googleapis.com"


class GcsSourceHook(GCSHook, FileSource):
    """
    Read objects matching a name, prefix or glob in a GCS bucket (CSV, JSON lines, JSON, Parquet; gzip).

    :param config: the source's `connector:` section (`type: gcs`): `conn_id` (a
        `google_cloud_platform` connection), `bucket`, `path` and the file options.
    """

    hook_name = "Google Cloud Storage (Headwater)"
    page_size = 1000  # objects per list page (the API maximum)

    def __init__(self, config: GcsConnector, **kwargs) -> None:
        super().__init__(gcp_conn_id=config.conn_id, **kwargs)
        self.connector = config
        self.notes: list[str] = []
        self._next_state: dict | None = None

    def location(self) -> str:
        return f"gs://{self.connector.bucket}/{self.connector.path.lstrip('/')}"

    def display_name(self, entry: FileEntry) -> str:
        return f"gs://{self.connector.bucket}/{entry.key}"

    def list_entries(self, prefix: str) -> list[FileEntry]:
        entries = []
        with self.translated_errors():
            blobs = self.get_conn().list_blobs(self.connector.bucket, prefix=prefix or None, page_size=self.page_size)
            for blob in blobs:  # the iterator fetches the next page as it goes
                if blob.name.endswith("/"):
                    continue  # "folder" placeholder objects
                entries.append(FileEntry(blob.name, blob.size, blob.updated.timestamp(), str(blob.generation)))
        return entries

    def open_entry(self, entry: FileEntry):
        # Pinned to the listed generation: the content read is the version recorded in state. BlobReader
        # downloads CHUNK_BYTES ranges on demand and seeks by starting a new range.
        blob = self.get_conn().bucket(self.connector.bucket).blob(entry.key, generation=int(entry.version))
        return guarded_file(blob.open("rb", chunk_size=CHUNK_BYTES), self.display_name(entry))

    def endpoint(self) -> str:
        return os.environ.get("STORAGE_EMULATOR_HOST") or DEFAULT_ENDPOINT

    @contextmanager
    def translated_errors(self):
        """Turn Google API and transport errors into messages that say what to fix."""
        from google.api_core import exceptions as api
        from google.auth.exceptions import DefaultCredentialsError, RefreshError
        from requests.exceptions import ConnectionError as RequestsConnectionError

        bucket, conn = self.connector.bucket, self.connector.conn_id
        try:
            yield
        except api.NotFound as exc:
            raise ConnectionCheckError(f"bucket '{bucket}' does not exist (connection '{conn}')") from exc
        except (api.Forbidden, api.Unauthorized) as exc:
            raise ConnectionCheckError(
                f"access denied to bucket '{bucket}' (connection '{conn}'): its credentials may not list or "
                f"read {self.location()}; grant storage.objects.list and storage.objects.get "
                f"({exc.message})"
            ) from exc
        except (DefaultCredentialsError, RefreshError) as exc:
            raise ConnectionCheckError(
                f"no usable Google credentials for connection '{conn}': set key_path or keyfile_dict "
                f"(or is_anonymous for an emulator) in its extra ({exc})"
            ) from exc
        except (RequestsConnectionError, api.RetryError) as exc:
            raise ConnectionCheckError(
                f"cannot reach the GCS endpoint {self.endpoint()} for bucket '{bucket}' (connection '{conn}'): "
                "connection refused, unknown host or timed out; check STORAGE_EMULATOR_HOST or the network"
            ) from exc
