"""The few write endpoints drills and remediation use, through the real SDK: grants, warehouses, settings."""

from __future__ import annotations

import pytest
from databricks.sdk.errors import PermissionDenied
from databricks.sdk.service.catalog import PermissionsChange, Privilege

from auditor_sandbox import Sandbox
from tests.sandbox.clients import DATA_GRAPH, RETL_TOKEN, WAREHOUSE, pat_client


def test_grants_update_adds_and_removes(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    w.grants.update(
        "catalog",
        "segment_profiles",
        changes=[PermissionsChange(principal=DATA_GRAPH, remove=[Privilege.USE_SCHEMA], add=[Privilege.BROWSE])],
    )
    assert ("5e9e0002-0000-4000-8000-000000000002", "USE_SCHEMA") not in fresh.state.catalog.direct_grants(
        "CATALOG", "segment_profiles"
    )
    after = w.grants.get("catalog", "segment_profiles", principal=DATA_GRAPH)
    assert [{p.value for p in a.privileges or []} for a in after.privilege_assignments or []] == [
        {"USAGE", "SELECT", "BROWSE"}
    ]
    retl = pat_client(fresh, RETL_TOKEN)
    with pytest.raises(PermissionDenied):
        retl.grants.update("catalog", "main", changes=[PermissionsChange(principal=DATA_GRAPH, add=[Privilege.SELECT])])


def test_warehouse_stop_and_start(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    w.warehouses.stop(WAREHOUSE).result()
    assert fresh.state.compute.warehouse(WAREHOUSE).state == "STOPPED"  # type: ignore[union-attr]
    started = w.warehouses.start(WAREHOUSE).result()
    assert started.state is not None and started.state.value == "RUNNING"


def test_workspace_conf_set_status(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    w.workspace_conf.set_status({"enableTokensConfig": "false", "maxTokenLifetimeDays": "90"})
    assert w.workspace_conf.get_status(keys="enableTokensConfig,maxTokenLifetimeDays") == {
        "enableTokensConfig": "false",
        "maxTokenLifetimeDays": "90",
    }
