"""Amazon S3 (and S3-compatible: MinIO, moto) file source: the amazon provider's S3Hook lists and
streams objects; `FileSource` does matching, incremental state and format reading.

Keys are object keys inside `connector.bucket`; a file's version is its ETag. The connection is an
Airflow `aws` connection: the provider reads login/password, `region_name` and `endpoint_url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from headwater.errors import ConnectionCheckError

from .file_source import FileEntry, FileSource
from .models import S3Connector
from .object_stream import CHUNK_BYTES, ranged_file


class S3SourceHook(S3Hook, FileSource):
    """
    Read objects matching a key, prefix or glob in an S3 bucket (CSV, JSON lines, JSON, Parquet; gzip).

    :param config: the source's `connector:` section (`type: s3`): `conn_id` (an `aws` connection),
        `bucket`, `path` and the file options.
    """

    hook_name = "Amazon S3 (Headwater)"
    page_size = 1000  # keys per ListObjectsV2 page (the S3 maximum)

    def __init__(self, config: S3Connector, **kwargs) -> None:
        super().__init__(aws_conn_id=config.conn_id, **kwargs)
        self.connector = config
        self.notes: list[str] = []
        self._next_state: dict | None = None

    # -- FileSource ------------------------------------------------------------------------------

    def location(self) -> str:
        return f"s3://{self.connector.bucket}/{self.connector.path.lstrip('/')}"

    def display_name(self, entry: FileEntry) -> str:
        return f"s3://{self.connector.bucket}/{entry.key}"

    def list_entries(self, prefix: str) -> list[FileEntry]:
        paginator = self.get_conn().get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.connector.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        entries = []
        with self.translated_errors():
            for page in pages:
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/"):
                        continue  # "folder" placeholder objects created by consoles
                    entries.append(
                        FileEntry(obj["Key"], obj["Size"], obj["LastModified"].timestamp(), obj["ETag"].strip('"'))
                    )
        return entries

    def open_entry(self, entry: FileEntry):
        client = self.get_conn()

        def open_at(offset: int) -> Iterator[bytes]:
            # IfMatch: read exactly the version that was listed (and will be recorded in state). If the
            # object changed since, the read fails and a retried select lists it afresh.
            body = client.get_object(
                Bucket=self.connector.bucket, Key=entry.key, Range=f"bytes={offset}-", IfMatch=f'"{entry.version}"'
            )["Body"]
            try:
                yield from body.iter_chunks(CHUNK_BYTES)
            finally:
                body.close()

        return ranged_file(entry.size, open_at, self.display_name(entry))

    @contextmanager
    def translated_errors(self):
        """Turn botocore errors into messages that say what to fix."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        bucket, conn = self.connector.bucket, self.connector.conn_id
        try:
            yield
        except ClientError as exc:
            raise ConnectionCheckError(self._client_error(exc)) from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            endpoint = self.conn_config.endpoint_url or _origin(exc.kwargs.get("endpoint_url")) or "(AWS default)"
            raise ConnectionCheckError(
                f"cannot reach the S3 endpoint {endpoint} for bucket '{bucket}' (connection '{conn}'): "
                f"{'timed out' if isinstance(exc, ConnectTimeoutError) else 'connection refused or unknown host'}; "
                "check endpoint_url and region_name in the connection's extra"
            ) from exc
        except NoCredentialsError as exc:
            raise ConnectionCheckError(
                f"no AWS credentials for connection '{conn}': set login (access key id) and password "
                "(secret key) on it, or provide credentials through the environment"
            ) from exc

    def _client_error(self, exc) -> str:
        bucket, conn = self.connector.bucket, self.connector.conn_id
        error = exc.response.get("Error", {})
        code = error.get("Code")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket" or (status == 404 and code in (None, "404", "NotFound")):
            return f"bucket '{bucket}' does not exist (connection '{conn}')"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"):
            return f"S3 rejected the credentials of connection '{conn}' ({code}): check its login and password"
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301") or status == 301:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            actual = error.get("Region") or headers.get("x-amz-bucket-region") or "another region"
            ours = self.conn_config.region_name or "the default region"
            return (
                f"bucket '{bucket}' is in {actual!s}, not {ours} (connection '{conn}'); "
                "set region_name in the connection's extra"
            )
        if code in ("AccessDenied", "AllAccessDisabled", "403") or status == 403:
            return (
                f"access denied to bucket '{bucket}' (connection '{conn}'): its credentials may not list or "
                f"read {self.location()}; grant s3:ListBucket and s3:GetObject"
            )
        return f"S3 error on bucket '{bucket}' (connection '{conn}'): {code}: {error.get('Message') or exc}"


def _origin(url: str | None) -> str | None:
    """`https://host:port` of a request URL (the endpoint, without bucket, path and query)."""
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
