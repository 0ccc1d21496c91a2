"""The workspace's compute: SQL warehouses, their state and their access control lists."""

from __future__ import annotations

import threading
from dataclasses import replace

from auditor_sandbox.entities import AclEntry, SandboxError, Warehouse
from auditor_sandbox.state.clock import name_key as _key


class Compute:
    """SQL warehouses by id."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self._warehouses: dict[str, Warehouse] = {}

    def add_warehouse(self, warehouse: Warehouse) -> Warehouse:
        """Add a SQL warehouse (with its ACL)."""
        with self.lock:
            self._warehouses[warehouse.id] = warehouse
            return warehouse

    def warehouse(self, warehouse_id: str) -> Warehouse | None:
        """The warehouse with that id, or None."""
        with self.lock:
            return self._warehouses.get(warehouse_id)

    def list_warehouses(self) -> list[Warehouse]:
        """Every warehouse."""
        with self.lock:
            return list(self._warehouses.values())

    def _set_warehouse(self, warehouse_id: str, **changes: object) -> None:
        with self.lock:
            found = self._warehouses.get(warehouse_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Warehouse {warehouse_id} does not exist.", 404)
            self._warehouses[warehouse_id] = replace(found, **changes)  # type: ignore[arg-type]

    def start_warehouse(self, warehouse_id: str) -> None:
        """Start a warehouse (it is RUNNING at once)."""
        self._set_warehouse(warehouse_id, state="RUNNING")

    def stop_warehouse(self, warehouse_id: str) -> None:
        """Stop a warehouse."""
        self._set_warehouse(warehouse_id, state="STOPPED")

    def set_warehouse_state(self, warehouse_id: str, state: str, *, auto_start: bool | None = None) -> None:
        """Set a warehouse's state (and optionally whether queries auto-start it)."""
        changes: dict[str, object] = {"state": state}
        if auto_start is not None:
            changes["auto_start"] = auto_start
        self._set_warehouse(warehouse_id, **changes)

    def set_warehouse_permission(self, warehouse_id: str, principal: str, level: str | None) -> None:
        """Set (or with `level=None` remove) one principal's permission level on a warehouse."""
        with self.lock:
            found = self._warehouses.get(warehouse_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Warehouse {warehouse_id} does not exist.", 404)
            entries = [e for e in found.acl if _key(e.principal) != _key(principal)]
            if level is not None:
                entries.append(AclEntry(principal, level.upper()))
            self._warehouses[warehouse_id] = replace(found, acl=tuple(entries))
