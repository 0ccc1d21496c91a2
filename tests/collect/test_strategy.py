"""`collection: auto | sql | api`, a stopped warehouse, and hive_metastore (SQL only)."""

from __future__ import annotations

from auditor.collect import collect_target
from auditor.model.facts import FactFamily, ReadState, SecurableType
from auditor.model.plan import CollectionPlan
from auditor_sandbox import Sandbox
from tests.collect.conftest import (
    NOW,
    RETL,
    WAREHOUSE,
    full_plan,
    grant_set,
    ref,
    statuses,
    target_for,
    unread,
)

UC_ONLY = full_plan(
    securables=frozenset(
        {ref(SecurableType.TABLE, "main.analytics.orders"), ref(SecurableType.CATALOG, "segment_lake")}
    ),
    needs_hive_metastore=False,
)


def test_auto_reads_unity_catalog_through_rest_when_the_warehouse_is_stopped(fresh: Sandbox) -> None:
    over_sql = collect_target(target_for(fresh), UC_ONLY, now=NOW)
    fresh.state.compute.stop_warehouse(WAREHOUSE)
    fresh.reset_request_counts()

    over_rest = collect_target(target_for(fresh), UC_ONLY, now=NOW)

    assert (over_sql.stats.strategy, over_rest.stats.strategy) == ("sql", "api")
    assert unread(over_rest.snapshot) == {}
    assert grant_set(over_rest.snapshot) == grant_set(over_sql.snapshot)
    assert {g.source for g in over_rest.snapshot.grants} == {"rest"}
    assert over_rest.snapshot.securables == over_sql.snapshot.securables
    # the warehouse was neither started nor even connected to
    assert fresh.state.compute.warehouse(WAREHOUSE).state == "STOPPED"  # type: ignore[union-attr]
    assert fresh.request_counts()["sql"] == 0
    assert over_rest.stats.statements == 0
    warehouse = over_rest.snapshot.warehouse(WAREHOUSE)
    assert warehouse is not None and warehouse.state == "STOPPED"


def test_hive_metastore_is_an_error_with_the_reason_when_sql_is_unavailable(fresh: Sandbox) -> None:
    fresh.state.compute.stop_warehouse(WAREHOUSE)

    snapshot = collect_target(target_for(fresh), full_plan(), now=NOW).snapshot

    failed = unread(snapshot)
    assert set(failed) == {
        (FactFamily.GRANTS, "SCHEMA:hive_metastore.default"),
        (FactFamily.GRANTS, "CATALOG:hive_metastore"),
        (FactFamily.SECURABLES, "SCHEMA:hive_metastore.default"),
        (FactFamily.SECURABLES, "CATALOG:hive_metastore"),
    }
    for status in failed.values():
        assert status.state is ReadState.FAILED
        assert status.reason is not None
        assert "SQL only" in status.reason and "STOPPED" in status.reason and "allow_warehouse_start" in status.reason
    assert fresh.state.compute.warehouse(WAREHOUSE).state == "STOPPED"  # type: ignore[union-attr]


def test_sql_mode_never_starts_a_stopped_warehouse_unless_allowed(fresh: Sandbox) -> None:
    fresh.state.compute.stop_warehouse(WAREHOUSE)

    refused = collect_target(target_for(fresh, collection="sql"), UC_ONLY, now=NOW).snapshot

    grants = [s for (family, _), s in statuses(refused).items() if family is FactFamily.GRANTS]
    assert grants and all(s.state is ReadState.FAILED for s in grants)
    assert all("collection is 'sql'" in (s.reason or "") for s in grants)
    assert refused.read_status(FactFamily.SECURABLES, "CATALOG:main").state is ReadState.READ  # metadata: REST
    assert fresh.state.compute.warehouse(WAREHOUSE).state == "STOPPED"  # type: ignore[union-attr]

    allowed = collect_target(target_for(fresh, collection="sql", allow_warehouse_start=True), UC_ONLY, now=NOW)

    assert unread(allowed.snapshot) == {}
    assert allowed.stats.strategy == "sql"
    assert fresh.state.compute.warehouse(WAREHOUSE).state == "RUNNING"  # type: ignore[union-attr]


def test_api_mode_reads_unity_catalog_through_rest_and_refuses_hive_metastore(healthy: Sandbox) -> None:
    before = healthy.request_counts()["sql"]

    result = collect_target(target_for(healthy, collection="api"), full_plan(), now=NOW)

    assert result.stats.strategy == "api"
    assert healthy.request_counts()["sql"] == before
    failed = unread(result.snapshot)
    assert {scope for _, scope in failed} == {"SCHEMA:hive_metastore.default", "CATALOG:hive_metastore"}
    assert all("collection is 'api'" in (s.reason or "") for s in failed.values())
    assert ("SCHEMA", "main.analytics", RETL, "USAGE") in grant_set(result.snapshot)


def test_legacy_workspace_reads_hive_metastore_through_sql() -> None:
    plan = CollectionPlan(
        families=frozenset({FactFamily.METASTORE, FactFamily.GRANTS, FactFamily.SECURABLES}),
        securables=frozenset({ref(SecurableType.SCHEMA, "hive_metastore.sales")}),
        needs_hive_metastore=True,
    )
    with Sandbox.start("legacy", now=NOW) as legacy:
        snapshot = collect_target(target_for(legacy), plan, now=NOW).snapshot

    assert unread(snapshot) == {}
    assert snapshot.metastore is None  # read: no metastore assigned
    assert snapshot.read_status(FactFamily.METASTORE).state is ReadState.READ
    grants = grant_set(snapshot)
    assert {("SCHEMA", "hive_metastore.sales", RETL, p) for p in ("USAGE", "SELECT", "READ_METADATA")} <= grants
    assert ("CATALOG", "hive_metastore", RETL, "CREATE") in grants
    assert not any(privilege == "OWN" for *_, privilege in grants)
    assert snapshot.securable(SecurableType.SCHEMA, "hive_metastore.sales") is not None
