"""WorkspaceState: pure logic, data in, results out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditor_sandbox.state import (
    AclEntry,
    EffectiveGrant,
    ExternalLocation,
    Metastore,
    SandboxError,
    StorageCredential,
    Warehouse,
    WorkspaceState,
    normalise_privilege,
    normalise_type,
)

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def state() -> WorkspaceState:
    s = WorkspaceState(now=NOW)
    s.catalog.metastore = Metastore("m-1", "ms", "aws", "us-east-1", "admins")
    s.directory.add_group("admins")
    s.directory.add_group("readers")
    s.directory.add_group("outer")
    s.directory.add_user("Admin@Example.com")
    s.directory.add_service_principal("sp-app-1", "reader-sp")
    s.directory.add_group_member("admins", "admin@example.com")
    s.directory.add_group_member("readers", "sp-app-1")
    s.directory.add_group_member("outer", "readers")
    s.catalog.add_catalog("Main", owner="admins")
    s.catalog.add_schema("main.Sales")
    s.catalog.add_table("MAIN.sales.Orders")
    s.catalog.add_table("main.sales.orders_v", table_type="VIEW", view_definition="SELECT 1")
    return s


def test_privileges_and_types_are_normalised() -> None:
    assert normalise_privilege(" all privileges ") == "ALL_PRIVILEGES"
    assert normalise_privilege("USAGE") == "USAGE"
    assert normalise_privilege("read_metadata") == "READ_METADATA"
    assert normalise_type("external-location") == "EXTERNAL_LOCATION"
    assert normalise_type("EXTERNAL LOCATION") == "EXTERNAL_LOCATION"
    assert normalise_type("database") == "SCHEMA"
    assert normalise_type("credential") == "STORAGE_CREDENTIAL"


def test_names_compare_case_insensitively_and_are_stored_lower_case(state: WorkspaceState) -> None:
    """ "Unity Catalog stores all object names as lowercase" (docs: sql-ref-names): created as Main.Sales.Orders."""
    table = state.catalog.get_securable("table", "main.SALES.orders")
    assert table is not None
    assert table.full_name == "main.sales.orders"
    assert (table.catalog_name, table.schema_name, table.name) == ("main", "sales", "orders")
    assert state.catalog.get_securable("CATALOG", "MAIN") is state.catalog.get_securable("catalog", "main")
    assert [c.full_name for c in state.catalog.list_catalogs()] == ["main"]
    assert [s.full_name for s in state.catalog.children("CATALOG", "main")] == ["main.sales"]
    assert [t.full_name for t in state.catalog.children("SCHEMA", "main.sales")] == [
        "main.sales.orders",
        "main.sales.orders_v",
    ]


def test_views_share_the_table_namespace(state: WorkspaceState) -> None:
    view = state.catalog.get_securable("TABLE", "main.sales.orders_v")
    assert view is not None and view.type == "VIEW"
    assert state.catalog.get_securable("VIEW", "main.sales.orders_v") is view
    assert state.catalog.get_securable("VIEW", "main.sales.orders") is None
    state.catalog.grant("VIEW", "main.sales.orders_v", "readers", ["select"])
    assert state.catalog.direct_grants("TABLE", "main.sales.orders_v") == [("readers", "SELECT")]


def test_new_schemas_and_tables_inherit_their_parent_owner(state: WorkspaceState) -> None:
    schema = state.catalog.get_securable("SCHEMA", "main.sales")
    assert schema is not None and schema.owner == "admins"
    state.catalog.set_owner("SCHEMA", "main.sales", "readers")
    assert state.catalog.add_table("main.sales.t2").owner == "readers"


def test_grant_stores_normalised_direct_grants_and_revoke_removes_them(state: WorkspaceState) -> None:
    state.catalog.grant("catalog", "MAIN", "readers", ["USE CATALOG", "use_schema", "ALL PRIVILEGES"])
    state.catalog.grant("CATALOG", "main", "Readers", ["USE CATALOG"])  # same principal, other casing: no duplicate
    assert state.catalog.direct_grants("CATALOG", "main") == [
        ("readers", "USE_CATALOG"),
        ("readers", "USE_SCHEMA"),
        ("readers", "ALL_PRIVILEGES"),
    ]
    state.catalog.revoke("CATALOG", "main", "READERS", ["use schema", "ALL PRIVILEGES", "MODIFY"])
    assert state.catalog.direct_grants("CATALOG", "main") == [("readers", "USE_CATALOG")]
    state.catalog.revoke("CATALOG", "main", "readers", ["USE_CATALOG"])
    assert state.catalog.direct_grants("CATALOG", "main") == []


def test_grant_on_a_missing_securable_or_principal_is_not_found(state: WorkspaceState) -> None:
    with pytest.raises(SandboxError) as missing:
        state.catalog.grant("SCHEMA", "main.nope", "readers", ["USE_SCHEMA"])
    assert (missing.value.error_code, missing.value.http_status) == ("NOT_FOUND", 404)
    with pytest.raises(SandboxError) as unknown:
        state.catalog.grant("CATALOG", "main", "ghost@example.com", ["USE_CATALOG"])
    assert unknown.value.http_status == 404
    with pytest.raises(SandboxError):
        state.catalog.direct_grants("TABLE", "main.sales.nope")
    with pytest.raises(SandboxError) as bad_type:
        state.catalog.grant("WIDGET", "x", "readers", ["USE"])
    assert bad_type.value.error_code == "INVALID_PARAMETER_VALUE"


def test_effective_grants_add_schema_and_catalog_grants_with_their_origin(state: WorkspaceState) -> None:
    state.catalog.grant("CATALOG", "main", "readers", ["USE_CATALOG"])
    state.catalog.grant("SCHEMA", "main.sales", "readers", ["USE_SCHEMA"])
    state.catalog.grant("TABLE", "main.sales.orders", "sp-app-1", ["SELECT"])
    assert state.catalog.effective_grants("TABLE", "main.sales.orders") == [
        EffectiveGrant("sp-app-1", "SELECT"),
        EffectiveGrant("readers", "USE_SCHEMA", "SCHEMA", "main.sales"),
        EffectiveGrant("readers", "USE_CATALOG", "CATALOG", "main"),
    ]
    assert state.catalog.effective_grants("CATALOG", "main") == [EffectiveGrant("readers", "USE_CATALOG")]


def test_location_credential_and_metastore_grants(state: WorkspaceState) -> None:
    state.credentials.add_storage_credential(StorageCredential("cred", "", role_arn="arn:aws:iam::1:role/r"))
    state.credentials.add_external_location(ExternalLocation("loc", "s3://b/", "CRED", ""))
    state.catalog.grant("storage_credential", "Cred", "readers", ["READ FILES"])
    state.catalog.grant("EXTERNAL LOCATION", "LOC", "readers", ["WRITE FILES"])
    state.catalog.grant("METASTORE", "", "admins", ["CREATE CATALOG"])
    assert state.catalog.direct_grants("STORAGE_CREDENTIAL", "cred") == [("readers", "READ_FILES")]
    assert state.catalog.direct_grants("EXTERNAL_LOCATION", "loc") == [("readers", "WRITE_FILES")]
    assert state.catalog.direct_grants("METASTORE", "M-1") == [("admins", "CREATE_CATALOG")]
    assert sorted(state.catalog.all_grants()) == [
        ("EXTERNAL_LOCATION", "loc", "readers", "WRITE_FILES"),
        ("METASTORE", "m-1", "admins", "CREATE_CATALOG"),
        ("STORAGE_CREDENTIAL", "cred", "readers", "READ_FILES"),
    ]
    with pytest.raises(SandboxError):
        state.credentials.add_external_location(ExternalLocation("loc2", "s3://c/", "missing-cred", ""))


def test_metastore_grants_need_a_metastore() -> None:
    bare = WorkspaceState(now=NOW)
    bare.directory.add_group("admins")
    with pytest.raises(SandboxError) as exc:
        bare.catalog.grant("METASTORE", "", "admins", ["CREATE_CATALOG"])
    assert exc.value.error_code == "METASTORE_DOES_NOT_EXIST"


def test_groups_nest_and_pass_entitlements_and_admin_status(state: WorkspaceState) -> None:
    state.directory.set_entitlements("outer", ["databricks-sql-access"])
    state.directory.set_entitlements("sp-app-1", ["workspace-access"])
    assert state.directory.groups_of("sp-app-1") == ["readers", "outer"]
    assert state.directory.groups_of("sp-app-1", transitive=False) == ["readers"]
    assert state.directory.effective_entitlements("sp-app-1") == ["workspace-access", "databricks-sql-access"]
    assert state.directory.is_admin("ADMIN@example.com") and not state.directory.is_admin("sp-app-1")
    assert state.directory.principal_kind("outer") == "group"
    assert state.directory.principal_exists("admin@EXAMPLE.com")


def test_group_cycles_terminate(state: WorkspaceState) -> None:
    state.directory.add_group_member("readers", "outer")  # outer -> readers -> outer
    assert sorted(state.directory.groups_of("sp-app-1")) == ["outer", "readers"]


def test_personal_access_tokens_authenticate_until_expired_or_revoked(state: WorkspaceState) -> None:
    state.credentials.add_token("admin@example.com", "dapi-a")
    expiring = state.credentials.add_token("sp-app-1", "dapi-b", expiry_time=NOW + timedelta(days=1))
    admin = state.credentials.authenticate("Bearer dapi-a")
    assert (admin.name, admin.kind, admin.is_admin, admin.via) == ("Admin@Example.com", "user", True, "pat")
    assert state.credentials.authenticate("Bearer dapi-b").name == "sp-app-1"
    state.advance_clock(timedelta(days=2))
    with pytest.raises(SandboxError) as expired:
        state.credentials.authenticate("Bearer dapi-b")
    assert expired.value.http_status == 401
    assert "dapi" not in str(expired.value)  # the credential never appears in errors
    state.credentials.set_token_expiry(expiring.token_id, None)
    assert state.credentials.authenticate("Bearer dapi-b").name == "sp-app-1"
    state.credentials.revoke_token(expiring.token_id)
    with pytest.raises(SandboxError):
        state.credentials.authenticate("Bearer dapi-b")
    for header in (None, "", "Bearer", "Basic abc", "Bearer unknown"):
        with pytest.raises(SandboxError) as refused:
            state.credentials.authenticate(header)
        assert refused.value.error_code == "UNAUTHENTICATED"


def test_oauth_client_credentials_issue_expiring_tokens(state: WorkspaceState) -> None:
    state.credentials.add_oauth_secret("sp-app-1", "secret-1", expire_time=NOW + timedelta(days=10))
    token, lifetime = state.credentials.issue_access_token("sp-app-1", "secret-1")
    assert lifetime == 3600 and token.count(".") == 2
    identity = state.credentials.authenticate(f"Bearer {token}")
    assert (identity.name, identity.kind, identity.via) == ("sp-app-1", "service_principal", "oauth")
    with pytest.raises(SandboxError) as wrong:
        state.credentials.issue_access_token("sp-app-1", "not-the-secret")
    assert (wrong.value.error_code, wrong.value.http_status) == ("invalid_client", 401)
    state.advance_clock(timedelta(hours=2))
    with pytest.raises(SandboxError):
        state.credentials.authenticate(f"Bearer {token}")
    state.advance_clock(timedelta(days=10))
    with pytest.raises(SandboxError):
        state.credentials.issue_access_token("sp-app-1", "secret-1")  # the secret itself expired


def test_warehouse_state_and_acl(state: WorkspaceState) -> None:
    state.compute.add_warehouse(Warehouse("wh", "w", acl=(AclEntry("readers", "CAN_USE"),)))
    state.compute.stop_warehouse("wh")
    warehouse = state.compute.warehouse("wh")
    assert warehouse is not None and warehouse.state == "STOPPED" and warehouse.num_clusters == 0
    state.compute.start_warehouse("wh")
    state.compute.set_warehouse_permission("wh", "READERS", "can_view")
    state.compute.set_warehouse_permission("wh", "admins", "CAN_MANAGE")
    warehouse = state.compute.warehouse("wh")
    assert warehouse is not None and warehouse.state == "RUNNING"
    assert [(e.principal, e.level) for e in warehouse.acl] == [
        ("READERS", "CAN_VIEW"),
        ("admins", "CAN_MANAGE"),
    ]
    with pytest.raises(SandboxError):
        state.compute.start_warehouse("nope")
