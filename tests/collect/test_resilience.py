"""429 storms, 503s, hangs and expired credentials: the cycle ends inside its deadline, what failed is
unread (never an empty READ), everything else is read, and nothing crashes."""

from __future__ import annotations

from auditor.collect import collect_target
from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.clients import Connections
from auditor.model.facts import FactFamily, ReadState, SecurableType
from auditor.model.plan import CollectionPlan
from auditor_sandbox import Sandbox
from tests.collect.conftest import (
    NOW,
    PROFILES_SYNC,
    ROLE,
    full_plan,
    grant_set,
    ref,
    target_for,
    unread,
)

REST_ONLY = full_plan(
    securables=frozenset({ref(SecurableType.TABLE, "main.analytics.orders")}),
    watched_catalogs=frozenset(),
    needs_hive_metastore=False,
)
SCIM_FAMILIES = {
    FactFamily.IDENTITY,
    FactFamily.PRINCIPALS,
    FactFamily.ENTITLEMENTS,
    FactFamily.OAUTH_SECRETS,
}


def test_one_429_is_retried_after_retry_after_and_counted(fresh: Sandbox) -> None:
    fresh.set_fault("workspace-conf", "rate-limit", count=1, retry_after=1)
    plan = CollectionPlan(
        families=frozenset({FactFamily.WORKSPACE_CONF}), workspace_conf_keys=frozenset({"enableTokensConfig"})
    )

    result = collect_target(target_for(fresh), plan, now=NOW)

    assert unread(result.snapshot) == {}
    assert result.snapshot.workspace_conf == {"enableTokensConfig": "true"}
    assert result.stats.requests["workspace-conf"] == 2 == fresh.request_counts()["workspace-conf"]
    assert result.stats.errors == {}


def test_retry_after_is_capped_by_the_policy(fresh: Sandbox) -> None:
    fresh.set_fault("workspace-conf", "rate-limit", count=2, retry_after=3600)
    plan = CollectionPlan(
        families=frozenset({FactFamily.WORKSPACE_CONF}), workspace_conf_keys=frozenset({"enableTokensConfig"})
    )
    target = target_for(fresh, databricks={"max_retry_delay_seconds": 0.2}, schedule={"deadline_seconds": 30})

    result = collect_target(target, plan, now=NOW)

    assert unread(result.snapshot) == {}
    assert result.stats.requests["workspace-conf"] == 3
    assert not result.stats.deadline_exceeded


def test_a_429_storm_leaves_unity_catalog_unread_and_the_rest_read(fresh: Sandbox) -> None:
    fresh.set_fault("unity-catalog", "rate-limit", retry_after=1)
    target = target_for(fresh, schedule={"deadline_seconds": 20}, databricks={"max_retries": 2})

    result = collect_target(target, full_plan(), now=NOW)

    failed = unread(result.snapshot)
    assert {family for family, _ in failed} == {
        FactFamily.METASTORE,
        FactFamily.SECURABLES,
        FactFamily.STORAGE_CREDENTIALS,
        FactFamily.EXTERNAL_LOCATIONS,
        # the bulk information_schema reads: whether the auditor is a metastore admin (and so sees every row)
        # is read from Unity Catalog, so they cannot be proven complete
        FactFamily.GRANTS,
    }
    assert all(s.state is ReadState.FAILED and "429" in (s.reason or "") for s in failed.values())
    bulk = {scope for family, scope in failed if family is FactFamily.GRANTS}
    assert "watch:segment_profiles" in bulk
    assert all(scope.startswith(("watch:", "principal:")) for scope in bulk)
    # identities went through SCIM, ACLs through the Permissions API: all read
    assert result.snapshot.read_status(FactFamily.PRINCIPALS, PROFILES_SYNC).state is ReadState.READ
    assert result.stats.requests["unity-catalog"] == fresh.request_counts()["unity-catalog"]
    assert result.stats.errors["unity-catalog"] == len(failed)
    assert result.stats.duration_seconds < target.schedule.deadline_seconds


def test_503s_on_scim_leave_identities_unread_and_the_rest_read(fresh: Sandbox) -> None:
    fresh.set_fault("scim", "server-error", status=503, retry_after=None)
    target = target_for(fresh, databricks={"max_retries": 1}, schedule={"deadline_seconds": 20})

    result = collect_target(target, REST_ONLY, now=NOW)

    failed = unread(result.snapshot)
    assert {family for family, _ in failed} == SCIM_FAMILIES | {FactFamily.TOKENS}  # token owners: SCIM
    assert all("503" in (s.reason or "") for s in failed.values())
    assert result.snapshot.auditor_identity is None
    assert result.snapshot.read_status(FactFamily.WAREHOUSE_ACLS, "8a6f3d2c1b0e9f47").state is ReadState.READ
    assert result.snapshot.trust_policy(ROLE) is not None
    assert result.stats.duration_seconds < target.schedule.deadline_seconds


def test_a_hang_ends_at_the_deadline_and_fails_only_what_hung(fresh: Sandbox) -> None:
    fresh.set_fault("permissions", "hang", seconds=60)
    target = target_for(fresh, schedule={"deadline_seconds": 4}, databricks={"request_timeout_seconds": 30})

    result = collect_target(target, REST_ONLY, now=NOW)

    failed = unread(result.snapshot)
    assert {family for family, _ in failed} == {FactFamily.WAREHOUSE_ACLS, FactFamily.TOKEN_PERMISSIONS}
    assert all(s.state is ReadState.FAILED for s in failed.values())
    assert all("deadline exceeded" in (s.reason or "") for s in failed.values())
    assert result.stats.deadline_exceeded
    assert result.stats.duration_seconds < target.schedule.deadline_seconds
    # the warehouse itself was read; only its ACL is unknown
    assert result.snapshot.read_status(FactFamily.WAREHOUSES, "8a6f3d2c1b0e9f47").state is ReadState.READ


def test_a_rejected_token_fails_every_databricks_read_but_not_aws(fresh: Sandbox) -> None:
    for family in (
        "scim",
        "unity-catalog",
        "warehouses",
        "permissions",
        "tokens",
        "workspace-conf",
        "secrets",
        "sql",
    ):
        fresh.set_fault(family, "expired-credentials")
    plan = full_plan(role_arns=frozenset({ROLE}))

    result = collect_target(target_for(fresh), plan, now=NOW)

    failed = unread(result.snapshot)
    assert FactFamily.TRUST_POLICIES not in {family for family, _ in failed}
    assert result.snapshot.trust_policy(ROLE) is not None
    assert {family for family, _ in failed} == set(FactFamily) - {FactFamily.TRUST_POLICIES}
    assert all(s.state is ReadState.FAILED for s in failed.values())
    assert all("401" in (s.reason or "") for s in failed.values())


def test_an_expired_oauth_token_is_replaced_once(fresh: Sandbox) -> None:
    target = target_for(fresh, auth="oauth-m2m")
    connections = Connections(target, Deadline(30), CostMeter())
    rest = connections.rest()
    assert rest.get("/api/2.0/preview/scim/v2/Me")["applicationId"]

    fresh.state.credentials.expire_access_tokens()

    assert rest.get("/api/2.0/workspace-conf", {"keys": "enableTokensConfig"}) == {"enableTokensConfig": "true"}
    assert connections.meter.requests("metadata") == 4  # probe, discovery, two token requests


def test_sql_failing_to_open_falls_back_to_rest_for_unity_catalog(fresh: Sandbox) -> None:
    fresh.set_fault("sql", "server-error", status=503, retry_after=None)
    # the connector waits at least 5 s before a retry: with `auto`, it may spend half the time left at most
    target = target_for(fresh, schedule={"deadline_seconds": 8})

    result = collect_target(target, full_plan(), now=NOW)

    failed = unread(result.snapshot)
    assert {scope for _, scope in failed} == {"SCHEMA:hive_metastore.default", "CATALOG:hive_metastore"}
    assert result.stats.strategy == "api"
    assert ("SCHEMA", "main.analytics", "5e9e0001-0000-4000-8000-000000000001", "USAGE") in grant_set(result.snapshot)
    assert result.snapshot.read_status(FactFamily.GRANTS, "watch:segment_profiles").state is ReadState.READ
    assert result.stats.duration_seconds < target.schedule.deadline_seconds


def test_what_the_auditor_may_not_see_is_not_visible_to_it(fresh: Sandbox) -> None:
    fresh.state.credentials.add_token("analyst@example.com", "dapi-sandbox-analyst-0001")
    target = target_for(fresh, databricks={"auth": {"type": "pat", "token": "dapi-sandbox-analyst-0001"}})
    plan = CollectionPlan(
        families=frozenset({FactFamily.TOKENS, FactFamily.TOKEN_PERMISSIONS, FactFamily.WORKSPACE_CONF}),
        workspace_conf_keys=frozenset({"enableTokensConfig"}),
    )

    snapshot = collect_target(target, plan, now=NOW).snapshot

    assert snapshot.auditor_identity == "analyst@example.com"
    for family in (FactFamily.TOKENS, FactFamily.TOKEN_PERMISSIONS, FactFamily.WORKSPACE_CONF):
        status = snapshot.read_status(family)
        assert status.state is ReadState.NOT_VISIBLE
        assert status.reason is not None and status.reason.startswith("not visible to analyst@example.com")
    assert snapshot.tokens == ()
