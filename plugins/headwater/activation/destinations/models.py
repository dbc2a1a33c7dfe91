"""Config models of the `destinations:` entries of an audience file, one per destination type.

Light on purpose (pydantic only): they are validated at DAG parse time. Secrets never appear
here: every destination names an Airflow connection.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from headwater.config.base import StrictModel

Signal = Literal["add", "remove", "modify"]
_NAME = r"^[a-z][a-z0-9_]*$"


class DestinationBase(StrictModel):
    """What every destination entry has."""

    name: str = Field(pattern=_NAME, description="Unique within the audience; keys the acknowledged membership.")
    signals: list[Signal] | None = Field(
        None, description="Signals to send (default: every signal the destination type supports)."
    )
    send_variables: bool | None = Field(
        None, description="Send the audience's variables with each profile (default: when the type supports it)."
    )
    identity: str = Field(
        "email", description="Identity namespace that names the person at the destination (email, phone, crm_id, ...)."
    )
    batch_size: int = Field(500, ge=1, le=100_000, description="Signals per request / transaction.")


class WebhookDestination(DestinationBase):
    """JSON batches POSTed to an HTTP endpoint, signed with HMAC-SHA256."""

    type: Literal["webhook"]
    conn_id: str = Field(
        description="Airflow HTTP connection: host (and schema http/https, port) of the endpoint; "
        "its password is the HMAC signing secret."
    )
    path: str = Field("/", description="Path appended to the connection's host.")
    signature_header: str = Field("X-Headwater-Signature", description="Header carrying 'sha256=<hex HMAC of the body>'.")
    max_attempts: int = Field(6, ge=1, le=20, description="Tries per batch (5xx, timeouts, 429) before the run fails.")
    timeout_s: float = Field(30.0, gt=0, description="Timeout of one request.")


class SqlTableDestination(DestinationBase):
    """Upsert (add, modify) and delete (remove) rows of a PostgreSQL or MySQL table."""

    type: Literal["sql_table"]
    conn_id: str = Field(description="Airflow connection of type postgres or mysql.")
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$", description="Table ([schema.]name); created when missing.")
    batch_size: int = Field(5000, ge=1, le=100_000, description="Rows per transaction.")


class FileDropDestination(DestinationBase):
    """One CSV or JSON-lines file per run with every signal, written atomically."""

    type: Literal["file_drop"]
    uri: str = Field(description="Folder: a local path, or s3://, gs://, abfs://, sftp:// URI.")
    conn_id: str | None = Field(None, description="Airflow connection with the storage credentials (aws, wasb, google_cloud_platform, sftp).")
    format: Literal["csv", "jsonl"] = Field("csv", description="File format.")
    batch_size: int = Field(100_000, ge=1, le=10_000_000, description="Signals per file; a run writes one file unless it has more.")


class CustomerIoDestination(DestinationBase):
    """Customer.io Track API: identify people with attributes, add/remove them from a manual segment."""

    type: Literal["customerio"]
    conn_id: str = Field(description="Airflow connection: login = site id, password = Track API key, host = API base (default track.customer.io).")
    segment_id: int = Field(ge=1, description="Id of the manual segment the audience fills.")
    identity: str = Field("email", description="Identity namespace used as the Customer.io id.")
    batch_size: int = Field(1000, ge=1, le=1000, description="People per segment call (Customer.io takes at most 1000).")


class AdAudienceDestination(DestinationBase):
    """Customer list of an ad platform (Meta custom audience shape): SHA-256 hashed, normalised emails/phones."""

    type: Literal["ad_audience"]
    conn_id: str = Field(description="Airflow connection: host = API base, password = access token.")
    audience_id: str = Field(description="Id of the custom audience / user list.")
    batch_size: int = Field(10_000, ge=1, le=10_000, description="Users per request (Meta: at most 10,000).")


class SfmcDestination(DestinationBase):
    """Salesforce Marketing Cloud data extension: upsert / delete rows through the REST API."""

    type: Literal["salesforce_marketing_cloud"]
    conn_id: str = Field(description="Airflow connection: login = client id, password = client secret, host = auth base URL; extra rest_base_url.")
    data_extension_key: str = Field(description="External key of the data extension; its primary key column is `profile_id`.")
    batch_size: int = Field(2500, ge=1, le=2500, description="Rows per request.")
