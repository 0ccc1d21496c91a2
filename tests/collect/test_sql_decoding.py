"""Issue 11: the warehouse's answers are decoded by Thrift's C decoder, with the same rows, NULLs included,
and a statement that fails leaves nothing behind for the next one."""

from __future__ import annotations

from typing import Any

import pytest
from databricks import sql as dbsql

from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.clients import Connections
from auditor.collect.interface import CollectError
from auditor.collect.sqlconn import open_sql_session
from auditor_sandbox import Sandbox
from tests.collect.conftest import target_for

STATEMENT = "SELECT * FROM system.information_schema.external_location_privileges"  # NULL inherited_from rows


def _plain_rows(sandbox: Sandbox) -> list[dict[str, Any]]:
    connection = dbsql.connect(
        server_hostname=sandbox.host.removeprefix("http://"),
        http_path=sandbox.http_path,
        access_token=sandbox.auditor_token,
        enable_telemetry=False,
        _connection_uri=f"{sandbox.host}{sandbox.http_path}",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(STATEMENT)
            names = [str(column[0]).lower() for column in cursor.description or ()]
            return [dict(zip(names, tuple(row), strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def test_sessions_decode_in_c_with_the_same_rows(healthy: Sandbox) -> None:
    target = target_for(healthy)
    session = open_sql_session(Connections(target, Deadline(30), CostMeter()), target.databricks.sql_http_path or "")
    try:
        protocol = session._connection.session.backend._client._iprot
        assert type(protocol).__name__ == "_CDecodingProtocol" and protocol._fast_decode is not None
        rows = session.query(STATEMENT)
        with pytest.raises(CollectError):
            session.query("SELECT * FROM system.information_schema.no_such_view")
        assert session.query(STATEMENT) == rows
    finally:
        session.close()
    assert rows == _plain_rows(healthy)
    assert any(row["inherited_from"] is None for row in rows)
