"""The SQL warehouse endpoint as a Thrift server: sessions, paging, errors, warehouse state, concurrency.

Driven by the real databricks-sql-connector (default Thrift backend) against `Sandbox`, and for what the
connector cannot express (a stolen session handle, a garbage body) by the real thrift client and urllib.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from databricks import sql
from databricks.sql.exc import DatabaseError, RequestError, ServerOperationError
from databricks.sql.thrift_api.TCLIService import TCLIService
from databricks.sql.thrift_api.TCLIService import ttypes as T
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.transport.THttpClient import THttpClient

from auditor_sandbox import Sandbox
from auditor_sandbox.sqlwarehouse import default_endpoint

RETL = "5e9e0001-0000-4000-8000-000000000001"
RETL_TOKEN = "dapi-sandbox-reverse-etl-0001"
METASTORE = "aws:us-east-1:11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def shared() -> Iterator[Sandbox]:
    """One `healthy` sandbox for the tests that leave its state as they found it (or only add to it)."""
    with Sandbox.start(scenario="healthy", port=0) as started:
        yield started


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A `healthy` sandbox of the test's own (warehouse state changes, bulk data)."""
    with Sandbox.start(scenario="healthy", port=0) as started:
        yield started


def connect(sandbox: Sandbox, token: str | None = None, http_path: str | None = None, **options: Any) -> Any:
    path = http_path or sandbox.http_path
    assert path is not None
    return sql.connect(
        server_hostname="127.0.0.1",
        http_path=path,
        _connection_uri=f"{sandbox.host}{path}",
        access_token=token or sandbox.auditor_token,
        enable_telemetry=False,
        use_cloud_fetch=False,
        _retry_stop_after_attempts_count=2,
        _retry_delay_max=5,
        **options,
    )


def fetch(cursor: Any, statement: str) -> list[tuple[Any, ...]]:
    cursor.execute(statement)
    return [tuple(row) for row in cursor.fetchall()]


# -- session functions and namespace -----------------------------------------------------------------------


def test_current_metastore_and_session_namespace(shared: Sandbox) -> None:
    with connect(shared) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_metastore() AS m, current_catalog(), current_schema(), current_user()")
        assert [column[0] for column in cursor.description] == [
            "m",
            "current_catalog()",
            "current_schema()",
            "current_user()",
        ]
        assert [tuple(row) for row in cursor.fetchall()] == [
            (METASTORE, "hive_metastore", "default", "a0d1703e-0000-4000-8000-000000000001")
        ]
        fetch(cursor, "USE CATALOG Segment_Profiles")
        assert fetch(cursor, "SELECT current_catalog(), current_schema()") == [("segment_profiles", "default")]
        fetch(cursor, "USE profiles")
        assert fetch(cursor, "SELECT current_catalog(), current_database()") == [("segment_profiles", "profiles")]
        with pytest.raises(ServerOperationError, match=r"\[SCHEMA_NOT_FOUND\]"):
            cursor.execute("USE SCHEMA nope")
        assert fetch(cursor, "SELECT current_schema()") == [("profiles",)]
        assert fetch(cursor, "SHOW GRANTS ON TABLE user_traits")[0][3] == "segment_profiles"


def test_initial_namespace_from_the_connection(shared: Sandbox) -> None:
    with connect(shared, catalog="main", schema="analytics") as connection, connection.cursor() as cursor:
        assert fetch(cursor, "SELECT current_catalog(), current_schema()") == [("main", "analytics")]
    with pytest.raises(DatabaseError, match=r"\[NO_SUCH_CATALOG_EXCEPTION\]"):
        connect(shared, catalog="nope")


def test_current_metastore_without_unity_catalog_is_an_error() -> None:
    with (
        Sandbox.start(scenario="legacy", port=0) as legacy,
        connect(legacy) as connection,
        connection.cursor() as cursor,
        pytest.raises(ServerOperationError, match=r"\[METASTORE_DOES_NOT_EXIST\]"),
    ):
        cursor.execute("SELECT current_metastore()")


def test_unsupported_statement_fails_and_the_session_goes_on(shared: Sandbox) -> None:
    with connect(shared) as connection, connection.cursor() as cursor:
        for statement in ("DROP CATALOG main", "SELECT 1", "SELECT current_timestamp()", "SHOW SCHEMAS"):
            with pytest.raises(ServerOperationError, match=r"\[UNSUPPORTED_FEATURE\]"):
                cursor.execute(statement)
        with pytest.raises(ServerOperationError, match=r"\[PARSE_SYNTAX_ERROR\]"):
            cursor.execute("SHOW GRANTS ON")
        assert fetch(cursor, "SELECT current_metastore()") == [(METASTORE,)]


# -- results: paging, row limits, asynchronous execution ---------------------------------------------------


def test_results_larger_than_a_page_are_fetched_in_pages(shared: Sandbox) -> None:
    registry = default_endpoint().registry
    open_before = registry.open_operation_count()
    with connect(shared) as connection:
        with connection.cursor() as cursor:
            whole = fetch(cursor, "SELECT * FROM system.information_schema.catalog_privileges ORDER BY 2, 3, 4")
        with connection.cursor(arraysize=2) as cursor:
            paged = fetch(cursor, "SELECT * FROM system.information_schema.catalog_privileges ORDER BY 2, 3, 4")
        with connection.cursor(row_limit=3) as cursor:
            limited = fetch(cursor, "SELECT * FROM system.information_schema.catalog_privileges ORDER BY 2, 3, 4")
        assert len(whole) > 5
        assert paged == whole
        assert limited == whole[:3]
    assert registry.open_operation_count() == open_before


def test_asynchronous_execution_polls_status_then_fetches(shared: Sandbox) -> None:
    with connect(shared) as connection, connection.cursor() as cursor:
        cursor.execute_async("SHOW GRANTS ON CATALOG crm")
        cursor.get_async_execution_result()
        assert {tuple(row)[1] for row in cursor.fetchall()} == {"USAGE", "SELECT", "USE SCHEMA"}
        cursor.execute_async("SHOW GRANTS ON CATALOG nope")
        with pytest.raises(ServerOperationError, match=r"\[NO_SUCH_CATALOG_EXCEPTION\]"):
            cursor.get_async_execution_result()


# -- warehouse state ---------------------------------------------------------------------------------------


def test_stopped_warehouse_is_refused_once_without_retries(sandbox: Sandbox) -> None:
    assert sandbox.warehouse_id is not None
    sandbox.state.compute.set_warehouse_state(sandbox.warehouse_id, "STOPPED", auto_start=False)
    sandbox.reset_request_counts()
    with pytest.raises(RequestError) as caught:
        connect(sandbox)
    message = str(caught.value)
    assert f"warehouse {sandbox.warehouse_id} is STOPPED" in message
    assert sandbox.auditor_token not in message
    assert sandbox.request_counts().get("sql") == 1
    warehouse = sandbox.state.compute.warehouse(sandbox.warehouse_id)
    assert warehouse is not None and warehouse.state == "STOPPED"


def test_stopped_warehouse_auto_starts_when_allowed(sandbox: Sandbox) -> None:
    assert sandbox.warehouse_id is not None
    sandbox.state.compute.set_warehouse_state(sandbox.warehouse_id, "STOPPED", auto_start=True)
    with connect(sandbox) as connection, connection.cursor() as cursor:
        assert fetch(cursor, "SELECT current_metastore()") == [(METASTORE,)]
    warehouse = sandbox.state.compute.warehouse(sandbox.warehouse_id)
    assert warehouse is not None and warehouse.state == "RUNNING"


def test_unknown_warehouse_is_not_found(shared: Sandbox) -> None:
    with pytest.raises(RequestError, match="warehouse 0000000000000000 does not exist"):
        connect(shared, http_path="/sql/1.0/warehouses/0000000000000000")


# -- sessions at the Thrift level --------------------------------------------------------------------------


def thrift_client(sandbox: Sandbox, token: str) -> tuple[TCLIService.Client, THttpClient]:
    transport = THttpClient(f"{sandbox.host}{sandbox.http_path}")
    transport.setCustomHeaders({"Authorization": f"Bearer {token}"})
    return TCLIService.Client(TBinaryProtocol(transport)), transport


def test_a_session_handle_only_works_for_the_caller_that_opened_it(shared: Sandbox) -> None:
    auditor, auditor_transport = thrift_client(shared, shared.auditor_token)
    other, other_transport = thrift_client(shared, RETL_TOKEN)
    try:
        opened = auditor.OpenSession(
            T.TOpenSessionReq(client_protocol_i64=T.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V7)
        )
        assert opened.serverProtocolVersion == T.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V7
        request = T.TExecuteStatementReq(sessionHandle=opened.sessionHandle, statement="SELECT current_user()")
        stolen = other.ExecuteStatement(request)
        assert stolen.status.statusCode == T.TStatusCode.INVALID_HANDLE_STATUS
        own = auditor.ExecuteStatement(request)
        assert own.status.statusCode == T.TStatusCode.SUCCESS_STATUS
        fetched = auditor.FetchResults(
            T.TFetchResultsReq(operationHandle=own.operationHandle, maxRows=10, includeResultSetMetadata=True)
        )
        assert fetched.results.columns[0].stringVal.values == ["a0d1703e-0000-4000-8000-000000000001"]
        assert fetched.resultSetMetadata.schema.columns[0].columnName == "current_user()"
        info = auditor.GetInfo(T.TGetInfoReq(sessionHandle=opened.sessionHandle, infoType=T.TGetInfoType.CLI_DBMS_NAME))
        assert info.infoValue.stringValue == "Spark SQL"
        tables = auditor.GetTables(T.TGetTablesReq(sessionHandle=opened.sessionHandle))
        assert tables.status.statusCode == T.TStatusCode.ERROR_STATUS
        auditor.CloseOperation(T.TCloseOperationReq(operationHandle=own.operationHandle))
        auditor.CloseSession(T.TCloseSessionReq(sessionHandle=opened.sessionHandle))
        closed = auditor.ExecuteStatement(request)
        assert closed.status.statusCode == T.TStatusCode.INVALID_HANDLE_STATUS
    finally:
        auditor_transport.close()
        other_transport.close()


def test_a_body_that_is_not_thrift_is_a_client_error(shared: Sandbox) -> None:
    request = urllib.request.Request(
        f"{shared.host}{shared.http_path}",
        data=b"\x00garbage",
        headers={"Authorization": f"Bearer {shared.auditor_token}", "Content-Type": "application/x-thrift"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert "not a valid TCLIService" in caught.value.headers["x-thriftserver-error-message"]


# -- concurrency -------------------------------------------------------------------------------------------


def test_concurrent_connections_keep_their_own_sessions(shared: Sandbox) -> None:
    workers = 6
    shared.state.catalog.add_catalog("conc", owner="admins")
    for index in range(workers):
        shared.state.catalog.add_schema(f"conc.s{index}")
        shared.state.directory.add_group(f"conc-group-{index}")
    start = threading.Barrier(workers)
    seen: dict[int, list[tuple[Any, ...]]] = {}
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with connect(shared) as connection, connection.cursor() as cursor:
                start.wait(timeout=30)
                for _ in range(3):
                    fetch(cursor, f"USE SCHEMA conc.s{index}")
                    fetch(cursor, f"GRANT USE SCHEMA ON SCHEMA s{index} TO `conc-group-{index}`")
                    seen[index] = fetch(cursor, "SELECT current_schema()")
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert seen == {index: [(f"s{index}",)] for index in range(workers)}
    with connect(shared) as connection, connection.cursor() as cursor:
        granted = fetch(
            cursor,
            "SELECT grantee, schema_name FROM conc.information_schema.schema_privileges ORDER BY schema_name",
        )
    assert granted == [(f"conc-group-{index}", f"s{index}") for index in range(workers)]


# -- bulk --------------------------------------------------------------------------------------------------


def test_table_privileges_over_100000_tables(sandbox: Sandbox) -> None:
    state = sandbox.state
    state.catalog.add_catalog("bulk", owner="admins")
    state.catalog.grant("CATALOG", "bulk", "data-engineers", ["USE_CATALOG"])
    direct: set[tuple[str, str, str]] = set()
    for schema_index in range(100):
        schema = f"bulk.schema_{schema_index:02d}"
        state.catalog.add_schema(schema)
        state.catalog.grant("SCHEMA", schema, "data-engineers", ["USE_SCHEMA"])
        for table_index in range(1000):
            table = state.catalog.add_table(f"{schema}.table_{table_index:03d}")
            if (schema_index * 1000 + table_index) % 7 == 0:
                state.catalog.grant("TABLE", table.full_name, "segment-readers", ["SELECT"])
                if schema_index < 2:
                    direct.add((table.full_name, "segment-readers", "SELECT"))
    assert state.catalog.table_count() >= 100_000
    with connect(sandbox) as connection, connection.cursor(arraysize=100) as cursor:
        two_schemas = fetch(
            cursor,
            "SELECT table_catalog, table_schema, table_name, grantee, privilege_type "
            "FROM system.information_schema.table_privileges "
            "WHERE table_schema IN ('schema_00', 'schema_01') AND inherited_from = 'NONE' "
            "AND table_catalog = 'bulk'",
        )
        newest = fetch(
            cursor,
            "SELECT DISTINCT table_schema, table_name, inherited_from "
            "FROM bulk.information_schema.table_privileges "
            "ORDER BY table_schema DESC, 2 DESC, 3 DESC LIMIT 3",
        )
        one_table = fetch(
            cursor,
            "SELECT grantee, privilege_type, inherited_from FROM bulk.information_schema.table_privileges "
            "WHERE table_schema = 'schema_42' AND table_name = 'table_000' ORDER BY 3 DESC",
        )
    assert {(".".join(row[:3]), row[3], row[4]) for row in two_schemas} == direct
    assert len(two_schemas) == len(direct) == 286
    assert newest == [
        ("schema_99", "table_999", "SCHEMA"),
        ("schema_99", "table_999", "CATALOG"),
        ("schema_99", "table_998", "SCHEMA"),
    ]
    assert one_table == [
        ("data-engineers", "USE_SCHEMA", "SCHEMA"),
        ("segment-readers", "SELECT", "NONE"),
        ("data-engineers", "USE_CATALOG", "CATALOG"),
    ]
