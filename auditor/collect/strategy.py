"""How grants are read this cycle: SQL on the warehouse, or REST (``collection: auto | sql | api``).

- ``api``: Unity Catalog through REST; hive_metastore cannot be read (SQL only).
- ``sql``: everything through SQL; a stopped warehouse is started only with ``allow_warehouse_start``.
- ``auto``: Unity Catalog through SQL when the warehouse is already running, else REST; hive_metastore
  through SQL, starting the warehouse only with ``allow_warehouse_start``.

A stopped warehouse is never started by accident: the decision reads its state first (REST), and the SQL
connection is opened only when the warehouse is running or was started on purpose.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from auditor.collect.clients import RestClient
from auditor.collect.interface import ReadFailed, ReadFailure
from auditor.collect.rest_grants import segment
from auditor.collect.warehouses import WAREHOUSES, read_warehouse_info
from auditor.settings import TargetSettings

_WAREHOUSE_IN_PATH = re.compile(r"/(?:warehouses|endpoints)/([^/?#]+)")
_START_POLL_SECONDS = 1.0


def sql_warehouse_id(target: TargetSettings) -> str | None:
    """The id of the warehouse the auditor runs SQL on (configured, or parsed from ``http_path``)."""
    settings = target.databricks
    if settings.warehouse_id:
        return settings.warehouse_id
    match = _WAREHOUSE_IN_PATH.search(settings.http_path or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class SqlPlan:
    """Whether a SQL session may be opened this cycle, whether to start the warehouse first, and why not."""

    usable: bool
    start_warehouse: bool = False
    reason: str | None = None


def plan_sql(
    target: TargetSettings,
    *,
    needs_unity_catalog: bool,
    needs_hive_metastore: bool,
    warehouse: dict[str, Any] | ReadFailure | None,
) -> SqlPlan:
    """Decide from the warehouse's state (its JSON, None when it does not exist, or the failed read)."""
    mode = target.collection
    if mode == "api":
        return SqlPlan(False, reason="collection is 'api'")
    if not (needs_unity_catalog or needs_hive_metastore):
        return SqlPlan(False, reason="no read needs SQL")
    if not target.databricks.sql_http_path:
        return SqlPlan(False, reason="no SQL warehouse is configured")
    if isinstance(warehouse, ReadFailure):
        return SqlPlan(False, reason=f"the warehouse state could not be read ({warehouse.reason})")
    state = _state(warehouse)
    if warehouse is None or state in ("DELETED", "DELETING"):
        return SqlPlan(False, reason=f"warehouse {sql_warehouse_id(target)} does not exist")
    if state == "RUNNING":
        return SqlPlan(True)
    if (needs_hive_metastore or mode == "sql") and target.allow_warehouse_start:
        return SqlPlan(True, start_warehouse=True)
    return SqlPlan(False, reason=f"warehouse {sql_warehouse_id(target)} is {state} and allow_warehouse_start is false")


def _state(warehouse: dict[str, Any] | ReadFailure | None) -> str:
    if isinstance(warehouse, dict):
        return str(warehouse.get("state") or "UNKNOWN").upper()
    return "UNKNOWN"


def start_warehouse(rest: RestClient, warehouse_id: str, *, until: float) -> None:
    """Start the warehouse and wait (polling its state) until it runs or ``until`` (monotonic) passes."""
    rest.post(f"{WAREHOUSES}/{segment(warehouse_id)}/start")
    while True:
        info = read_warehouse_info(rest, warehouse_id)
        state = _state(info)
        if state == "RUNNING":
            return
        if state in ("DELETED", "DELETING", "UNKNOWN") or time.monotonic() + _START_POLL_SECONDS >= until:
            raise ReadFailed(f"warehouse {warehouse_id} did not reach RUNNING (state {state})", api_family="warehouses")
        time.sleep(_START_POLL_SECONDS)
