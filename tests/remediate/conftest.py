"""A local HTTP server that records requests, for comparing curl lines with databricks-sdk calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # percent-decoded
    authorization: str | None
    content_type: str | None
    body: Any  # decoded JSON, or None when the request had no body


class Recorder:
    """Answers every request with ``{}`` and keeps the API requests it saw."""

    def __init__(self) -> None:
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path.startswith("/api/"):
                    with recorder._lock:
                        recorder._requests.append(
                            RecordedRequest(
                                method=self.command,
                                path=unquote(self.path),
                                authorization=self.headers.get("Authorization"),
                                content_type=self.headers.get("Content-Type"),
                                body=json.loads(raw) if raw else None,
                            )
                        )
                reply = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def take(self) -> list[RecordedRequest]:
        with self._lock:
            taken, self._requests = self._requests, []
        return taken


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=5)
