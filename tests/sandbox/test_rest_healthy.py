"""The real databricks-sdk reads every fact of `healthy` correctly (PAT and OAuth M2M)."""

from __future__ import annotations

from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.catalog import CatalogType, Privilege, SecurableType

from auditor_sandbox import Sandbox
from tests.present import present
from tests.sandbox.clients import (
    ACCOUNT,
    AUDITOR,
    DATA_GRAPH,
    DELTA_LAKE,
    DELTA_LAKE_AWS,
    METASTORE,
    NOW,
    PROFILES_SYNC,
    RETL,
    WAREHOUSE,
    oauth_client,
    pat_client,
)

DAY_MS = 86_400_000
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture(scope="module", params=["pat", "oauth-m2m"])
def w(request: pytest.FixtureRequest, healthy: Sandbox) -> WorkspaceClient:
    return pat_client(healthy) if request.param == "pat" else oauth_client(healthy)


def _direct(w: WorkspaceClient, kind: str, name: str) -> dict[str, set[str]]:
    response = w.grants.get(kind, name)
    return {present(a.principal): {p.value for p in a.privileges or []} for a in response.privilege_assignments or []}


def test_identity_and_metastore(w: WorkspaceClient) -> None:
    me = w.current_user.me()
    assert me.user_name == AUDITOR
    assert "admins" in {g.display for g in me.groups or []}
    assignment = w.metastores.current()
    assert (assignment.metastore_id, assignment.workspace_id) == (METASTORE, 1234567890123456)
    summary = w.metastores.summary()
    assert (summary.cloud, summary.region, summary.privilege_model_version) == ("aws", "us-east-1", "1.0")
    assert summary.global_metastore_id == f"aws:us-east-1:{METASTORE}"
    assert w.config.workspace_id == "1234567890123456"  # from /.well-known/databricks-config


def test_catalogs_schemas_tables(w: WorkspaceClient) -> None:
    catalogs = {c.name: c for c in w.catalogs.list()}
    assert list(catalogs) == [
        "main",
        "segment_linked_profiles_db",
        "segment_profiles",
        "crm",
        "segment_events",
        "segment_lake",
    ]
    assert "hive_metastore" not in catalogs  # not a Unity Catalog catalog: visible through SQL only
    assert catalogs["main"].owner == "admins"
    assert catalogs["main"].catalog_type == CatalogType.MANAGED_CATALOG
    assert catalogs["segment_profiles"].storage_root == "s3://segment-profiles/"
    assert catalogs["segment_lake"].storage_root == "s3://segment-lake-bucket/lake"
    assert present(catalogs["segment_events"].storage_location).startswith("s3://segment-events/")
    assert catalogs["crm"].storage_root is None
    assert w.catalogs.get("SEGMENT_LINKED_PROFILES_DB").metastore_id == METASTORE
    assert w.catalogs.get("segment_linked_profiles_db").name == "segment_linked_profiles_db"

    assert [s.full_name for s in w.schemas.list("main")] == ["main.analytics", "main.default"]
    assert [s.name for s in w.schemas.list("SEGMENT_LINKED_PROFILES_DB")] == ["__segment_reverse_etl"]
    assert w.schemas.get("crm.accounts").catalog_name == "crm"
    tables = list(w.tables.list("segment_profiles", "profiles"))
    assert [t.name for t in tables] == ["user_identifiers", "user_traits", "profile_traits"]
    orders = w.tables.get("main.analytics.orders")
    assert (orders.catalog_name, orders.schema_name, present(orders.table_type).value) == (
        "main",
        "analytics",
        "MANAGED",
    )
    assert [c.name for c in orders.columns or []] == ["order_id", "customer_id", "amount", "ordered_at"]
    assert w.tables.get("crm.accounts.accounts").full_name == "crm.accounts.accounts"


def test_direct_grants_match_the_documents(w: WorkspaceClient) -> None:
    assert _direct(w, "catalog", "main") == {
        "data-engineers": {"USE_CATALOG", "USE_SCHEMA", "SELECT"},
        RETL: {"CREATE"},
    }
    assert _direct(w, "schema", "main.analytics") == {RETL: {"USAGE", "SELECT", "READ_METADATA"}}
    assert _direct(w, "catalog", "SEGMENT_LINKED_PROFILES_DB") == {DATA_GRAPH: {"USAGE", "CREATE", "SELECT"}}
    assert _direct(w, "schema", "SEGMENT_LINKED_PROFILES_DB.__segment_reverse_etl") == {DATA_GRAPH: {"ALL_PRIVILEGES"}}
    assert _direct(w, "catalog", "segment_profiles") == {
        PROFILES_SYNC: {"ALL_PRIVILEGES"},
        DATA_GRAPH: {"USAGE", "SELECT", "USE_SCHEMA"},
    }
    assert _direct(w, "catalog", "crm") == {DATA_GRAPH: {"USAGE", "SELECT", "USE_SCHEMA"}}
    assert _direct(w, "catalog", "segment_events") == {DELTA_LAKE: {"ALL_PRIVILEGES"}}
    assert _direct(w, "catalog", "segment_lake") == {DELTA_LAKE_AWS: {"ALL_PRIVILEGES"}}
    wanted = {DELTA_LAKE_AWS: {"CREATE_EXTERNAL_TABLE", "READ_FILES", "WRITE_FILES"}}
    assert _direct(w, "storage_credential", "segment-lake-cred") == wanted
    assert _direct(w, "external_location", "segment-lake-location") == wanted
    assert _direct(w, "table", "segment_profiles.profiles.user_traits") == {}
    assert _direct(w, "metastore", METASTORE) == {}


def test_effective_grants_report_inheritance(w: WorkspaceClient) -> None:
    response = w.grants.get_effective("table", "segment_profiles.profiles.user_traits", max_results=0)
    by_principal = {a.principal: a.privileges or [] for a in response.privilege_assignments or []}
    assert set(by_principal) == {PROFILES_SYNC, DATA_GRAPH}
    for privilege in by_principal[DATA_GRAPH]:
        assert privilege.inherited_from_type == SecurableType.CATALOG
        assert privilege.inherited_from_name == "segment_profiles"
    assert {p.privilege for p in by_principal[DATA_GRAPH]} == {
        Privilege.USAGE,
        Privilege.SELECT,
        Privilege.USE_SCHEMA,
    }
    schema = w.grants.get_effective("schema", "main.analytics")
    rows = {
        (a.principal, present(p.privilege).value, p.inherited_from_type.value if p.inherited_from_type else None)
        for a in schema.privilege_assignments or []
        for p in a.privileges or []
    }
    assert (RETL, "READ_METADATA", None) in rows  # direct: no inherited_from_*
    assert (RETL, "CREATE", "CATALOG") in rows
    assert ("data-engineers", "SELECT", "CATALOG") in rows
    raw = w.api_client.do("GET", "/api/2.1/unity-catalog/effective-permissions/schema/main.analytics")
    direct = [p for a in raw["privilege_assignments"] for p in a["privileges"] if p["privilege"] == "READ_METADATA"]
    assert direct == [{"privilege": "READ_METADATA"}]


def test_storage_credential_and_external_location(w: WorkspaceClient) -> None:
    credential = w.storage_credentials.get("segment-lake-cred")
    assert credential.aws_iam_role is not None
    assert credential.aws_iam_role.role_arn == "arn:aws:iam::123456789012:role/segment-lake-role"
    assert credential.aws_iam_role.external_id == ACCOUNT
    assert credential.aws_iam_role.unity_catalog_iam_arn == (
        "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
    )
    assert [c.name for c in w.storage_credentials.list()] == ["segment-lake-cred"]
    location = w.external_locations.get("segment-lake-location")
    assert (location.url, location.credential_name, location.credential_id) == (
        "s3://segment-lake-bucket/",
        "segment-lake-cred",
        credential.id,
    )
    assert [loc.name for loc in w.external_locations.list()] == ["segment-lake-location"]


def test_warehouse_and_its_acl(w: WorkspaceClient) -> None:
    warehouse = w.warehouses.get(WAREHOUSE)
    assert warehouse.name == "segment-warehouse"
    assert (warehouse.cluster_size, present(warehouse.warehouse_type).value, warehouse.enable_serverless_compute) == (
        "Small",
        "PRO",
        True,
    )
    assert (warehouse.min_num_clusters, warehouse.max_num_clusters, warehouse.auto_stop_mins) == (2, 6, 10)
    assert present(warehouse.state).value == "RUNNING"
    assert warehouse.odbc_params is not None and warehouse.odbc_params.path == f"/sql/1.0/warehouses/{WAREHOUSE}"
    assert [x.id for x in w.warehouses.list()] == [WAREHOUSE]
    permissions = w.warehouses.get_permissions(WAREHOUSE)
    assert permissions.object_id == f"/sql/warehouses/{WAREHOUSE}"
    acl = {
        (e.group_name or e.user_name or e.service_principal_name): [
            present(p.permission_level).value for p in e.all_permissions or []
        ]
        for e in permissions.access_control_list or []
    }
    assert acl == {
        "admins": ["CAN_MANAGE"],
        "admin@example.com": ["IS_OWNER"],
        AUDITOR: ["CAN_USE"],
        RETL: ["CAN_USE"],
        DATA_GRAPH: ["CAN_USE"],
        DELTA_LAKE: ["CAN_USE"],
        PROFILES_SYNC: ["CAN_USE"],
    }
    generic = w.permissions.get("warehouses", WAREHOUSE)
    assert len(generic.access_control_list or []) == 7


def _entitlements(resource: Any) -> set[str]:
    return {e.value for e in resource.entitlements or []}


def test_scim_principals_groups_and_entitlements(w: WorkspaceClient) -> None:
    sps = {sp.application_id: sp for sp in w.service_principals.list()}
    assert set(sps) == {AUDITOR, RETL, DATA_GRAPH, DELTA_LAKE, PROFILES_SYNC, DELTA_LAKE_AWS}
    assert sps[DELTA_LAKE_AWS].display_name == "segment-delta-lake-aws"
    assert _entitlements(sps[DELTA_LAKE_AWS]) == {
        "workspace-access",
        "allow-cluster-create",
        "databricks-sql-access",
    }
    assert all("workspace-access" in _entitlements(sp) for sp in sps.values())
    profiles = sps[PROFILES_SYNC]
    assert {(g.display, g.type) for g in profiles.groups or []} == {
        ("segment-readers", "direct"),
        ("segment-integrations", "indirect"),
    }
    found = list(w.service_principals.list(filter=f'applicationId eq "{DATA_GRAPH}"'))
    assert [sp.display_name for sp in found] == ["segment-data-graph"]
    assert w.service_principals.get(present(sps[RETL].id)).application_id == RETL

    groups = {g.display_name: g for g in w.groups.list()}
    assert set(groups) == {"admins", "data-engineers", "segment-integrations", "segment-readers", "users"}
    integrations = w.groups.get(present(groups["segment-integrations"].id))
    assert _entitlements(integrations) == {"databricks-sql-access"}
    assert {(m.display, present(m.ref).split("/")[0]) for m in integrations.members or []} == {
        ("segment-readers", "Groups"),
        ("segment-delta-lake", "ServicePrincipals"),
    }
    readers = groups["segment-readers"]
    assert {m.value for m in readers.members or []} == {sps[DATA_GRAPH].id, sps[PROFILES_SYNC].id}

    users = {u.user_name: u for u in w.users.list()}
    assert set(users) == {"admin@example.com", "analyst@example.com"}
    assert {g.display for g in users["analyst@example.com"].groups or []} == {"data-engineers"}
    assert w.users.get(present(users["admin@example.com"].id)).display_name == "Workspace Admin"
    assert [u.user_name for u in w.users.list(filter='userName sw "ANALYST"')] == ["analyst@example.com"]


def test_tokens_token_permissions_and_workspace_conf(w: WorkspaceClient) -> None:
    tokens = {t.created_by_username: t for t in w.token_management.list()}
    assert set(tokens) == {RETL, DELTA_LAKE_AWS, AUDITOR}
    assert tokens[RETL].expiry_time == -1
    assert tokens[AUDITOR].expiry_time == -1
    assert tokens[DELTA_LAKE_AWS].expiry_time == NOW_MS + 80 * DAY_MS
    assert tokens[DELTA_LAKE_AWS].creation_time == NOW_MS
    only_retl = list(w.token_management.list(created_by_username=RETL))
    assert [t.comment for t in only_retl] == ["Segment Reverse ETL"]
    info = present(w.token_management.get(present(tokens[RETL].token_id)).token_info)
    assert info.owner_id == tokens[RETL].created_by_id

    raw = w.api_client.do("GET", "/api/2.0/permissions/authorization/tokens")
    assert raw["object_id"] == "/authorization/tokens"
    levels = {
        (e.get("group_name") or e.get("service_principal_name")): e["all_permissions"][0]["permission_level"]
        for e in raw["access_control_list"]
    }
    assert levels == {"admins": "CAN_MANAGE", DELTA_LAKE_AWS: "CAN_USE", RETL: "CAN_USE"}
    typed = w.token_management.get_permissions()
    assert {e.service_principal_name for e in typed.access_control_list or []} >= {DELTA_LAKE_AWS, RETL}

    assert w.workspace_conf.get_status(keys="enableTokensConfig") == {"enableTokensConfig": "true"}
    assert w.workspace_conf.get_status(keys="enableTokensConfig,maxTokenLifetimeDays") == {
        "enableTokensConfig": "true",
        "maxTokenLifetimeDays": None,
    }


def test_service_principal_oauth_secrets(w: WorkspaceClient) -> None:
    scim_ids = {sp.application_id: sp.id for sp in w.service_principals.list()}
    for app_id in (DATA_GRAPH, DELTA_LAKE, PROFILES_SYNC, AUDITOR):
        secrets = list(w.service_principal_secrets_proxy.list(present(scim_ids[app_id])))
        assert [s.status for s in secrets] == ["ACTIVE"], app_id
        assert secrets[0].expire_time == "2026-03-28T12:00:00Z"  # 300 days after NOW
        assert secrets[0].create_time == "2025-06-01T12:00:00Z"
        assert "dose" not in (secrets[0].secret_hash or "")
    for app_id in (RETL, DELTA_LAKE_AWS):
        assert list(w.service_principal_secrets_proxy.list(present(scim_ids[app_id]))) == []
