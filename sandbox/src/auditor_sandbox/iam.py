"""AWS IAM through moto's `ThreadedMotoServer` on loopback, seeded with a scenario's roles.

moto keeps one IAM backend per account for the whole process, yet every sandbox serves the same accounts
(`123456789012`, and any second account a scenario puts its roles in) with its own roles. So each sandbox
owns private `IAMBackend`s, one per account, and its server swaps them in for the duration of each request
(under a process-wide lock): two sandboxes alive in one process, e.g. `healthy` and `drifted`, each see only
their own trust policies, including changes a test makes through boto3.

A second account is reached as on AWS: `sts:AssumeRole` into a role of that account returns credentials
that act in it (moto maps an assumed role's access key to the account in the role's ARN; checked here:
`GetCallerIdentity` with those credentials names the other account, and `GetRole` with a bare name answers
from it). moto does not enforce the assumed role's trust policy; the scenario still writes a realistic one.
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


def _isolated(app: WsgiApp, backends: dict[str, IAMBackend], latency: float = 0.0) -> WsgiApp:
    """Serve `app` with `backends` (account id -> IAM backend) swapped in for the duration of each request,
    each answer delayed by `latency` seconds (outside the lock, so concurrent requests wait together)."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if latency:
            time.sleep(latency)
        with _swap_lock:
            swapped = list(backends.items())
            previous = {account_id: dict.get(iam_backends[account_id], _PARTITION) for account_id, _ in swapped}
            for account_id, backend in swapped:
                dict.__setitem__(iam_backends[account_id], _PARTITION, backend)
            try:
                result = app(environ, start_response)
                body = b"".join(result)  # consume the response while the backends are swapped in
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            finally:
                for account_id, before in previous.items():
                    if before is None:
                        dict.__delitem__(iam_backends[account_id], _PARTITION)
                    else:
                        dict.__setitem__(iam_backends[account_id], _PARTITION, before)
        return [body]

    return serve


class _IsolatedMotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` whose IAM is private, one backend per account."""

    def __init__(self, backends: dict[str, IAMBackend], *, port: int, latency: float) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._backends = backends
        self._latency = latency

    def _server_entry(self) -> None:
        app = _isolated(DomainDispatcherApplication(create_backend_app), self._backends, self._latency)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)


class IamEmulator:
    """moto's server on 127.0.0.1 (a free port unless given) with this sandbox's own IAM roles; `latency`
    seconds are added to every answer."""

    def __init__(self, *, region: str = "us-east-1", port: int = 0, latency: float = 0.0) -> None:
        quiet_moto_logging()
        self.region = region
        self._backends = {ACCOUNT_ID: IAMBackend(region_name=_PARTITION, account_id=ACCOUNT_ID)}
        self._server = _IsolatedMotoServer(self._backends, port=port, latency=latency)
        self.endpoint = ""

    def start(self) -> None:
        """Start serving."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def client(self, assume_role_arn: str | None = None) -> Any:
        """A boto3 IAM client pointed at the emulator: with the sandbox's keys, or as `assume_role_arn`."""
        keys: dict[str, str] = {"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY}
        if assume_role_arn is not None:
            sts = boto3.client("sts", endpoint_url=self.endpoint, region_name=self.region, **keys)
            credentials = sts.assume_role(RoleArn=assume_role_arn, RoleSessionName="sandbox-seed")["Credentials"]
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
        return boto3.client("iam", endpoint_url=self.endpoint, region_name=self.region, **keys)

    def seed(self, account_id: str, roles: Sequence[dict[str, Any]], *, entry_role: str | None = None) -> None:
        """Create each role (`name`, `path`, `description`, `trust_policy`) in `account_id` through boto3.

        Another account than the sandbox keys' own is entered by assuming its role `entry_role`.
        """
        if account_id != ACCOUNT_ID and entry_role is None:
            raise ValueError(f"roles in account {account_id} need an entry role (the keys act in {ACCOUNT_ID})")
        self._backends.setdefault(account_id, IAMBackend(region_name=_PARTITION, account_id=account_id))
        client = self.client(f"arn:aws:iam::{account_id}:role/{entry_role}" if account_id != ACCOUNT_ID else None)
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
