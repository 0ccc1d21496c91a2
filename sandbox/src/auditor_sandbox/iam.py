"""AWS IAM through moto's `ThreadedMotoServer` on loopback, seeded with a scenario's roles.

moto keeps one IAM backend per account for the whole process, yet every sandbox serves the same account
(`123456789012`) with its own roles. So each sandbox owns a private `IAMBackend`, and its server swaps it in
for the duration of each request (under a process-wide lock): two sandboxes alive in one process, e.g.
`healthy` and `drifted`, each see only their own trust policies, including changes a test makes through
boto3.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import boto3
from moto.iam.models import IAMBackend, iam_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
ACCOUNT_ID = "123456789012"  # moto's default account, which the keys above map to
_PARTITION = "aws"

_swap_lock = threading.Lock()

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def quiet_moto_logging() -> None:
    """Silence werkzeug's per-request access log."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _isolated(app: WsgiApp, backend: IAMBackend, latency: float = 0.0) -> WsgiApp:
    """Serve `app` with `backend` as the account's IAM backend for the duration of each request,
    each answer delayed by `latency` seconds (outside the lock, so concurrent requests wait together)."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if latency:
            time.sleep(latency)
        with _swap_lock:
            account = iam_backends[ACCOUNT_ID]
            previous = dict.get(account, _PARTITION)
            dict.__setitem__(account, _PARTITION, backend)
            try:
                result = app(environ, start_response)
                body = b"".join(result)  # consume the response while the backend is swapped in
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            finally:
                if previous is None:
                    dict.__delitem__(account, _PARTITION)
                else:
                    dict.__setitem__(account, _PARTITION, previous)
        return [body]

    return serve


class _IsolatedMotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` whose IAM is a private backend."""

    def __init__(self, backend: IAMBackend, *, port: int, latency: float) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._backend = backend
        self._latency = latency

    def _server_entry(self) -> None:
        app = _isolated(DomainDispatcherApplication(create_backend_app), self._backend, self._latency)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)


class IamEmulator:
    """moto's server on 127.0.0.1 (a free port unless given) with this sandbox's own IAM roles; `latency`
    seconds are added to every answer."""

    def __init__(self, *, region: str = "us-east-1", port: int = 0, latency: float = 0.0) -> None:
        quiet_moto_logging()
        self.region = region
        backend = IAMBackend(region_name=_PARTITION, account_id=ACCOUNT_ID)
        self._server = _IsolatedMotoServer(backend, port=port, latency=latency)
        self.endpoint = ""

    def start(self) -> None:
        """Start serving."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def client(self) -> Any:
        """A boto3 IAM client pointed at the emulator."""
        return boto3.client(
            "iam",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def seed(self, account_id: str, roles: Sequence[dict[str, Any]]) -> None:
        """Create each role (`name`, `path`, `description`, `trust_policy`) through boto3."""
        if roles and account_id != ACCOUNT_ID:
            raise ValueError(f"the sandbox's IAM serves account {ACCOUNT_ID} only, not {account_id}")
        client = self.client()
        for role in roles:
            kwargs: dict[str, Any] = {
                "RoleName": role["name"],
                "Path": role.get("path") or "/",
                "AssumeRolePolicyDocument": json.dumps(role["trust_policy"]),
            }
            if role.get("description"):
                kwargs["Description"] = role["description"]
            client.create_role(**kwargs)

    def stop(self) -> None:
        """Stop the server."""
        self._server.stop()
