"""The daemon's HTTP face: /metrics, /healthz, /readyz and /findings.

A scrape or a /findings request reads only what the daemon last published; it never waits on a cycle.

The server is waitress: one event loop holds every connection (an idle or slow client costs a descriptor,
never a thread), and a small pool of threads answers complete requests. On top of it, this module adds what
waitress leaves open:

- a cap on open connections that never refuses a new one: past ``server.max_connections`` the least
  recently active idle connection is closed, so a liveness probe always gets in;
- a read timeout: a request's line and headers must arrive within ``server.read_timeout_seconds``
  (waitress's own timeout, ``server.idle_timeout_seconds``, is reset by every byte);
- a request line that is not ``METHOD target HTTP/x.y`` is answered 400 as soon as it ends;
- GET and HEAD only, on every path (405 with ``Allow``);
- /findings off by default on a non-loopback address, and optionally behind a bearer token.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
import resource
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import structlog
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.utilities import BadRequest

from auditor.drift.store import StoredDriftEvent
from auditor.errors import InputError
from auditor.log import register_secret
from auditor.settings import ServerSettings

if TYPE_CHECKING:
    from auditor.daemon.publish import Publisher, TargetView

log = structlog.get_logger(__name__)

LISTEN_BACKLOG = 1024
HANDLER_THREADS = 4
ALLOWED_METHODS = ("GET", "HEAD")
_ALLOW = ", ".join(ALLOWED_METHODS)
_LOOP_TIMEOUT_SECONDS = 0.5  # how soon the loop notices `close()` and runs its timeout sweep
_FD_LIMIT_WHEN_UNLIMITED = 65536
_ACCEPTS_PER_TURN = 256


def findings_document(views: Mapping[str, TargetView], *, target: str | None = None) -> dict[str, Any]:
    """The /findings JSON: per target, the latest findings, recent drift and the baseline comparison."""
    targets: dict[str, Any] = {}
    for name in sorted(views):
        if target is not None and name != target:
            continue
        view = views[name]
        report = view.report
        targets[name] = {
            "outcome": view.outcome,
            "error": view.error,
            "restored_from_state": view.restored,
            "cycle_id": view.cycle_id,
            "finished_at": view.finished_at.isoformat() if view.finished_at else None,
            "collected_at": report.snapshot_collected_at.isoformat() if report else None,
            "counts": {s.value: n for s, n in sorted(report.counts().items())} if report else {},
            "findings": [_finding_json(f) for f in report.findings] if report else [],
            "drift_events": [_event_json(e) for e in view.drift_events],
            "baseline": None
            if view.baseline_changes is None or view.baseline_approved_at is None
            else {
                "approved_at": view.baseline_approved_at.isoformat(),
                "changes": [c.model_dump(mode="json") for c in view.baseline_changes],
            },
        }
    return {"generated_at": datetime.now(UTC).isoformat(), "targets": targets}


def _finding_json(finding: Any) -> dict[str, Any]:
    return {
        "finding_id": finding.finding_id,
        "status": finding.status.value,
        "severity": finding.severity.value,
        "rule": finding.rule_id,
        "pack": finding.pack,
        "integration": finding.integration,
        "subject": finding.subject,
        "title": finding.title,
        "message": finding.message,
        "expected": finding.expected,
        "found": finding.found,
        "remediation": finding.remediation.model_dump(mode="json"),
        "suppression": finding.suppression.model_dump(mode="json") if finding.suppression else None,
    }


def _event_json(event: StoredDriftEvent) -> dict[str, Any]:
    return {
        "kind": event.kind.value,
        "subject": event.subject,
        "principal": event.principal,
        "gained": list(event.gained),
        "lost": list(event.lost),
        "first_seen": event.first_seen.isoformat(),
        "confirmed_at": event.confirmed_at.isoformat(),
        "cycles": event.cycles,
    }


_REQUEST_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ ]+ HTTP/[0-9]\.[0-9]")


class _RequestParser(HTTPRequestParser):  # type: ignore[misc]
    """waitress's parser, refusing a malformed request line as soon as it ends.

    waitress waits for the blank line that ends the headers before it parses anything; a bare
    ``GET /metrics`` line (no HTTP version, as HTTP/0.9 clients and probes send) never sends one.
    """

    completed: bool
    body_rcv: object
    header_plus: bytes

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = time.time()  # for the read timeout
        self._line_checked = False

    def received(self, data: bytes) -> int:
        if not self._line_checked and self.body_rcv is None and not self.completed:
            pending = (self.header_plus + data).lstrip(b"\r\n")
            end = pending.find(b"\n")
            if end >= 0:
                self._line_checked = True
                if not _REQUEST_LINE.fullmatch(pending[:end].rstrip(b"\r")):
                    self.parse_header(b"GET / HTTP/1.0\r\n")  # what waitress does to answer an unparsable request
                    self.error = BadRequest("malformed request line (expected: METHOD target HTTP/x.y)")
                    self.completed = True
                    return len(data)
        consumed: int = super().received(data)
        return consumed


class _Channel(HTTPChannel):  # type: ignore[misc]
    parser_class = _RequestParser


class _Server(TcpWSGIServer):  # type: ignore[misc]
    """waitress's TCP server with a connection cap that evicts instead of refusing, and a read timeout."""

    channel_class = _Channel

    def __init__(self, app: Callable[..., Any], adj: Adjustments, *, max_connections: int, read_timeout: float):
        self._max_connections = max_connections
        self._read_timeout = read_timeout
        super().__init__(app, map={}, adj=adj)

    def handle_accept(self) -> None:
        """Accept what the backlog holds (waitress takes one per loop turn), then enforce the cap."""
        for _ in range(_ACCEPTS_PER_TURN):
            try:
                accepted = self.accept()  # None once the backlog is empty
                if accepted is None:
                    break
                conn, addr = accepted
                self.set_socket_options(conn)
            except OSError:  # the peer went away before we got to it
                continue
            self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)
        self._evict_beyond_cap()

    def _evict_beyond_cap(self) -> None:
        open_channels = [c for c in self.active_channels.values() if not c.will_close]
        excess = len(open_channels) - self._max_connections
        if excess <= 0:
            return
        idle = sorted((c for c in open_channels if not c.requests), key=lambda c: c.last_activity)
        for channel in idle[:excess]:
            channel.will_close = True  # closed by the loop's next turn

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # closes channels idle for longer than channel_timeout
        cutoff = now - self._read_timeout
        for channel in self.active_channels.values():
            request = channel.request
            if request is not None and not channel.requests and request.started < cutoff:
                channel.will_close = True


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each open connection holds a descriptor)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _FD_LIMIT_WHEN_UNLIMITED if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            log.warning("open_file_limit_not_raised", soft=soft, hard=hard)
    return soft


def is_loopback(bind: str) -> bool:
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def findings_token(settings: ServerSettings, config_path: Path) -> bytes | None:
    """The bearer token /findings requires, from ``server.findings_token_file`` or ``..._env`` (None: no token)."""
    if settings.findings_token_file is not None:
        field, source = "server.findings_token_file", settings.findings_token_file
        try:
            token = Path(source).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(config_path, f"cannot read the /findings token file {source}: {exc}", field=field) from exc
    elif settings.findings_token_env is not None:
        field, source = "server.findings_token_env", settings.findings_token_env
        token = os.environ.get(source, "").strip()
    else:
        return None
    if not token:
        raise InputError(config_path, f"the /findings token from {source} is empty", field=field)
    register_secret(token)
    return token.encode()


class WebServer:
    """/metrics, /healthz, /readyz and /findings, served by a background thread's event loop.

    Where it listens and how it defends itself come from the config's ``server`` section (``options``);
    ``config_path`` names the config in errors.
    """

    def __init__(self, published: Publisher, *, options: ServerSettings, config_path: Path):
        self._published = published
        bind, port = options.bind, options.port
        self._token = findings_token(options, config_path)
        self._findings_on = (
            options.findings if options.findings is not None else (is_loopback(bind) or self._token is not None)
        )
        if self._findings_on and self._token is None and not is_loopback(bind):
            log.warning("findings_unprotected", bind=bind, hint="set server.findings_token_file or _env")
        raise_open_file_limit()
        # A burst of scrapes queues for a moment behind the handler threads: not worth a warning per burst.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        adj = Adjustments(
            host=bind,
            port=port,
            threads=HANDLER_THREADS,
            backlog=LISTEN_BACKLOG,
            connection_limit=1 << 30,  # the cap is `max_connections`, enforced by eviction in `_Server`
            channel_timeout=options.idle_timeout_seconds,
            cleanup_interval=1,
            asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
            asyncore_loop_timeout=_LOOP_TIMEOUT_SECONDS,
            ident="grants-auditor",
            expose_tracebacks=False,
        )
        self._httpd = _Server(
            self._app,
            adj,
            max_connections=options.max_connections,
            read_timeout=options.read_timeout_seconds,
        )
        host, bound_port = self._httpd.effective_host, self._httpd.effective_port
        host = host if ":" not in host else f"[{host}]"
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '', '[::]') else host}:{bound_port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        socket_map = self._httpd._map
        try:
            while not self._stopping.is_set():
                wasyncore.poll2(_LOOP_TIMEOUT_SECONDS, socket_map)
        finally:
            self._httpd.task_dispatcher.shutdown(timeout=2)
            wasyncore.close_all(socket_map)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if method not in ALLOWED_METHODS:
            return _reply(
                start_response, "405 Method Not Allowed", b"method not allowed\n", headers=[("Allow", _ALLOW)]
            )
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body, content_type = self._published.exposition(environ.get("HTTP_ACCEPT", ""))
            return _reply(start_response, "200 OK", body, content_type)
        if path == "/healthz":
            return _reply(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            if self._published.ready():
                return _reply(start_response, "200 OK", b"ready\n")
            return _reply(start_response, "503 Service Unavailable", b"not ready: no cycle finished yet\n")
        if path == "/findings":
            return self._findings(environ, start_response)
        return _reply(start_response, "404 Not Found", b"not found\n")

    def _findings(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if not self._findings_on:
            return _reply(
                start_response,
                "404 Not Found",
                b"/findings is off on a non-loopback address: set server.findings or a token\n",
            )
        if self._token is not None and not _bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), self._token):
            return _reply(
                start_response,
                "401 Unauthorized",
                b"a bearer token is required\n",
                headers=[("WWW-Authenticate", 'Bearer realm="grants-auditor"')],
            )
        query = parse_qs(environ.get("QUERY_STRING", ""))
        wanted = query.get("target", [None])[0]
        document = findings_document(self._published.views, target=wanted)
        body_bytes = json.dumps(document, indent=2).encode()
        return _reply(start_response, "200 OK", body_bytes, "application/json")

    def close(self) -> None:
        self._stopping.set()
        self._httpd.pull_trigger()
        self._thread.join(timeout=5)


def _bearer_matches(header: str, token: bytes) -> bool:
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token)


def _reply(
    start_response: Callable[..., Any],
    status: str,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]
