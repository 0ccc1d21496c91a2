"""Small snapshot builders for the drift tests (data in, changes out)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.drift import diff as drift_diff
from auditor.drift import facts
from auditor.drift.diff import Change
from auditor.drift.facts import FactView
from auditor.model.facts import (
    AclEntry,
    Binding,
    FactFamily,
    Grant,
    Membership,
    OAuthSecret,
    Principal,
    PrincipalKind,
    ReadState,
    ReadStatus,
    Securable,
    SecurableType,
    Snapshot,
    Token,
    TrustPolicy,
    Warehouse,
    Watch,
)
from auditor.model.findings import AuditedBinding

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DELTA_SP = "5e9e0003-0000-4000-8000-000000000003"
GRAPH_SP = "5e9e0002-0000-4000-8000-000000000002"
WAREHOUSE = "8a6f3d2c1b0e9f47"
ROLE = "arn:aws:iam::123456789012:role/segment-lake-role"

WATCH = Watch(catalogs=("segment_events", "segment_profiles"), principals=(GRAPH_SP,))
BINDINGS = (Binding(pack="delta-lake-destination", params={"client_id": DELTA_SP, "catalog": "segment_events"}),)
# What evaluating BINDINGS resolves (`Report.audited`): drift reads this, never parameter names.
AUDITED = (
    AuditedBinding(
        instance="delta-lake-destination",
        pack="delta-lake-destination",
        principals=(DELTA_SP,),
        securables=("CATALOG:segment_events",),
    ),
)


def extract(snapshot: Snapshot) -> FactView:
    """The snapshot's drift facts, with what the bindings audit."""
    return facts.extract(snapshot, AUDITED)


def diff(old: Snapshot | FactView, new: Snapshot | FactView) -> list[Change]:
    """The changes between two snapshots, with what the bindings audit."""
    return drift_diff.diff(old, new, AUDITED)


TRUST_DOC: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::414351767826:role/uc-master", ROLE]},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": ["acc-1", "Wk5pQxR2aB"]}},
        }
    ],
}


def grant(principal: str, privilege: str, securable_type: str, name: str) -> Grant:
    return Grant(
        principal=principal,
        privilege=privilege,
        securable_type=SecurableType(securable_type),
        securable_name=name,
    )


BASE_GRANTS: tuple[Grant, ...] = (
    grant(DELTA_SP, "ALL_PRIVILEGES", "CATALOG", "segment_events"),
    grant(GRAPH_SP, "USE_CATALOG", "CATALOG", "segment_profiles"),
    grant(GRAPH_SP, "SELECT", "CATALOG", "segment_profiles"),
    grant("data-engineers", "SELECT", "CATALOG", "main"),  # main is neither watched nor referenced
)

BASE_ACL: tuple[AclEntry, ...] = (
    AclEntry(principal=DELTA_SP, principal_kind=PrincipalKind.SERVICE_PRINCIPAL, permission_level="CAN_USE"),
    AclEntry(principal="admins", principal_kind=PrincipalKind.GROUP, permission_level="CAN_MANAGE"),
)


def all_read() -> tuple[ReadStatus, ...]:
    return tuple(ReadStatus(family=f, state=ReadState.READ) for f in FactFamily)


def failed(family: FactFamily, scope: str = "*") -> ReadStatus:
    return ReadStatus(family=family, scope=scope, state=ReadState.FAILED, reason="boom")


def snap(
    cycle: int = 0,
    *,
    grants: Iterable[Grant] = BASE_GRANTS,
    acl: Iterable[AclEntry] = BASE_ACL,
    reads: Iterable[ReadStatus] | None = None,
    extra_reads: Iterable[ReadStatus] = (),
    principals: Iterable[Principal] | None = None,
    memberships: Iterable[Membership] = (Membership(member=GRAPH_SP, group="segment-readers"),),
    trust: dict[str, Any] | None = TRUST_DOC,
    tokens: Iterable[Token] = (),
    secrets: Iterable[OAuthSecret] | None = None,
    securables: Iterable[Securable] = (),
    watch: Watch = WATCH,
    integrations: tuple[Binding, ...] = BINDINGS,
    target: str = "prod",
) -> Snapshot:
    """A snapshot at cycle ``cycle`` (one minute apart); every family read unless told otherwise."""
    if principals is None:
        sql_access = ("databricks-sql-access",)
        principals = (
            Principal(name=DELTA_SP, kind=PrincipalKind.SERVICE_PRINCIPAL, entitlements=sql_access),
            Principal(name="segment-readers", kind=PrincipalKind.GROUP, entitlements=sql_access),
        )
    if secrets is None:
        secrets = (
            OAuthSecret(
                application_id=DELTA_SP,
                secret_id="sec-1",
                status="ACTIVE",
                expire_time=T0 + timedelta(days=300),
            ),
        )
    extra = tuple(extra_reads)
    overridden = {r.family for r in extra if r.scope == "*"}
    status_list = tuple(r for r in (all_read() if reads is None else reads) if r.family not in overridden)
    return Snapshot(
        target=target,
        collected_at=T0 + timedelta(minutes=cycle),
        integrations=integrations,
        watch=watch,
        reads=(*extra, *status_list),
        securables=tuple(securables),
        grants=tuple(grants),
        principals=tuple(principals),
        memberships=tuple(memberships),
        warehouses=(Warehouse(id=WAREHOUSE, name="segment-warehouse", state="RUNNING", acl=tuple(acl)),),
        tokens=tuple(tokens),
        oauth_secrets=tuple(secrets),
        trust_policies=(TrustPolicy(role_arn=ROLE, document=trust),) if trust is not None else (),
    )


def without(grants: Iterable[Grant], *removed: Grant) -> tuple[Grant, ...]:
    return tuple(g for g in grants if g not in removed)
