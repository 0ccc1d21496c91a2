"""The sandbox SQL warehouse endpoint: Thrift (TCLIService, binary protocol) over HTTP POST.

This is the server side of what `databricks-sql-connector` speaks by default. The sandbox's HTTP server
authenticates the caller and calls `handle_thrift_request` for ``POST /sql/1.0/warehouses/{id}``.

Behaviour:
- A warehouse that does not exist (or is deleted) answers HTTP 404. One that is not RUNNING answers HTTP
  400 (`STOPPED_WAREHOUSE_STATUS`, a status the connector does not retry) with the reason in the
  ``x-thriftserver-error-message`` header, unless the warehouse auto-starts, in which case it is started
  and the request served.
- OpenSession answers protocol V7 and honours the client's initial catalog and schema.
- ExecuteStatement runs the statement at once. With direct results requested it returns the first
  ``maxRows`` rows column-based, and closes the operation server-side when nothing is left; otherwise the
  client pages with FetchResults and closes the operation itself.
- A failing or unsupported statement is an operation in ERROR_STATE whose message is the Databricks-style
  error (``[CLASS] message SQLSTATE: xxxxx``), so the connector raises ``ServerOperationError``.
- Metadata calls (GetCatalogs, GetTables, ...) answer an ERROR status: the sandbox does not emulate them.
"""

# The connector's generated Thrift classes (ttypes, TCLIService) carry no annotations.
# mypy: disable-error-code="no-untyped-call"
from __future__ import annotations

from typing import Any

import structlog
from databricks.sql.thrift_api.TCLIService import TCLIService
from databricks.sql.thrift_api.TCLIService import ttypes as T
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.transport.TTransport import TMemoryBuffer

from auditor_sandbox.entities import Identity
from auditor_sandbox.sql_errors import SqlError
from auditor_sandbox.sql_exec import execute_statement, initial_namespace
from auditor_sandbox.sql_result import ResultSet
from auditor_sandbox.sql_sessions import Operation, Session, SessionOwner, SessionRegistry
from auditor_sandbox.state import WorkspaceState

THRIFT_CONTENT_TYPE = "application/x-thrift"
ERROR_MESSAGE_HEADER = "x-thriftserver-error-message"
STOPPED_WAREHOUSE_STATUS = 400
"""HTTP status for a warehouse that is not running and may not auto-start: not retried by the connector
(it retries 429 and 503 only), so the auditor sees the refusal at once."""
SERVER_PROTOCOL_VERSION = T.TProtocolVersion.SPARK_CLI_SERVICE_PROTOCOL_V7

_log = structlog.get_logger(__name__)
_OK = T.TStatus(statusCode=T.TStatusCode.SUCCESS_STATUS)
_STRING_TYPE = T.TTypeDesc(types=[T.TTypeEntry(primitiveEntry=T.TPrimitiveTypeEntry(type=T.TTypeId.STRING_TYPE))])
_SERVER_INFO = {
    T.TGetInfoType.CLI_SERVER_NAME: "Spark SQL",
    T.TGetInfoType.CLI_DBMS_NAME: "Spark SQL",
    T.TGetInfoType.CLI_DBMS_VER: "3.5.0",
}

HttpResponse = tuple[int, dict[str, str], bytes]


class SqlWarehouseEndpoint:
    """Serves Thrift requests for any number of sandboxes; holds the open sessions (thread-safe)."""

    def __init__(self, registry: SessionRegistry | None = None) -> None:
        self.registry = registry or SessionRegistry()

    def handle(self, state: WorkspaceState, warehouse_id: str, identity: Identity, body: bytes) -> HttpResponse:
        """Answer one HTTP POST carrying one Thrift call: (status, headers, body)."""
        refusal = _warehouse_refusal(state, warehouse_id)
        if refusal is not None:
            return refusal
        handler = _Handler(self.registry, SessionOwner(state, warehouse_id, identity.name), identity)
        output = TMemoryBuffer()
        try:
            TCLIService.Processor(handler).process(
                TBinaryProtocolAccelerated(TMemoryBuffer(body)), TBinaryProtocolAccelerated(output)
            )
        except Exception as error:  # a body that is not a Thrift call: the client's fault, never a crash
            _log.info("sql_warehouse.malformed_request", warehouse_id=warehouse_id, error=type(error).__name__)
            return _http_error(400, "The request body is not a valid TCLIService Thrift call.")
        return 200, {"Content-Type": THRIFT_CONTENT_TYPE}, output.getvalue()


_DEFAULT_ENDPOINT = SqlWarehouseEndpoint()


def default_endpoint() -> SqlWarehouseEndpoint:
    """The process-wide endpoint `handle_thrift_request` serves with (its registry holds open sessions)."""
    return _DEFAULT_ENDPOINT


def handle_thrift_request(state: WorkspaceState, warehouse_id: str, identity: Identity, body: bytes) -> HttpResponse:
    """Answer ``POST /sql/1.0/warehouses/{warehouse_id}`` for an authenticated caller."""
    return _DEFAULT_ENDPOINT.handle(state, warehouse_id, identity, body)


def _warehouse_refusal(state: WorkspaceState, warehouse_id: str) -> HttpResponse | None:
    with state.lock:
        warehouse = state.compute.warehouse(warehouse_id)
        if warehouse is None or warehouse.state in ("DELETED", "DELETING"):
            return _http_error(404, f"warehouse {warehouse_id} does not exist")
        if warehouse.state == "RUNNING":
            return None
        if not warehouse.auto_start:
            return _http_error(
                STOPPED_WAREHOUSE_STATUS,
                f"warehouse {warehouse_id} is {warehouse.state} and auto-start is disabled; start it first",
            )
        state.compute.start_warehouse(warehouse_id)
    return None


def _http_error(status: int, message: str) -> HttpResponse:
    return (
        status,
        {"Content-Type": "text/plain; charset=utf-8", ERROR_MESSAGE_HEADER: message},
        message.encode(),
    )


def _error_status(error: SqlError) -> T.TStatus:
    return T.TStatus(
        statusCode=T.TStatusCode.ERROR_STATUS,
        sqlState=error.sql_state,
        errorMessage=error.display_message,
        displayMessage=error.display_message,
    )


def _invalid_handle(kind: str) -> T.TStatus:
    message = f"Invalid {kind}: it does not exist, was closed, or belongs to another session or caller."
    return T.TStatus(statusCode=T.TStatusCode.INVALID_HANDLE_STATUS, errorMessage=message, displayMessage=message)


def _not_supported(what: str) -> T.TStatus:
    return _error_status(SqlError.unsupported(what))


class _Handler:
    """TCLIService.Iface for one request: caller and warehouse are fixed; sessions live in the registry."""

    def __init__(self, registry: SessionRegistry, owner: SessionOwner, identity: Identity) -> None:
        self._registry = registry
        self._owner = owner
        self._identity = identity

    # -- sessions --------------------------------------------------------------------------------------------

    def OpenSession(self, req: T.TOpenSessionReq) -> T.TOpenSessionResp:
        requested = req.client_protocol_i64 or req.client_protocol or SERVER_PROTOCOL_VERSION
        version = min(requested, SERVER_PROTOCOL_VERSION)
        wanted = req.initialNamespace
        try:
            namespace = initial_namespace(
                self._owner.state,
                wanted.catalogName if wanted else None,
                wanted.schemaName if wanted else None,
            )
        except SqlError as error:
            return T.TOpenSessionResp(status=_error_status(error), serverProtocolVersion=version)
        session = self._registry.open(self._owner, namespace)
        return T.TOpenSessionResp(
            status=_OK,
            serverProtocolVersion=version,
            sessionHandle=T.TSessionHandle(
                sessionId=T.THandleIdentifier(guid=session.guid, secret=session.secret),
                serverProtocolVersion=version,
            ),
            configuration={},
            initialNamespace=T.TNamespace(catalogName=namespace.catalog, schemaName=namespace.schema),
            canUseMultipleCatalogs=True,
        )

    def CloseSession(self, req: T.TCloseSessionReq) -> T.TCloseSessionResp:
        self._registry.close(_guid(req.sessionHandle), self._owner)
        return T.TCloseSessionResp(status=_OK)

    def GetInfo(self, req: T.TGetInfoReq) -> T.TGetInfoResp:
        if self._session(req.sessionHandle) is None:
            return T.TGetInfoResp(status=_invalid_handle("SessionHandle"))
        value = _SERVER_INFO.get(req.infoType)
        if value is None:
            return T.TGetInfoResp(status=_not_supported(f"GetInfo type {req.infoType}"))
        return T.TGetInfoResp(status=_OK, infoValue=T.TGetInfoValue(stringValue=value))

    # -- statements ------------------------------------------------------------------------------------------

    def ExecuteStatement(self, req: T.TExecuteStatementReq) -> T.TExecuteStatementResp:
        session = self._session(req.sessionHandle)
        if session is None:
            return T.TExecuteStatementResp(status=_invalid_handle("SessionHandle"))
        operation = self._run(session, req.statement or "")
        if operation.result is not None and req.resultRowLimit is not None and req.resultRowLimit >= 0:
            result = operation.result
            operation.result = ResultSet(result.columns, result.rows[: req.resultRowLimit])
        handle = _operation_handle(operation)
        if req.getDirectResults is None:
            self._registry.add_operation(session, operation)
            return T.TExecuteStatementResp(status=_OK, operationHandle=handle)
        direct = T.TSparkDirectResults(operationStatus=_operation_status(operation))
        if operation.result is None:
            direct.closeOperation = T.TCloseOperationResp(status=_OK)
        else:
            direct.resultSetMetadata = _metadata(operation.result)
            direct.resultSet = _next_page(operation, req.getDirectResults.maxRows)
            if direct.resultSet.hasMoreRows:
                self._registry.add_operation(session, operation)
            else:
                direct.closeOperation = T.TCloseOperationResp(status=_OK)
        return T.TExecuteStatementResp(status=_OK, operationHandle=handle, directResults=direct)

    def GetOperationStatus(self, req: T.TGetOperationStatusReq) -> T.TGetOperationStatusResp:
        found = self._registry.operation(_guid(req.operationHandle), self._owner)
        if found is None:
            return T.TGetOperationStatusResp(status=_invalid_handle("OperationHandle"))
        return _operation_status(found[1])

    def GetResultSetMetadata(self, req: T.TGetResultSetMetadataReq) -> T.TGetResultSetMetadataResp:
        found = self._registry.operation(_guid(req.operationHandle), self._owner)
        if found is None:
            return T.TGetResultSetMetadataResp(status=_invalid_handle("OperationHandle"))
        operation = found[1]
        if operation.result is None:
            error = operation.error or SqlError.unsupported("metadata for a statement without a result")
            return T.TGetResultSetMetadataResp(status=_error_status(error))
        return _metadata(operation.result)

    def FetchResults(self, req: T.TFetchResultsReq) -> T.TFetchResultsResp:
        found = self._registry.operation(_guid(req.operationHandle), self._owner)
        if found is None:
            return T.TFetchResultsResp(status=_invalid_handle("OperationHandle"))
        session, operation = found
        if operation.result is None:
            error = operation.error or SqlError.unsupported("fetching a statement without a result")
            return T.TFetchResultsResp(status=_error_status(error))
        with session.lock:
            if req.orientation == T.TFetchOrientation.FETCH_FIRST:
                operation.position = 0
            page = _next_page(operation, req.maxRows)
        if req.includeResultSetMetadata:
            page.resultSetMetadata = _metadata(operation.result)
        return page

    def CloseOperation(self, req: T.TCloseOperationReq) -> T.TCloseOperationResp:
        self._registry.close_operation(_guid(req.operationHandle), self._owner)
        return T.TCloseOperationResp(status=_OK)

    def CancelOperation(self, req: T.TCancelOperationReq) -> T.TCancelOperationResp:
        # Statements finish before ExecuteStatement returns, so there is never anything left to cancel.
        return T.TCancelOperationResp(status=_OK)

    # -- metadata calls the sandbox does not emulate ---------------------------------------------------------

    def GetTypeInfo(self, req: Any) -> T.TGetTypeInfoResp:
        return T.TGetTypeInfoResp(status=_not_supported("GetTypeInfo"))

    def GetCatalogs(self, req: Any) -> T.TGetCatalogsResp:
        return T.TGetCatalogsResp(status=_not_supported("GetCatalogs (use SQL)"))

    def GetSchemas(self, req: Any) -> T.TGetSchemasResp:
        return T.TGetSchemasResp(status=_not_supported("GetSchemas (use SQL)"))

    def GetTables(self, req: Any) -> T.TGetTablesResp:
        return T.TGetTablesResp(status=_not_supported("GetTables (use SQL)"))

    def GetTableTypes(self, req: Any) -> T.TGetTableTypesResp:
        return T.TGetTableTypesResp(status=_not_supported("GetTableTypes"))

    def GetColumns(self, req: Any) -> T.TGetColumnsResp:
        return T.TGetColumnsResp(status=_not_supported("GetColumns"))

    def GetFunctions(self, req: Any) -> T.TGetFunctionsResp:
        return T.TGetFunctionsResp(status=_not_supported("GetFunctions"))

    def GetPrimaryKeys(self, req: Any) -> T.TGetPrimaryKeysResp:
        return T.TGetPrimaryKeysResp(status=_not_supported("GetPrimaryKeys"))

    def GetCrossReference(self, req: Any) -> T.TGetCrossReferenceResp:
        return T.TGetCrossReferenceResp(status=_not_supported("GetCrossReference"))

    def GetDelegationToken(self, req: Any) -> T.TGetDelegationTokenResp:
        return T.TGetDelegationTokenResp(status=_not_supported("delegation tokens"))

    def CancelDelegationToken(self, req: Any) -> T.TCancelDelegationTokenResp:
        return T.TCancelDelegationTokenResp(status=_not_supported("delegation tokens"))

    def RenewDelegationToken(self, req: Any) -> T.TRenewDelegationTokenResp:
        return T.TRenewDelegationTokenResp(status=_not_supported("delegation tokens"))

    # -- helpers ---------------------------------------------------------------------------------------------

    def _session(self, handle: T.TSessionHandle | None) -> Session | None:
        return self._registry.session(_guid(handle), self._owner)

    def _run(self, session: Session, sql: str) -> Operation:
        with session.lock:
            try:
                execution = execute_statement(self._owner.state, self._identity, session.namespace, sql)
            except SqlError as error:
                return Operation(None, error)
            except Exception as error:
                _log.exception("sql_warehouse.internal_error", error=type(error).__name__)
                return Operation(None, SqlError("INTERNAL_ERROR", f"{type(error).__name__}", "XX000"))
            session.namespace = execution.namespace
        return Operation(execution.result, None)


def _guid(handle: T.TSessionHandle | T.TOperationHandle | None) -> bytes | None:
    if handle is None:
        return None
    identifier = handle.sessionId if isinstance(handle, T.TSessionHandle) else handle.operationId
    return identifier.guid if identifier is not None else None


def _operation_handle(operation: Operation) -> T.TOperationHandle:
    return T.TOperationHandle(
        operationId=T.THandleIdentifier(guid=operation.guid, secret=operation.secret),
        operationType=T.TOperationType.EXECUTE_STATEMENT,
        hasResultSet=operation.result is not None,
    )


def _operation_status(operation: Operation) -> T.TGetOperationStatusResp:
    error = operation.error
    if error is None:
        return T.TGetOperationStatusResp(status=_OK, operationState=T.TOperationState.FINISHED_STATE, hasResultSet=True)
    return T.TGetOperationStatusResp(
        status=_OK,
        operationState=T.TOperationState.ERROR_STATE,
        sqlState=error.sql_state,
        errorMessage=error.display_message,
        displayMessage=error.display_message,
        hasResultSet=False,
    )


def _metadata(result: ResultSet) -> T.TGetResultSetMetadataResp:
    columns = [
        T.TColumnDesc(columnName=name, typeDesc=_STRING_TYPE, position=position)
        for position, name in enumerate(result.columns, start=1)
    ]
    return T.TGetResultSetMetadataResp(
        status=_OK,
        schema=T.TTableSchema(columns=columns),
        resultFormat=T.TSparkRowSetType.COLUMN_BASED_SET,
        lz4Compressed=False,
        isStagingOperation=False,
    )


def _next_page(operation: Operation, max_rows: int | None) -> T.TFetchResultsResp:
    """The next `max_rows` rows (all remaining if `max_rows` is not positive), column-based."""
    result = operation.result
    assert result is not None
    start = operation.position
    end = len(result.rows) if not max_rows or max_rows <= 0 else min(len(result.rows), start + max_rows)
    operation.position = end
    page = ResultSet(result.columns, result.rows[start:end])
    columns = [_string_column(values) for values in page.column_values()]
    return T.TFetchResultsResp(
        status=_OK,
        hasMoreRows=end < len(result.rows),
        results=T.TRowSet(startRowOffset=start, rows=[], columns=columns),
    )


def _string_column(values: list[str | None]) -> T.TColumn:
    nulls = bytearray((len(values) + 7) // 8)
    has_null = False
    for index, value in enumerate(values):
        if value is None:
            nulls[index >> 3] |= 1 << (index & 7)
            has_null = True
    strings = [value if value is not None else "" for value in values]
    return T.TColumn(stringVal=T.TStringColumn(values=strings, nulls=bytes(nulls) if has_null else b""))
