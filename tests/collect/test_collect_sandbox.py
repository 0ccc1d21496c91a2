"""A full cycle against the sandbox over HTTP (databricks-sdk, databricks-sql-connector Thrift, boto3)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auditor.collect import CollectionResult, collect_target
from auditor.collect.scopes import ReadPlan
from auditor.model.facts import FactFamily, PrincipalKind, ReadState, SecurableType, Snapshot
from auditor.model.plan import CollectionPlan
from auditor_sandbox import Sandbox
from tests.collect.conftest import (
    AUDITOR,
    AWS_SP,
    DATA_GRAPH,
    NOW,
    PROFILES_SYNC,
    RETL,
    ROLE,
    WAREHOUSE,
    full_plan,
    grant_set,
    ref,
    statuses,
    target_for,
    unread,
)


@pytest.fixture(scope="module")
def collected(healthy: Sandbox) -> CollectionResult:
    """One full cycle on the shared `healthy` sandbox, read by several tests."""
    return collect_target(target_for(healthy), full_plan(), now=NOW)


@pytest.mark.parametrize("auth", ["pat", "oauth-m2m"])
def test_every_planned_scope_is_read_with_pat_and_oauth(healthy: Sandbox, auth: str) -> None:
    result = collect_target(target_for(healthy, auth=auth), full_plan(), now=NOW)

    snapshot = result.snapshot
    assert unread(snapshot) == {}
    assert snapshot.auditor_identity == AUDITOR
    assert snapshot.collected_at == NOW
    assert result.stats.strategy == "sql"
    assert not result.stats.deadline_exceeded
    # one status per planned scope, ancestors of the planned securables included
    keys = set(statuses(snapshot))
    assert {
        (FactFamily.GRANTS, "SCHEMA:main.analytics"),
        (FactFamily.GRANTS, "CATALOG:main"),
        (FactFamily.SECURABLES, "CATALOG:hive_metastore"),
        (FactFamily.GRANTS, "watch:segment_profiles"),
        (FactFamily.OAUTH_SECRETS, PROFILES_SYNC),
        (FactFamily.TRUST_POLICIES, ROLE),  # the role behind the credential
        (FactFamily.WAREHOUSE_ACLS, WAREHOUSE),
        (FactFamily.TOKENS, "*"),
    } <= keys


def test_snapshot_carries_the_targets_bindings_and_round_trips(healthy: Sandbox, collected: CollectionResult) -> None:
    target = target_for(healthy)
    snapshot = collected.snapshot

    assert snapshot.target == target.name
    assert snapshot.integrations == target.integrations
    assert snapshot.watch == target.watch
    assert Snapshot.from_json(snapshot.to_json()) == snapshot


def test_grants_are_direct_normalised_and_inherited_rows_land_on_the_parent(
    collected: CollectionResult,
) -> None:
    snapshot = collected.snapshot
    grants = grant_set(snapshot)

    # the document's statements, literally, on schema main.analytics and catalog main
    assert {("SCHEMA", "main.analytics", RETL, p) for p in ("USAGE", "SELECT", "READ_METADATA")} <= grants
    assert ("CATALOG", "main", RETL, "CREATE") in grants
    # SHOW GRANTS on the table lists the catalog's grants too: they stay on the catalog
    assert not any(g[0] == "TABLE" and g[2] == "data-engineers" for g in grants)
    assert ("CATALOG", "main", "data-engineers", "USE_CATALOG") in grants
    assert ("CATALOG", "segment_lake", AWS_SP, "ALL_PRIVILEGES") in grants
    assert {("EXTERNAL_LOCATION", "segment-lake-location", AWS_SP, p) for p in ("READ_FILES", "WRITE_FILES")} <= grants
    # watched catalogs, read in bulk
    assert ("CATALOG", "segment_profiles", PROFILES_SYNC, "ALL_PRIVILEGES") in grants
    assert (
        "SCHEMA",
        "segment_linked_profiles_db.__segment_reverse_etl",
        DATA_GRAPH,
        "ALL_PRIVILEGES",
    ) in grants
    assert len(grants) == len(snapshot.grants)  # deduplicated


def test_securables_principals_and_memberships(collected: CollectionResult) -> None:
    snapshot = collected.snapshot

    catalog = snapshot.securable(SecurableType.CATALOG, "segment_lake")
    assert catalog is not None
    assert (catalog.owner, catalog.storage_location) == ("admins", "s3://segment-lake-bucket/lake")
    assert catalog.catalog_type == "MANAGED_CATALOG"
    hive = snapshot.securable(SecurableType.SCHEMA, "hive_metastore.default")
    assert hive is not None and hive.owner == "admins"  # from the OWN row, not a grant

    edges = {(m.member, m.group) for m in snapshot.memberships}
    # Profiles Sync is in segment-readers, nested in segment-integrations (which grants SQL access)
    assert {(PROFILES_SYNC, "segment-readers"), ("segment-readers", "segment-integrations")} <= edges
    assert (AUDITOR, "admins") in edges
    integrations = snapshot.principal("segment-integrations")
    assert integrations is not None
    assert integrations.kind is PrincipalKind.GROUP
    assert "databricks-sql-access" in integrations.entitlements
    aws = snapshot.principal(AWS_SP)
    assert aws is not None and {"allow-cluster-create", "databricks-sql-access"} <= set(aws.entitlements)
    # groups met while expanding memberships are read too
    assert snapshot.read_status(FactFamily.ENTITLEMENTS, "segment-integrations").state is ReadState.READ


def test_warehouse_tokens_secrets_and_settings(collected: CollectionResult) -> None:
    snapshot = collected.snapshot

    warehouse = snapshot.warehouse(WAREHOUSE)
    assert warehouse is not None
    assert (warehouse.state, warehouse.cluster_size, warehouse.warehouse_type) == ("RUNNING", "Small", "PRO")
    assert (warehouse.min_num_clusters, warehouse.max_num_clusters, warehouse.enable_serverless_compute) == (
        2,
        6,
        True,
    )
    levels = {(a.principal, a.permission_level) for a in warehouse.acl}
    assert {("admins", "CAN_MANAGE"), ("admin@example.com", "IS_OWNER"), (RETL, "CAN_USE")} <= levels

    tokens = {t.owner: t for t in snapshot.tokens}
    assert tokens[RETL].expiry_time is None
    assert tokens[AWS_SP].expiry_time == NOW + timedelta(days=80)
    assert AUDITOR in tokens
    permissions = {(a.principal, a.permission_level) for a in snapshot.token_permissions}
    assert ("admins", "CAN_MANAGE") in permissions  # a level the SDK's enum would have dropped
    assert (AWS_SP, "CAN_USE") in permissions

    secrets = [s for s in snapshot.oauth_secrets if s.application_id == PROFILES_SYNC]
    assert [(s.status, s.expire_time) for s in secrets] == [("ACTIVE", NOW + timedelta(days=300))]
    assert snapshot.workspace_conf == {"enableTokensConfig": "true"}
    assert snapshot.metastore is not None and snapshot.metastore.privilege_model_version == "1.0"

    credential = snapshot.storage_credential("segment-lake-cred")
    assert credential is not None and credential.aws_role_arn == ROLE
    policy = snapshot.trust_policy(ROLE)
    assert policy is not None and policy.document is not None and policy.decode_error is None
    assert policy.document["Statement"][0]["Action"] == "sts:AssumeRole"


def test_objects_that_do_not_exist_are_read_and_absent(healthy: Sandbox) -> None:
    ghost_sp = "00000000-0000-4000-8000-00000000dead"
    plan = CollectionPlan(
        families=frozenset(FactFamily),
        securables=frozenset(
            {ref(SecurableType.SCHEMA, "nope.missing"), ref(SecurableType.TABLE, "main.analytics.gone")}
        ),
        warehouses=frozenset({"0000000000000000"}),
        principals=frozenset({ghost_sp, "nobody@example.com", "no-such-group"}),
        storage_credentials=frozenset({"no-such-credential"}),
        role_arns=frozenset({"arn:aws:iam::123456789012:role/no-such-role"}),
    )
    snapshot = collect_target(target_for(healthy), plan, now=NOW).snapshot

    assert unread(snapshot) == {}
    assert snapshot.securable(SecurableType.SCHEMA, "nope.missing") is None
    assert snapshot.securable(SecurableType.TABLE, "main.analytics.gone") is None
    assert snapshot.securable(SecurableType.SCHEMA, "main.analytics") is not None  # the ancestor exists
    assert snapshot.warehouse("0000000000000000") is None
    assert snapshot.principal(ghost_sp) is None and snapshot.principal("nobody@example.com") is None
    assert not [s for s in snapshot.oauth_secrets if s.application_id == ghost_sp]
    assert snapshot.storage_credential("no-such-credential") is None
    assert snapshot.trust_policy("arn:aws:iam::123456789012:role/no-such-role") is None


def test_only_what_the_plan_asks_for_is_read(healthy: Sandbox) -> None:
    before = healthy.request_counts()
    plan = CollectionPlan(families=frozenset({FactFamily.WAREHOUSES}), warehouses=frozenset({WAREHOUSE}))
    result = collect_target(target_for(healthy), plan, now=NOW)
    after = healthy.request_counts()

    assert {(s.family, s.scope) for s in result.snapshot.reads} == {
        (FactFamily.IDENTITY, "*"),
        (FactFamily.WAREHOUSES, WAREHOUSE),
    }
    served = {family: after[family] - before[family] for family in after}
    assert served["sql"] == served["unity-catalog"] == served["tokens"] == served["permissions"] == 0
    assert served["warehouses"] == 1
    assert result.stats.statements == 0


def test_request_counts_match_what_the_sandbox_served(fresh: Sandbox) -> None:
    fresh.reset_request_counts()
    plan = full_plan()
    result = collect_target(target_for(fresh, auth="oauth-m2m"), plan, now=NOW)
    served = fresh.request_counts()

    counted = dict(result.stats.requests)
    # the sandbox files the OAuth endpoints under "oauth"; the stats under "metadata" with discovery
    assert counted.pop("metadata") == served.pop("metadata") + served.pop("oauth")
    assert counted.pop("iam") >= 1
    assert counted == {family: n for family, n in served.items() if n}
    # one SHOW GRANTS per planned securable and ancestor, one statement per privilege view
    assert result.stats.statements == len(ReadPlan(plan).securables) + 3 == 11


def test_drift_shows_in_the_facts() -> None:
    with Sandbox.start("drifted", now=NOW) as drifted:
        snapshot = collect_target(target_for(drifted), full_plan(), now=NOW).snapshot
        grants = grant_set(snapshot, catalog="segment_profiles")

        assert ("CATALOG", "segment_profiles", "contractor@example.com", "SELECT") in grants
        assert ("CATALOG", "segment_profiles", DATA_GRAPH, "USE_SCHEMA") not in grants
        tokens = {t.owner: t for t in snapshot.tokens}
        assert tokens[AWS_SP].expiry_time == NOW + timedelta(days=5)
        policy = snapshot.trust_policy(ROLE)
        assert policy is not None and "Wk5pQxR2aB" not in str(policy.document)
