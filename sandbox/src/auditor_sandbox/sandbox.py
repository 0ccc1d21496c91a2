"""`Sandbox`: the Python API that starts the workspace emulator and moto's IAM for one scenario.

with Sandbox.start(scenario="healthy") as sb:
    w = WorkspaceClient(config=Config(host=sb.host, token=sb.auditor_token))
    sb.set_fault("unity-catalog", "rate-limit", count=1, retry_after=1)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import yaml

from auditor_sandbox.control import Control, Limits
from auditor_sandbox.faults import Fault, FaultInjector
from auditor_sandbox.iam import ACCESS_KEY_ID, SECRET_ACCESS_KEY, IamEmulator
from auditor_sandbox.scenario import ScenarioSpec, build_state, load_scenario
from auditor_sandbox.server import WorkspaceServer
from auditor_sandbox.state import WorkspaceState

AuthKind = Literal["pat", "oauth-m2m"]


class Sandbox:
    """A running sandbox. Start it with `Sandbox.start(...)`; stop it with `stop()` or a `with` block."""

    def __init__(self, spec: ScenarioSpec, control: Control, server: WorkspaceServer, iam: IamEmulator | None) -> None:
        self.spec = spec
        self.control = control
        self._server = server
        self._iam = iam

    @classmethod
    def start(
        cls,
        scenario: str | Path | dict[str, Any] = "healthy",
        port: int = 0,
        now: datetime | None = None,
        *,
        iam_port: int = 0,
        limits: Limits | None = None,
        latency: float = 0.0,
    ) -> Sandbox:
        """Load the scenario, build its state, start both emulators on 127.0.0.1 and apply its faults.

        `now` anchors the scenario's relative expiries (default: the current time); `latency` seconds are
        added to every workspace, warehouse and IAM request (not to `/_sandbox/` control calls)."""
        spec = load_scenario(scenario)
        anchor = now or datetime.now(UTC)
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=UTC)
        state = build_state(spec, anchor)
        control = Control(
            state=state, scenario_name=spec.name, limits=limits or Limits(), injector=FaultInjector(latency=latency)
        )
        server = WorkspaceServer(control, port=port)
        iam: IamEmulator | None = None
        try:
            iam = IamEmulator(region=spec.iam.region, port=iam_port, latency=latency)
            iam.start()
            roles = [role.model_dump(exclude_none=True) for role in spec.iam.roles]
            iam.seed(spec.iam.account_id, roles, entry_role=spec.iam.auditor_role)
            server.start()
            sandbox = cls(spec, control, server, iam)
            for fault in spec.fault_list():
                sandbox.set_fault(**fault.to_dict())
        except BaseException:
            server.stop()
            if iam is not None:
                iam.stop()
            raise
        return sandbox

    def stop(self) -> None:
        """Stop both emulators (idempotent)."""
        self._server.stop()
        if self._iam is not None:
            self._iam.stop()
            self._iam = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses and credentials --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.spec.name

    @property
    def state(self) -> WorkspaceState:
        """The live workspace state (change it to drift the workspace while it runs)."""
        return self.control.state

    @property
    def host(self) -> str:
        """The workspace URL, `http://127.0.0.1:PORT`."""
        return self._server.base_url

    @property
    def port(self) -> int:
        """The workspace emulator's port."""
        return self._server.port

    @property
    def warehouse_id(self) -> str | None:
        """The auditor's warehouse (the scenario's `auditor.warehouse_id`, else its first warehouse)."""
        if self.spec.auditor.warehouse_id:
            return self.spec.auditor.warehouse_id
        return self.spec.warehouses[0].id if self.spec.warehouses else None

    @property
    def http_path(self) -> str | None:
        """`/sql/1.0/warehouses/<id>`."""
        return f"/sql/1.0/warehouses/{self.warehouse_id}" if self.warehouse_id else None

    @property
    def iam_endpoint(self) -> str:
        """moto's URL, `http://127.0.0.1:PORT2`."""
        return self._iam.endpoint if self._iam else ""

    @property
    def auditor_token(self) -> str:
        """The auditor's personal access token (a sandbox-only value)."""
        return self.spec.auditor.token.get_secret_value()

    @property
    def auditor_client_id(self) -> str:
        """The auditor service principal's application id."""
        return self.spec.auditor.principal

    @property
    def auditor_client_secret(self) -> str:
        """The auditor's OAuth secret (a sandbox-only value)."""
        return self.spec.auditor.client_secret.get_secret_value()

    def iam_client(self) -> Any:
        """A boto3 IAM client pointed at moto."""
        if self._iam is None:
            raise RuntimeError("the sandbox is stopped")
        return self._iam.client()

    # -- faults, counts, clock ------------------------------------------------------------------------------

    def set_fault(self, family: str, kind: str, **params: Any) -> Fault:
        """Activate a fault on an endpoint family (see `auditor_sandbox.faults`)."""
        return self.control.set_fault(family, kind, **params)

    def clear_faults(self) -> None:
        """Deactivate every fault (and restart warehouses a fault stopped)."""
        self.control.clear_faults()

    def request_counts(self) -> dict[str, int]:
        """Requests served per family."""
        return self.control.request_counts()

    def reset_request_counts(self) -> None:
        """Set every family's request count back to zero."""
        self.control.injector.reset_counts()

    def advance_clock(self, delta: timedelta | float) -> None:
        """Move the sandbox's clock forward (a timedelta or seconds)."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self.control.advance_clock(seconds)

    @property
    def limits(self) -> Limits:
        """Server page sizes; lower them to make paging observable."""
        return self.control.limits

    # -- auditor config -------------------------------------------------------------------------------------

    def config_dict(self, auth: AuthKind = "pat") -> dict[str, Any]:
        """A ready auditor config (the YAML shape of `auditor.settings.Settings`) pointing at this sandbox."""
        if auth == "pat":
            credentials: dict[str, Any] = {"type": "pat", "token": self.auditor_token}
        elif auth == "oauth-m2m":
            credentials = {
                "type": "oauth-m2m",
                "client_id": self.auditor_client_id,
                "client_secret": self.auditor_client_secret,
            }
        else:
            raise ValueError(f"auth must be 'pat' or 'oauth-m2m', not {auth!r}")
        databricks: dict[str, Any] = {"host": self.host, "auth": credentials}
        if self.warehouse_id:
            databricks.update(warehouse_id=self.warehouse_id, http_path=self.http_path)
        target: dict[str, Any] = {
            "name": "sandbox",
            "databricks": databricks,
            "aws": {
                "region": self.spec.iam.region,
                "endpoint_url": self.iam_endpoint,
                "access_key_id": ACCESS_KEY_ID,
                "secret_access_key": SECRET_ACCESS_KEY,
                **({"assume_role_arn": self.spec.iam.auditor_role_arn} if self.spec.iam.auditor_role_arn else {}),
            },
            "collection": "auto",
            "schedule": {"interval_seconds": 60},
            "watch": dict(self.spec.auditor.watch),
            "integrations": [dict(binding) for binding in self.spec.auditor.integrations],
        }
        return {"targets": [target]}

    def write_config(self, path: str | Path, auth: AuthKind = "pat") -> Path:
        """Write `config_dict(auth)` as YAML (mode 0600: it holds the sandbox's credentials)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.config_dict(auth), sort_keys=False)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"# grants-auditor config for the sandbox scenario {self.name!r} at {self.host}\n")
            out.write(text)
        return path
