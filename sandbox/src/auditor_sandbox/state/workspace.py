"""One emulated workspace: the four parts of its state, composed, under one lock and one clock.

Each part holds its own objects and rules (no HTTP): `catalog` (metastore, catalogs, schemas, tables, grants),
`directory` (users, service principals, groups, entitlements), `compute` (SQL warehouses and their ACLs) and
`credentials` (tokens, OAuth secrets, storage credentials, external locations). Thread-safe: every public
method holds `lock` (an `RLock`, shared by all four, so callers may hold it across several calls for a
consistent read).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Literal

from auditor_sandbox.state.catalog import Catalog
from auditor_sandbox.state.clock import Clock
from auditor_sandbox.state.compute import Compute
from auditor_sandbox.state.credentials import Credentials
from auditor_sandbox.state.directory import Directory

WorkspaceIdHeader = Literal["ignored", "validated", "required"]
"""What the workspace does with a REST request's ``X-Databricks-Workspace-Id`` header. databricks-sdk 0.167's typed
methods send it whenever their config knows the workspace id (e.g. ``service/catalog.py`` GrantsAPI.get: ``if
cfg.workspace_id: headers["X-Databricks-Workspace-Id"] = cfg.workspace_id``; the changelog of v0.113.0 calls it
"workspace routing"), raw ``ApiClient.do`` calls never add it. Whether a workspace host checks it is unverified, so
the sandbox can do either: ``ignored`` (a hostname-routed workspace), ``validated`` (a header naming another
workspace is refused) or ``required`` (a request without it is refused too, as a routing host might)."""


class WorkspaceState:
    """One emulated workspace: its identity, clock and settings, and the four parts of its state."""

    def __init__(
        self,
        *,
        workspace_id: int = 1234567890123456,
        account_id: str = "e7a3c1d2-0000-4000-8000-00000000acc1",
        now: datetime | None = None,
        oauth_token_lifetime_seconds: int = 3600,
        workspace_id_header: WorkspaceIdHeader = "ignored",
    ) -> None:
        self.lock = threading.RLock()
        self.workspace_id = workspace_id
        self.account_id = account_id
        self.workspace_id_header: WorkspaceIdHeader = workspace_id_header
        self.workspace_conf: dict[str, str] = {}
        self.clock = Clock(self.lock, now)
        self.directory = Directory(self.lock, self.clock)
        self.credentials = Credentials(
            self.lock, self.clock, self.directory, oauth_token_lifetime_seconds=oauth_token_lifetime_seconds
        )
        self.catalog = Catalog(self.lock, self.clock, self.directory, self.credentials)
        self.compute = Compute(self.lock)

    def now(self) -> datetime:
        """The sandbox's current time: the anchor given at start plus real elapsed time plus any advance."""
        return self.clock.now()

    @property
    def started_at(self) -> datetime:
        """The anchor the scenario's relative expiries are computed from."""
        return self.clock.anchor

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox's clock forward (tokens and secrets expire accordingly)."""
        self.clock.advance(delta)

    def new_id(self, kind: str, name: str = "") -> str:
        """A deterministic UUID for an object of `kind` named `name` (fresh when no name is given)."""
        return self.clock.new_id(kind, name)
