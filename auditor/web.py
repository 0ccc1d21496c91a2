"""The daemon's HTTP face: /metrics, /healthz, /readyz and /findings, served on a background thread.

A scrape or a /findings request reads only what the daemon last published; it never waits on a cycle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from auditor.drift.store import StoredDriftEvent

if TYPE_CHECKING:
    from auditor.daemon.publish import Publisher, TargetView


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


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (scrapes every few seconds would drown the drift events)."""


class WebServer:
    """/metrics, /healthz, /readyz and /findings on a background thread."""

    def __init__(self, daemon: Publisher, *, bind: str, port: int):
        self._daemon = daemon
        self._metrics_app = make_wsgi_app(daemon.registry)
        self._httpd = make_server(bind, port, self._app, server_class=_Server, handler_class=_QuietHandler)
        host, bound_port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bound_port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.1,), name="http", daemon=True)
        self._thread.start()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: list[bytes] = self._metrics_app(environ, start_response)
            return body
        if path == "/healthz":
            return _reply(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            if self._daemon.ready():
                return _reply(start_response, "200 OK", b"ready\n")
            return _reply(start_response, "503 Service Unavailable", b"not ready: no cycle finished yet\n")
        if path == "/findings":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            wanted = query.get("target", [None])[0]
            document = findings_document(self._daemon.views, target=wanted)
            body_bytes = json.dumps(document, indent=2).encode()
            return _reply(start_response, "200 OK", body_bytes, "application/json")
        return _reply(start_response, "404 Not Found", b"not found\n")

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _reply(
    start_response: Callable[..., Any],
    status: str,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
