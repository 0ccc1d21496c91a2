"""Run-time control of a sandbox: faults (with the state changes some imply), request counts, the clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from auditor_sandbox.faults import Fault, FaultError, FaultInjector
from auditor_sandbox.state import WorkspaceState


@dataclass
class Limits:
    """Server-side page sizes (lower them in tests to make paging observable)."""

    uc_grants_page_size: int = 150
    scim_page_size: int = 100
    secrets_page_size: int = 100


@dataclass
class Control:
    """Shared by the HTTP server, the admin endpoints and the `Sandbox` Python API."""

    state: WorkspaceState
    scenario_name: str = "custom"
    injector: FaultInjector = field(default_factory=FaultInjector)
    limits: Limits = field(default_factory=Limits)
    stopping: threading.Event = field(default_factory=threading.Event)
    _stopped_warehouses: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def set_fault(self, family: str, kind: str, **params: Any) -> Fault:
        """Activate a fault; `warehouse-stopped` stops the warehouse now (undone by `clear_faults`)."""
        fault = Fault.from_dict({"family": family, "kind": kind, **params})
        if fault.kind == "warehouse-stopped":
            self._stop_warehouse(fault)
        self.injector.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Deactivate every fault and restart the warehouses a fault stopped."""
        self.injector.clear()
        with self.state.lock:
            for warehouse_id, (state, auto_start) in self._stopped_warehouses.items():
                if self.state.compute.warehouse(warehouse_id) is not None:
                    self.state.compute.set_warehouse_state(warehouse_id, state, auto_start=auto_start)
            self._stopped_warehouses.clear()

    def request_counts(self) -> dict[str, int]:
        """Requests served per family since start (or the last reset)."""
        return self.injector.counts()

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox clock forward."""
        self.state.advance_clock(timedelta(seconds=seconds))

    def _stop_warehouse(self, fault: Fault) -> None:
        with self.state.lock:
            warehouses = self.state.compute.list_warehouses()
            warehouse_id = fault.warehouse_id or (warehouses[0].id if warehouses else None)
            warehouse = self.state.compute.warehouse(warehouse_id) if warehouse_id else None
            if warehouse is None:
                raise FaultError(f"warehouse-stopped: no warehouse {warehouse_id!r}")
            self._stopped_warehouses.setdefault(warehouse.id, (warehouse.state, warehouse.auto_start))
            self.state.compute.set_warehouse_state(warehouse.id, "STOPPED", auto_start=fault.auto_start)
