"""Real clients pointed at a sandbox: databricks-sdk `WorkspaceClient` (PAT or OAuth M2M) and constants."""

from __future__ import annotations

from datetime import UTC, datetime

from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config

from auditor_sandbox import Sandbox

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

AUDITOR = "a0d1703e-0000-4000-8000-000000000001"
RETL = "5e9e0001-0000-4000-8000-000000000001"
DATA_GRAPH = "5e9e0002-0000-4000-8000-000000000002"
DELTA_LAKE = "5e9e0003-0000-4000-8000-000000000003"
PROFILES_SYNC = "5e9e0004-0000-4000-8000-000000000004"
DELTA_LAKE_AWS = "5e9e0005-0000-4000-8000-000000000005"
SEGMENT_SPS = (RETL, DATA_GRAPH, DELTA_LAKE, PROFILES_SYNC, DELTA_LAKE_AWS)
WAREHOUSE = "8a6f3d2c1b0e9f47"
METASTORE = "11111111-2222-4333-8444-555555555555"
ACCOUNT = "e7a3c1d2-0000-4000-8000-00000000acc1"
RETL_TOKEN = "dapi-sandbox-reverse-etl-0001"
DATA_GRAPH_SECRET = "dose-sandbox-data-graph-secret"


def pat_client(sb: Sandbox, token: str | None = None, *, retry_timeout_seconds: int = 10) -> WorkspaceClient:
    """A WorkspaceClient authenticating with a personal access token (the auditor's by default)."""
    config = Config(host=sb.host, token=token or sb.auditor_token, retry_timeout_seconds=retry_timeout_seconds)
    return WorkspaceClient(config=config)


def oauth_client(
    sb: Sandbox,
    client_id: str | None = None,
    client_secret: str | None = None,
    *,
    retry_timeout_seconds: int = 10,
) -> WorkspaceClient:
    """A WorkspaceClient authenticating with OAuth M2M (the auditor's credentials by default)."""
    config = Config(
        host=sb.host,
        client_id=client_id or sb.auditor_client_id,
        client_secret=client_secret or sb.auditor_client_secret,
        auth_type="oauth-m2m",
        retry_timeout_seconds=retry_timeout_seconds,
    )
    return WorkspaceClient(config=config)
