"""Stage operators: connect → select → map → validate → load → monitor.

Each works in an ordinary hand-written DAG too; the source-file DAG builder is just one user.
"""

from headwater.operators.connect import ConnectOperator
from headwater.operators.load import LoadOperator
from headwater.operators.map import MapOperator
from headwater.operators.monitor import MonitorOperator
from headwater.operators.select import (
    AzureBlobSelectOperator,
    BigQuerySelectOperator,
    GcsSelectOperator,
    LocalFilesSelectOperator,
    MySqlSelectOperator,
    PostgresSelectOperator,
    S3SelectOperator,
    SelectOperator,
    SftpSelectOperator,
    SqliteSelectOperator,
)
from headwater.operators.validate import ValidateOperator

__all__ = [
    "AzureBlobSelectOperator",
    "BigQuerySelectOperator",
    "ConnectOperator",
    "GcsSelectOperator",
    "LoadOperator",
    "LocalFilesSelectOperator",
    "MapOperator",
    "MonitorOperator",
    "MySqlSelectOperator",
    "PostgresSelectOperator",
    "S3SelectOperator",
    "SelectOperator",
    "SftpSelectOperator",
    "SqliteSelectOperator",
    "ValidateOperator",
]
