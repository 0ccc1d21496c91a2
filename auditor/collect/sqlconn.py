"""A SQL session on the configured warehouse (databricks-sql-connector, default Thrift backend).

The connector's retry defaults would outlive any cycle (a 60 s minimum wait per retry, 900 s in total,
15-minute socket timeouts): every one of them is bounded by the deadline here. Statements run one at a
time on the session; each one is counted, and the HTTP requests the session sent are read back from its
connection pool when it closes.

Results are decoded by Thrift's C decoder (`fastbinary`): the connector reads them with the pure-Python
protocol straight from the HTTP response, two small socket reads per string cell, which was a quarter of
a 100,000-table cycle (issue 11). `_decode_in_c` gives the session's client a protocol that reads each
response through a buffer the C decoder can refill; six times less CPU per row.
"""

from __future__ import annotations

import contextlib
import re
import threading
from io import BytesIO
from typing import Any
from urllib.parse import urlparse

import urllib3
from databricks import sql as dbsql
from databricks.sql import exc as sql_exc
from thrift.protocol.TBinaryProtocol import TBinaryProtocolAccelerated
from thrift.transport.TTransport import CReadableTransport, TTransportBase

from auditor.collect.clients import Connections
from auditor.collect.http import connection_failure
from auditor.collect.interface import CollectError, NotVisible, ObjectNotFound, ReadFailed

# The connector clamps its maximum retry delay to at least 5 s (reference §7.3): the smallest allowed.
_CONNECTOR_MIN_RETRY_DELAY_MAX = 5.0
_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_.]*)\]")
_NOT_FOUND_CLASSES = frozenset(
    {
        "NO_SUCH_CATALOG_EXCEPTION",
        "SCHEMA_NOT_FOUND",
        "TABLE_OR_VIEW_NOT_FOUND",
        "PRINCIPAL_DOES_NOT_EXIST",
        "METASTORE_DOES_NOT_EXIST",
        "NOT_FOUND",
        "RESOURCE_DOES_NOT_EXIST",
    }
)
_DENIED_CLASSES = frozenset({"INSUFFICIENT_PERMISSIONS", "PERMISSION_DENIED", "UNAUTHORIZED_ACCESS"})


class SqlSession:
    """One open connection; `query` returns rows as dicts keyed by lower-cased column name."""

    def __init__(self, connection: Any, connections: Connections) -> None:
        self._connection = connection
        self._connections = connections
        self._lock = threading.Lock()
        self._closed = False
        self._counted = 0
        self._count_lock = threading.Lock()

    def query(self, statement: str) -> list[dict[str, Any]]:
        """Execute one statement and fetch every row; failures raise `ReadFailure` / `ObjectNotFound`."""
        return self.query_described(statement)[1]

    def query_described(self, statement: str) -> tuple[list[str], list[dict[str, Any]]]:
        """`query`, with the column names as the warehouse spelled them (rows stay keyed lower-case)."""
        with self._lock:
            if self._connections.deadline.expired():
                raise ReadFailed("deadline exceeded before the statement could run", api_family="sql")
            self._connections.meter.statement()
            try:
                with self._connection.cursor() as cursor:
                    cursor.execute(statement)
                    spelled = [str(column[0]) for column in cursor.description or ()]
                    names = [name.lower() for name in spelled]
                    return spelled, [dict(zip(names, tuple(row), strict=False)) for row in cursor.fetchall()]
            except Exception as exc:
                raise translate_sql_error(exc) from None

    def close(self) -> None:
        """Close the session and add the HTTP requests it sent to the cost meter."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(Exception):  # best effort: the reads are done
                self._connection.close()
        self.count_requests()

    def count_requests(self) -> None:
        """Add the HTTP requests sent since the last count to the cost meter (safe from any thread)."""
        sent = _pool_requests(self._connection)
        with self._count_lock:
            if sent is None:  # not observable: count the session's opening at least
                sent = max(1, self._counted)
            delta, self._counted = sent - self._counted, max(sent, self._counted)
        if delta > 0:
            self._connections.meter.request("sql", delta)


def open_sql_session(connections: Connections, http_path: str, *, retry_budget: float | None = None) -> SqlSession:
    """Open a session on the warehouse behind ``http_path`` with every retry knob bound by the deadline.

    ``retry_budget`` caps the seconds spent retrying (default: what is left of the deadline), so that a
    caller with a fallback keeps time for it.
    """
    target = connections.target.databricks
    deadline = connections.deadline
    if deadline.expired():
        raise ReadFailed("deadline exceeded before the SQL session could open", api_family="sql")
    parsed = urlparse(target.host)
    sql_url = f"{parsed.scheme or 'https'}://{parsed.netloc or target.host}"
    # the warehouse host has its own circuit, opened by its first connection-level failure this cycle
    known_dead = connections.breaker.reason(sql_url)
    if known_dead is not None:
        raise ReadFailed(known_dead, api_family="sql")
    kwargs: dict[str, Any] = {
        "server_hostname": parsed.netloc,
        "http_path": http_path,
        "enable_telemetry": False,
        "use_cloud_fetch": False,
        "_retry_delay_min": 0.1,
        "_retry_delay_max": _CONNECTOR_MIN_RETRY_DELAY_MAX,
        "_retry_stop_after_attempts_count": max(1, connections.policy.max_retries),
        "_retry_stop_after_attempts_duration": max(1.0, deadline.bound(retry_budget or deadline.remaining())),
        "_socket_timeout": max(0.5, deadline.bound(target.request_timeout_seconds)),
        **connections.sql_credentials(),
    }
    if parsed.scheme == "http":
        kwargs["_connection_uri"] = f"{target.host}{http_path}"
    try:
        connection = dbsql.connect(**kwargs)
    except Exception as exc:
        connections.meter.request("sql")
        if connection_failure(exc) in _UNREACHABLE:
            raise ReadFailed(connections.breaker.trip(sql_url, "SQL warehouse", exc), api_family="sql") from None
        failure = translate_sql_error(exc)
        if isinstance(failure, ObjectNotFound):
            failure = ReadFailed(f"SQL warehouse not reachable at {http_path}", api_family="sql")
        raise failure from None
    _decode_in_c(connection)
    return SqlSession(connection, connections)


class _ResponseReader(TTransportBase, CReadableTransport):  # type: ignore[misc]
    """Reads the current HTTP response of the connector's transport in large chunks, as a buffer the C
    decoder refills itself (thrift's `TBufferedTransport`, read side only). Each message starts afresh."""

    CHUNK = 1 << 16

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._buffer = BytesIO(b"")

    def new_message(self) -> None:
        self._buffer = BytesIO(b"")  # nothing a failed read left behind reaches the next response

    def isOpen(self) -> bool:
        return bool(self._transport.isOpen())

    def read(self, size: int) -> bytes:
        data = self._buffer.read(size)
        if data:
            return data
        self._buffer = BytesIO(self._transport.read(max(size, self.CHUNK)))
        return self._buffer.read(size)

    @property
    def cstringio_buf(self) -> BytesIO:
        return self._buffer

    def cstringio_refill(self, partial: bytes, wanted: int) -> BytesIO:
        data = partial
        if wanted < self.CHUNK:
            data += self._transport.read(self.CHUNK)
        if len(data) < wanted:
            data += self._transport.readAll(wanted - len(data))
        self._buffer = BytesIO(data)
        return self._buffer


class _CDecodingProtocol(TBinaryProtocolAccelerated):  # type: ignore[misc]
    def readMessageBegin(self) -> Any:
        self.trans.new_message()
        return super().readMessageBegin()


def _decode_in_c(connection: Any) -> None:
    """Read the connection's responses with the C decoder; leave the connector as it is when its
    internals (4.x: `session.backend._client._iprot`, `_transport`) are not where they were."""
    backend = getattr(getattr(connection, "session", None), "backend", None)
    client: Any = getattr(backend, "_client", None)
    transport = getattr(backend, "_transport", None)
    current = getattr(client, "_iprot", None)
    if transport is None or current is None or getattr(current, "trans", None) is not transport:
        return
    client._iprot = _CDecodingProtocol(
        _ResponseReader(transport),
        string_length_limit=current.string_length_limit,
        container_length_limit=current.container_length_limit,
    )


_UNREACHABLE = frozenset({"connection refused", "host name does not resolve", "TLS handshake failed"})


def translate_sql_error(exc: BaseException) -> CollectError:
    """A connector or statement error as a typed failure; the reason names the error class or HTTP status,
    never the server's message text."""
    if isinstance(exc, CollectError):
        return exc
    text = str(exc)
    match = _ERROR_CLASS.search(text)
    error_class = match.group(1) if match else ""
    if error_class in _NOT_FOUND_CLASSES or error_class.endswith("_NOT_FOUND"):
        return ObjectNotFound(error_class)
    if error_class in _DENIED_CLASSES:
        return NotVisible(error_class, api_family="sql")
    status = _http_status(exc, text)
    if status == 401:
        return ReadFailed(
            "authentication rejected (HTTP 401): the credentials are invalid or expired", api_family="sql"
        )
    if status == 403:
        return NotVisible("HTTP 403", api_family="sql")
    if status in (429, 503):
        what = "rate limited" if status == 429 else "service unavailable"
        return ReadFailed(f"SQL warehouse {what} (HTTP {status}) after retries", api_family="sql")
    if isinstance(exc, sql_exc.MaxRetryDurationError) or "max retry duration" in text:
        return ReadFailed("the SQL warehouse kept failing until retrying would pass the deadline", api_family="sql")
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        return ReadFailed(f"the SQL warehouse kept failing ({exc.reason})"[:200], api_family="sql")
    if "timed out" in text.lower() or isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
        return ReadFailed("timed out waiting for the SQL warehouse", api_family="sql")
    if error_class:
        return ReadFailed(f"SQL statement failed: [{error_class}]", api_family="sql")
    return ReadFailed(f"SQL request failed: {type(exc).__name__}", api_family="sql")


def _http_status(exc: BaseException, text: str) -> int | None:
    """The HTTP status behind a connector error: its context when it has one, else its text."""
    context = getattr(exc, "context", None)
    code = context.get("http-code") if isinstance(context, dict) else None
    if isinstance(code, int):
        return code
    found = re.search(r"\b(401|403|429|503)\b", text)
    return int(found.group(1)) if found else None


def _pool_requests(connection: Any) -> int | None:
    """HTTP requests (retries included) the Thrift transport's urllib3 pool sent, if observable.

    The connector exposes no counter; urllib3's pool counts every request it makes. This reads it through
    the connector's private attributes (4.9), and answers None when they are not there.
    """
    backend = getattr(getattr(connection, "session", None), "backend", None)
    transport = getattr(backend, "_transport", None)
    pool = getattr(transport, "_THttpClient__pool", None)
    count = getattr(pool, "num_requests", None)
    return count if isinstance(count, int) else None
