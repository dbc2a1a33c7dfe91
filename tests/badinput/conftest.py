"""Fixtures shared with tests/pipeline (the workspace) and tests/cloud (moto's S3 server)."""

from tests.cloud.conftest import bucket_name, cloud_logs, moto_server  # noqa: F401
from tests.pipeline.conftest import Workspace, workspace  # noqa: F401
