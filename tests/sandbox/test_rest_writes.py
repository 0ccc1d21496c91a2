"""The few write endpoints drills and remediation use, through the real SDK: grants, warehouses, settings."""

from __future__ import annotations

import pytest
from databricks.sdk.errors import InvalidParameterValue, PermissionDenied
from databricks.sdk.service.catalog import PermissionsChange, Privilege
from databricks.sdk.service.iam import Patch, PatchOp, PatchSchema
from databricks.sdk.service.settings import TokenAccessControlRequest, TokenPermissionLevel
from databricks.sdk.service.sql import WarehouseAccessControlRequest, WarehousePermissionLevel

from auditor_sandbox import Sandbox
from tests.sandbox.clients import DATA_GRAPH, DELTA_LAKE, RETL, RETL_TOKEN, WAREHOUSE, pat_client


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


def test_warehouse_permissions_patch_sets_the_named_level_and_keeps_the_rest(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    before = {
        (a.service_principal_name or a.user_name or a.group_name)
        for a in w.warehouses.get_permissions(WAREHOUSE).access_control_list or []
    }
    w.warehouses.update_permissions(
        WAREHOUSE,
        access_control_list=[
            WarehouseAccessControlRequest(
                service_principal_name=DELTA_LAKE, permission_level=WarehousePermissionLevel.CAN_MONITOR
            )
        ],
    )
    after = w.warehouses.get_permissions(WAREHOUSE).access_control_list or []
    levels = {
        (a.service_principal_name or a.user_name or a.group_name): [p.permission_level for p in a.all_permissions or []]
        for a in after
    }
    assert levels[DELTA_LAKE] == [WarehousePermissionLevel.CAN_MONITOR]
    assert set(levels) == before | {DELTA_LAKE}
    with pytest.raises(InvalidParameterValue):
        w.warehouses.update_permissions(
            WAREHOUSE,
            access_control_list=[
                WarehouseAccessControlRequest(
                    user_name="nobody@example.com", permission_level=WarehousePermissionLevel.CAN_USE
                )
            ],
        )
    with pytest.raises(PermissionDenied):  # a CAN_USE holder cannot manage the warehouse's permissions
        pat_client(fresh, RETL_TOKEN).warehouses.update_permissions(
            WAREHOUSE,
            access_control_list=[
                WarehouseAccessControlRequest(user_name=RETL, permission_level=WarehousePermissionLevel.CAN_MANAGE)
            ],
        )


def test_token_permissions_patch_adds_an_entry(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    w.token_management.update_permissions(
        access_control_list=[
            TokenAccessControlRequest(service_principal_name=DATA_GRAPH, permission_level=TokenPermissionLevel.CAN_USE)
        ]
    )
    acl = w.token_management.get_permissions().access_control_list or []
    assert DATA_GRAPH in {a.service_principal_name for a in acl}


def test_scim_patch_adds_and_removes_entitlements(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    sp = next(iter(w.service_principals.list(filter=f'applicationId eq "{DATA_GRAPH}"')))
    assert sp.id is not None
    add = Patch(op=PatchOp.ADD, path="entitlements", value=[{"value": "allow-cluster-create"}])
    w.service_principals.patch(
        sp.id, operations=[add], schemas=[PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP]
    )
    values = {e.value for e in w.service_principals.get(sp.id).entitlements or []}
    assert "allow-cluster-create" in values
    remove = Patch(op=PatchOp.REMOVE, path="entitlements", value=[{"value": "allow-cluster-create"}])
    w.service_principals.patch(
        sp.id, operations=[remove], schemas=[PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP]
    )
    assert "allow-cluster-create" not in {e.value for e in w.service_principals.get(sp.id).entitlements or []}
    with pytest.raises(PermissionDenied):
        pat_client(fresh, RETL_TOKEN).service_principals.patch(
            sp.id, operations=[add], schemas=[PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP]
        )
