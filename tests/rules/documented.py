"""A workspace set up exactly as Segment's five documents say, as a facts snapshot (data in, findings out).

The grants come from the documents' own GRANT statements (placeholders filled in), parsed here, so
"passing" is defined by what the documents tell users to run. Identities follow
docs/sandbox-scenarios.md so the unit tests and the sandbox tests describe the same workspace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.model.facts import (
    AclEntry,
    Binding,
    ExternalLocation,
    FactFamily,
    Grant,
    Membership,
    MetastoreAssignment,
    OAuthSecret,
    Principal,
    PrincipalKind,
    ReadState,
    ReadStatus,
    Securable,
    SecurableType,
    Snapshot,
    StorageCredential,
    Token,
    TrustPolicy,
    Warehouse,
    Watch,
)
from auditor.privileges.names import normalize_privilege

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
AUDITOR = "a0d1703e-0000-4000-8000-000000000001"
RETL = "5e9e0001-0000-4000-8000-000000000001"
DG = "5e9e0002-0000-4000-8000-000000000002"
DL = "5e9e0003-0000-4000-8000-000000000003"
PS = "5e9e0004-0000-4000-8000-000000000004"
AWS = "5e9e0005-0000-4000-8000-000000000005"
WAREHOUSE = "8a6f3d2c1b0e9f47"
ACCOUNT_ID = "e7a3c1d2-0000-4000-8000-00000000acc1"
SEGMENT_WORKSPACE = "Wk5pQxR2aB"
ROLE_ARN = "arn:aws:iam::123456789012:role/segment-lake-role"
UC_MASTER = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
SEGMENT_ROLE = "arn:aws:iam::595280932656:role/segment-storage-destinations-production-access"

# The documents' statements, placeholders filled in (reverse-etl-source.md, data-graph.md, Step 3s, Step 4.2).
DOCUMENTED_SQL = f"""
GRANT USAGE ON SCHEMA main.analytics TO `{RETL}`;
GRANT SELECT, READ_METADATA ON SCHEMA main.analytics TO `{RETL}`;
GRANT CREATE on catalog main TO `{RETL}`;
GRANT USAGE ON CATALOG `SEGMENT_LINKED_PROFILES_DB` TO `{DG}`;
GRANT CREATE ON CATALOG `SEGMENT_LINKED_PROFILES_DB` TO `{DG}`;
GRANT SELECT ON CATALOG `SEGMENT_LINKED_PROFILES_DB` TO `{DG}`;
GRANT ALL PRIVILEGES ON SCHEMA SEGMENT_LINKED_PROFILES_DB.__segment_reverse_etl TO `{DG}`;
GRANT USAGE, SELECT, USE SCHEMA ON CATALOG `segment_profiles` TO `{DG}`;
GRANT USAGE, SELECT, USE SCHEMA ON CATALOG `crm` TO `{DG}`;
GRANT ALL PRIVILEGES ON CATALOG segment_events TO `{DL}`;
GRANT ALL PRIVILEGES ON CATALOG segment_profiles TO `{PS}`;
GRANT ALL PRIVILEGES ON CATALOG segment_lake TO `{AWS}`;
GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON STORAGE CREDENTIAL `segment-lake-cred` TO `{AWS}`;
GRANT CREATE EXTERNAL TABLE, READ FILES, WRITE FILES ON EXTERNAL LOCATION `segment-lake-location` TO `{AWS}`;
GRANT USE CATALOG, USE SCHEMA, SELECT ON CATALOG main TO `data-engineers`;
"""

_GRANT = re.compile(
    r"GRANT\s+(?P<privs>.+?)\s+ON\s+(?P<type>STORAGE CREDENTIAL|EXTERNAL LOCATION|CATALOG|SCHEMA|TABLE)\s+"
    r"(?P<name>\S+)\s+TO\s+`(?P<principal>[^`]+)`;",
    re.IGNORECASE,
)


def parse_grants(sql: str) -> list[Grant]:
    """The documents' GRANT statements as direct grants (one per privilege)."""
    grants = []
    for match in _GRANT.finditer(sql):
        kind = SecurableType(match["type"].upper().replace(" ", "_"))
        name = match["name"].replace("`", "")
        for privilege in match["privs"].split(","):
            grants.append(
                Grant(
                    principal=match["principal"],
                    privilege=normalize_privilege(privilege),
                    securable_type=kind,
                    securable_name=name,
                )
            )
    return grants


def trust_document(external_ids: Iterable[str] = (ACCOUNT_ID, SEGMENT_WORKSPACE)) -> dict[str, Any]:
    """The trust policy of Step 4.3 of the AWS document."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [UC_MASTER, ROLE_ARN, SEGMENT_ROLE]},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": list(external_ids)}},
            }
        ],
    }


BINDINGS = (
    Binding(
        pack="reverse-etl-source",
        params={
            "principal": RETL,
            "warehouse_id": WAREHOUSE,
            "catalog": "main",
            "model_schemas": ["main.analytics"],
        },
    ),
    Binding(
        pack="data-graph",
        params={
            "client_id": DG,
            "warehouse_id": WAREHOUSE,
            "profiles_sync_catalog": "segment_profiles",
            "additional_catalogs": ["crm"],
        },
    ),
    Binding(
        pack="delta-lake-destination",
        params={"client_id": DL, "warehouse_id": WAREHOUSE, "catalog": "segment_events"},
    ),
    Binding(
        pack="profiles-sync",
        params={
            "client_id": PS,
            "warehouse_id": WAREHOUSE,
            "catalog": "segment_profiles",
            "selective_sync_tables": ["segment_profiles.profiles.user_traits"],
        },
    ),
    Binding(
        pack="delta-lake-destination-aws",
        params={
            "client_id": AWS,
            "auth": "pat",
            "catalog": "segment_lake",
            "storage_credential": "segment-lake-cred",
            "external_location": "segment-lake-location",
            "segment_workspace_id": SEGMENT_WORKSPACE,
        },
    ),
    Binding(pack="segment-least-privilege", params={}),
)
WATCH = Watch(
    catalogs=("SEGMENT_LINKED_PROFILES_DB", "segment_profiles", "segment_events", "segment_lake"),
    principals=(RETL, DG, DL, PS, AWS),
)


def _securables() -> list[Securable]:
    c, s, t = SecurableType.CATALOG, SecurableType.SCHEMA, SecurableType.TABLE
    return [
        Securable(
            type=c,
            full_name="main",
            owner="admins",
            storage_location="s3://uc-root/main",
            catalog_type="MANAGED_CATALOG",
            isolation_mode="OPEN",
        ),
        Securable(type=s, full_name="main.analytics", owner="admins"),
        Securable(type=t, full_name="main.analytics.orders", owner="admins"),
        Securable(type=s, full_name="main.default", owner="admins"),
        Securable(type=c, full_name="SEGMENT_LINKED_PROFILES_DB", owner="admins", catalog_type="MANAGED_CATALOG"),
        Securable(type=s, full_name="SEGMENT_LINKED_PROFILES_DB.__segment_reverse_etl", owner="admins"),
        Securable(
            type=c,
            full_name="segment_profiles",
            owner="admins",
            storage_location="s3://segment-profiles/",
            catalog_type="MANAGED_CATALOG",
        ),
        Securable(type=s, full_name="segment_profiles.profiles", owner="admins"),
        Securable(type=t, full_name="segment_profiles.profiles.user_traits", owner="admins"),
        Securable(type=c, full_name="crm", owner="admins", catalog_type="MANAGED_CATALOG"),
        Securable(
            type=c,
            full_name="segment_events",
            owner="admins",
            storage_location="s3://segment-events/",
            catalog_type="MANAGED_CATALOG",
        ),
        Securable(
            type=c,
            full_name="segment_lake",
            owner="admins",
            storage_location="s3://segment-lake-bucket/lake",
            catalog_type="MANAGED_CATALOG",
        ),
        Securable(type=c, full_name="hive_metastore", catalog_type="HIVE_METASTORE"),
    ]


def _principals() -> tuple[list[Principal], list[Membership]]:
    sp = PrincipalKind.SERVICE_PRINCIPAL
    principals = [
        Principal(name=AUDITOR, kind=sp, scim_id="1000", display_name="grants-auditor"),
        Principal(
            name=RETL,
            kind=sp,
            scim_id="1001",
            display_name="segment-reverse-etl",
            entitlements=("workspace-access",),
        ),
        Principal(
            name=DG,
            kind=sp,
            scim_id="1002",
            display_name="segment-data-graph",
            entitlements=("workspace-access",),
        ),
        Principal(
            name=DL,
            kind=sp,
            scim_id="1003",
            display_name="segment-delta-lake",
            entitlements=("workspace-access",),
        ),
        Principal(
            name=PS,
            kind=sp,
            scim_id="1004",
            display_name="segment-profiles-sync",
            entitlements=("workspace-access",),
        ),
        Principal(
            name=AWS,
            kind=sp,
            scim_id="1005",
            display_name="segment-delta-lake-aws",
            entitlements=("workspace-access", "allow-cluster-create", "databricks-sql-access"),
        ),
        Principal(name="admins", kind=PrincipalKind.GROUP, scim_id="2000"),
        Principal(
            name="segment-integrations",
            kind=PrincipalKind.GROUP,
            scim_id="2001",
            entitlements=("databricks-sql-access",),
        ),
        Principal(name="segment-readers", kind=PrincipalKind.GROUP, scim_id="2002"),
    ]
    memberships = [
        Membership(member=AUDITOR, group="admins"),
        Membership(member="segment-readers", group="segment-integrations"),
        Membership(member=DL, group="segment-integrations"),
        Membership(member=DG, group="segment-readers"),
        Membership(member=PS, group="segment-readers"),
    ]
    return principals, memberships


def _reads(snapshot_parts: dict[str, Any]) -> list[ReadStatus]:
    """Every family read: the documented workspace hides nothing from the auditor."""
    return [ReadStatus(family=family, state=ReadState.READ) for family in FactFamily]


def healthy(now: datetime = NOW) -> Snapshot:
    principals, memberships = _principals()
    sp = PrincipalKind.SERVICE_PRINCIPAL
    acl = (
        AclEntry(principal="admins", principal_kind=PrincipalKind.GROUP, permission_level="CAN_MANAGE"),
        AclEntry(principal="admin@example.com", principal_kind=PrincipalKind.USER, permission_level="IS_OWNER"),
        *(AclEntry(principal=p, principal_kind=sp, permission_level="CAN_USE") for p in (AUDITOR, RETL, DG, DL, PS)),
    )
    return Snapshot(
        target="documented",
        collected_at=now,
        auditor_identity=AUDITOR,
        integrations=BINDINGS,
        watch=WATCH,
        reads=tuple(_reads({})),
        metastore=MetastoreAssignment(
            metastore_id="11111111-2222-4333-8444-555555555555",
            workspace_id="1234567890123456",
            privilege_model_version="1.0",
        ),
        securables=tuple(_securables()),
        grants=tuple(parse_grants(DOCUMENTED_SQL)),
        principals=tuple(principals),
        memberships=tuple(memberships),
        warehouses=(
            Warehouse(
                id=WAREHOUSE,
                name="segment-warehouse",
                state="RUNNING",
                cluster_size="Small",
                warehouse_type="PRO",
                enable_serverless_compute=True,
                min_num_clusters=2,
                max_num_clusters=6,
                auto_stop_mins=10,
                acl=acl,
            ),
        ),
        tokens=(
            Token(token_id="tok-retl", owner=RETL, expiry_time=None),
            Token(token_id="tok-aws", owner=AWS, expiry_time=now + timedelta(days=80)),
        ),
        token_permissions=(
            AclEntry(principal="admins", principal_kind=PrincipalKind.GROUP, permission_level="CAN_MANAGE"),
            AclEntry(principal=AWS, principal_kind=sp, permission_level="CAN_USE"),
            AclEntry(principal=RETL, principal_kind=sp, permission_level="CAN_USE"),
        ),
        oauth_secrets=tuple(
            OAuthSecret(
                application_id=p,
                secret_id=f"sec-{p[:8]}",
                status="ACTIVE",
                expire_time=now + timedelta(days=300),
            )
            for p in (DG, DL, PS, AUDITOR)
        ),
        workspace_conf={"enableTokensConfig": "true"},
        storage_credentials=(
            StorageCredential(
                name="segment-lake-cred",
                owner="admins",
                aws_role_arn=ROLE_ARN,
                aws_external_id=ACCOUNT_ID,
                unity_catalog_iam_arn=UC_MASTER,
            ),
        ),
        external_locations=(
            ExternalLocation(
                name="segment-lake-location",
                url="s3://segment-lake-bucket/",
                credential_name="segment-lake-cred",
                owner="admins",
            ),
        ),
        trust_policies=(TrustPolicy(role_arn=ROLE_ARN, document=trust_document()),),
    )


def change(snapshot: Snapshot, **updates: Any) -> Snapshot:
    """A validated copy (``model_copy`` would carry the snapshot's cached lookups over, stale)."""
    return Snapshot.model_validate({**dict(snapshot), **updates})


def without_grants(snapshot: Snapshot, keep: Callable[[Grant], bool]) -> Snapshot:
    return change(snapshot, grants=tuple(g for g in snapshot.grants if keep(g)))


def plus_grants(snapshot: Snapshot, sql: str) -> Snapshot:
    return change(snapshot, grants=(*snapshot.grants, *parse_grants(sql)))


def unread(
    snapshot: Snapshot,
    family: FactFamily,
    scope: str = "*",
    state: ReadState = ReadState.FAILED,
    reason: str = "HTTP 503 after 3 retries",
) -> Snapshot:
    status = ReadStatus(family=family, scope=scope, state=state, reason=reason)
    kept = tuple(r for r in snapshot.reads if not (r.family == family and r.scope == scope))
    return change(snapshot, reads=(*kept, status))


# ---- small mutations of the documented workspace (shared by the rule, coverage and CLI tests) ---------


def revoke(snapshot: Snapshot, principal: str, privilege: str, securable_name: str) -> Snapshot:
    """Drop the direct grant of ``privilege`` on ``securable_name`` to ``principal``."""
    wanted = (principal.lower(), normalize_privilege(privilege), securable_name.lower())
    return without_grants(snapshot, lambda g: (g.principal.lower(), g.privilege, g.securable_name.lower()) != wanted)


def with_params(snapshot: Snapshot, pack: str, **params: Any) -> Snapshot:
    """The integration of ``pack`` bound with some parameters changed."""
    bindings = tuple(
        b.model_copy(update={"params": {**b.params, **params}}) if b.pack == pack else b for b in snapshot.integrations
    )
    return change(snapshot, integrations=bindings)


def with_warehouse(snapshot: Snapshot, **updates: Any) -> Snapshot:
    return change(snapshot, warehouses=tuple(w.model_copy(update=updates) for w in snapshot.warehouses))


def with_acl_level(snapshot: Snapshot, principal: str, level: str | None) -> Snapshot:
    """Set the principal's direct permission on the warehouse (``None`` removes it)."""
    acl = tuple(
        e if e.principal != principal else e.model_copy(update={"permission_level": level})
        for e in snapshot.warehouses[0].acl
        if level is not None or e.principal != principal
    )
    return with_warehouse(snapshot, acl=acl)


def with_principal(snapshot: Snapshot, name: str, **updates: Any) -> Snapshot:
    return change(
        snapshot,
        principals=tuple(p.model_copy(update=updates) if p.name == name else p for p in snapshot.principals),
    )


def without_principal(snapshot: Snapshot, name: str) -> Snapshot:
    return change(snapshot, principals=tuple(p for p in snapshot.principals if p.name != name))


def with_securable(snapshot: Snapshot, full_name: str, **updates: Any) -> Snapshot:
    return change(
        snapshot,
        securables=tuple(s.model_copy(update=updates) if s.full_name == full_name else s for s in snapshot.securables),
    )


def without_securable(snapshot: Snapshot, full_name: str) -> Snapshot:
    return change(snapshot, securables=tuple(s for s in snapshot.securables if s.full_name != full_name))


def with_secret_expiry(snapshot: Snapshot, application_id: str, expire_time: datetime | None) -> Snapshot:
    return change(
        snapshot,
        oauth_secrets=tuple(
            s.model_copy(update={"expire_time": expire_time}) if s.application_id == application_id else s
            for s in snapshot.oauth_secrets
        ),
    )


def with_token_expiry(snapshot: Snapshot, owner: str, expiry_time: datetime | None) -> Snapshot:
    return change(
        snapshot,
        tokens=tuple(
            t.model_copy(update={"expiry_time": expiry_time}) if t.owner == owner else t for t in snapshot.tokens
        ),
    )
