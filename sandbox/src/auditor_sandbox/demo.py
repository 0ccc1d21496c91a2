"""The emulator side of `grants-auditor demo`: the `drifted` scenario, and the operator's mistaken REVOKE.

The auditor's side (the daemon watching, the drift it reports) lives in the auditor; this module only starts
the workspace and plays the operator who, through the real SQL connector, revokes the Delta Lake service
principal's `ALL PRIVILEGES` on `segment_events`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from auditor_sandbox.sandbox import Sandbox

DEMO_SCENARIO = "drifted"
# drifted.yaml: the Delta Lake destination's service principal and the catalog it writes.
DELTA_LAKE_SP = "5e9e0003-0000-4000-8000-000000000003"
DEMO_CATALOG = "segment_events"


def sql_connection(host: str, http_path: str, token: str) -> Any:
    """A databricks-sql-connector connection (Thrift backend) to a plain-HTTP sandbox warehouse."""
    from databricks import sql

    hostname = urlsplit(host).hostname or "127.0.0.1"
    return sql.connect(
        server_hostname=hostname,
        http_path=http_path,
        access_token=token,
        _connection_uri=f"{host.rstrip('/')}{http_path}",
        enable_telemetry=False,
        use_cloud_fetch=False,
        _retry_stop_after_attempts_count=2,
        _retry_delay_max=5,
    )


def execute_sql(host: str, http_path: str, token: str, statement: str) -> None:
    """Run one statement through the real SQL connector."""
    with sql_connection(host, http_path, token) as connection, connection.cursor() as cursor:
        cursor.execute(statement)


class DriftDemo:
    """A running `drifted` sandbox plus the one change the demo makes to it."""

    scenario = DEMO_SCENARIO
    catalog = DEMO_CATALOG
    principal = DELTA_LAKE_SP
    revoke_statement = f"REVOKE ALL PRIVILEGES ON CATALOG {DEMO_CATALOG} FROM `{DELTA_LAKE_SP}`"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @classmethod
    def start(cls) -> DriftDemo:
        """Start the `drifted` scenario on free loopback ports."""
        return cls(Sandbox.start(scenario=DEMO_SCENARIO, port=0))

    @property
    def host(self) -> str:
        return self.sandbox.host

    def config_dict(self) -> dict[str, Any]:
        """A ready auditor config (PAT) pointing at the sandbox."""
        return self.sandbox.config_dict(auth="pat")

    def revoke(self) -> None:
        """Run `revoke_statement` through the SQL warehouse, as an operator would by mistake."""
        execute_sql(self.sandbox.host, self.sandbox.http_path or "", self.sandbox.auditor_token, self.revoke_statement)

    def stop(self) -> None:
        self.sandbox.stop()

    def __enter__(self) -> DriftDemo:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
