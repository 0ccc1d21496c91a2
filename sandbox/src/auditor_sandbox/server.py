"""The workspace emulator's HTTP server: one `ThreadingHTTPServer` on 127.0.0.1 serving the REST route table
and, for `POST /sql/1.0/warehouses/{id}`, the SQL warehouse's Thrift endpoint.

Every request is counted per family and may meet a fault (see `faults.py`) before it is authenticated and
answered. Credentials never appear in logs: only method, path and status are logged, at debug level.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from auditor_sandbox.api import ROUTES
from auditor_sandbox.control import Control
from auditor_sandbox.entities import Identity, SandboxError
from auditor_sandbox.faults import Fault
from auditor_sandbox.routes import Request, Response, family_of, find_route
from auditor_sandbox.state import WorkspaceState

log = logging.getLogger(__name__)

_SQL_PATH = re.compile(r"^/sql/(?:1\.0/warehouses|1\.0/endpoints|protocolv1/o/\d+)/(?P<id>[^/]+)$")
_DEFAULT_HANG_SECONDS = 3600.0


def _sql_error_headers(message: str) -> tuple[tuple[str, str], ...]:
    # databricks-sql-connector reads an HTTP error's reason from these headers.
    return (("x-thriftserver-error-message", message), ("x-databricks-reason-phrase", message))


def _check_workspace_id_header(state: WorkspaceState, value: str | None) -> None:
    """Refuse a request whose ``X-Databricks-Workspace-Id`` the workspace's setting does not accept (see
    `auditor_sandbox.state.workspace.WorkspaceIdHeader`). The platform's error for it is unverified: 400."""
    mode = state.workspace_id_header
    if mode == "ignored" or (value is None and mode == "validated"):
        return
    if value is None:
        raise SandboxError.invalid("Missing header X-Databricks-Workspace-Id: this host serves several workspaces.")
    if value.strip() != str(state.workspace_id):
        raise SandboxError.invalid(f"X-Databricks-Workspace-Id {value.strip()[:32]!r} does not name this workspace.")


def _fault_response(fault: Fault, family: str) -> Response:
    """The answer an answering fault gives (rate-limit, server-error, expired-credentials, forbidden)."""
    status = fault.http_status
    headers: list[tuple[str, str]] = []
    if fault.kind == "expired-credentials":
        if family == "oauth":
            body = {"error": "invalid_client", "error_description": "Client secret has expired."}
            return Response.json(body, 401)
        error = SandboxError.unauthenticated("Token is expired.")
    elif fault.kind == "forbidden":
        # the REST error body as Unity Catalog returns it (tests/fixtures/platform/uc_rest_error_permission_denied.json)
        error = SandboxError.permission_denied("User does not have permission to perform this operation.")
    elif fault.kind == "rate-limit":
        error = SandboxError("TOO_MANY_REQUESTS", "Too many requests. Please try again later.", 429)
    elif status == 503:
        error = SandboxError("TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable.", 503)
    else:
        error = SandboxError("INTERNAL_ERROR", "Internal server error.", status)
    if fault.retry_after is not None and status in (429, 503):
        headers.append(("Retry-After", str(fault.retry_after)))
    if family == "sql":
        headers.extend(_sql_error_headers(error.message))
    return Response.error(error, headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are logged in `_serve` without headers

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        control = self.server.control
        split = urlsplit(self.path)
        path = split.path
        body = self._read_body()
        sql = _SQL_PATH.match(path) if self.command == "POST" else None
        found = None if sql else find_route(ROUTES, self.command, path)
        family = "sql" if sql else (found[0].family if found else family_of(path))

        if family != "admin":
            decision = control.injector.on_request(family or "other")
            if decision.delay and control.stopping.wait(decision.delay):
                return self._drop()
            fault = decision.fault
            if fault is not None and fault.kind in ("hang", "drop"):
                if fault.kind == "hang":
                    control.stopping.wait(fault.seconds if fault.seconds is not None else _DEFAULT_HANG_SECONDS)
                return self._drop()
            if fault is not None:
                return self._send(_fault_response(fault, family or "other"))

        if sql:
            return self._send(self._sql(sql.group("id"), body))
        if found is None:
            error = SandboxError("ENDPOINT_NOT_FOUND", f"No API found for '{self.command} {path}'", 404)
            return self._send(Response.error(error))
        route, params = found
        try:
            identity = control.state.credentials.authenticate(self.headers.get("Authorization")) if route.auth else None
            if route.auth and family != "admin":
                _check_workspace_id_header(control.state, self.headers.get("X-Databricks-Workspace-Id"))
            if route.admin_only and identity is not None and not identity.is_admin:
                raise SandboxError.permission_denied("Only workspace admins can access this API.")
            request = Request(
                method=self.command,
                path=path,
                params=params,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                base_url=self.server.base_url,
                state=control.state,
                control=control,
                identity=identity,
            )
            response = route.handler(request)
        except SandboxError as exc:
            response = Response.error(exc)
        except Exception:
            log.exception("sandbox handler failed: %s %s", self.command, path)
            response = Response.error(SandboxError("INTERNAL_ERROR", "Internal error in the sandbox.", 500))
        self._send(response)

    def _sql(self, warehouse_id: str, body: bytes) -> Response:
        control = self.server.control
        try:
            identity: Identity = control.state.credentials.authenticate(self.headers.get("Authorization"))
        except SandboxError as exc:
            return Response.error(exc, _sql_error_headers(exc.message))
        from auditor_sandbox.sqlwarehouse import handle_thrift_request  # S2's module, loaded on first use

        try:
            status, headers, payload = handle_thrift_request(control.state, warehouse_id, identity, body)
        except Exception:
            log.exception("sandbox SQL handler failed for warehouse %s", warehouse_id)
            message = "Internal error in the sandbox SQL warehouse."
            return Response(500, message.encode(), _sql_error_headers(message))
        return Response(status, payload, tuple(headers.items()))

    def _send(self, response: Response) -> None:
        log.debug("%s %s -> %s", self.command, urlsplit(self.path).path, response.status)
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def setup(self) -> None:
        super().setup()
        # headers and body leave in separate writes: without this, Nagle + delayed ACK add ~40 ms a request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], control: Control) -> None:
        super().__init__(address, _Handler)
        self.control = control
        self.base_url = f"http://{address[0]}:{self.server_address[1]}"
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class WorkspaceServer:
    """The emulator's HTTP server, started on a free port of 127.0.0.1 unless a port is given."""

    def __init__(self, control: Control, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.control = control
        self._server = _Server((host, port), control)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-http",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return self._server.base_url

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, end hanging requests and close open connections."""
        self.control.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
