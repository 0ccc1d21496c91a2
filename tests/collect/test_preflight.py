"""Preflight (X-3): the auditor's identity, and which fact families it can see."""

from __future__ import annotations

from auditor.collect import preflight
from auditor.model.facts import FactFamily, PrincipalKind, ReadState
from auditor_sandbox import Sandbox
from tests.collect.conftest import AUDITOR, target_for


def test_an_admin_auditor_sees_every_family(healthy: Sandbox) -> None:
    result = preflight(target_for(healthy, auth="oauth-m2m"))

    assert (result.identity, result.identity_kind) == (AUDITOR, PrincipalKind.SERVICE_PRINCIPAL)
    assert "admins" in result.groups
    assert {s.family for s in result.families} == set(FactFamily)
    assert result.blind_spots() == ()
    assert result.warehouse_state == "RUNNING"
    assert result.stats.statements == 0  # a probe never opens a SQL session (it could start the warehouse)


def test_a_non_admin_auditor_learns_its_blind_spots(fresh: Sandbox) -> None:
    fresh.state.credentials.add_token("analyst@example.com", "dapi-sandbox-analyst-0002")
    target = target_for(fresh, databricks={"auth": {"type": "pat", "token": "dapi-sandbox-analyst-0002"}})

    result = preflight(target, families=[FactFamily.TOKENS, FactFamily.WORKSPACE_CONF, FactFamily.WAREHOUSES])

    assert result.identity == "analyst@example.com"
    assert result.groups == ()  # a non-admin cannot read group details; its direct groups come from Me
    blind = {s.family: s for s in result.blind_spots()}
    assert set(blind) == {FactFamily.TOKENS, FactFamily.WORKSPACE_CONF}
    for status in blind.values():
        assert status.state is ReadState.NOT_VISIBLE
        assert status.reason == "not visible to analyst@example.com (HTTP 403)"
    assert {s.family for s in result.families} == {
        FactFamily.IDENTITY,
        FactFamily.TOKENS,
        FactFamily.WORKSPACE_CONF,
        FactFamily.WAREHOUSES,
    }


def test_an_unreachable_workspace_is_reported_not_raised(fresh: Sandbox) -> None:
    for family in (
        "metadata",
        "scim",
        "unity-catalog",
        "warehouses",
        "permissions",
        "tokens",
        "workspace-conf",
    ):
        fresh.set_fault(family, "expired-credentials")

    result = preflight(target_for(fresh), families=[FactFamily.TOKENS, FactFamily.METASTORE])

    assert result.identity is None
    assert {s.family for s in result.blind_spots()} == {
        FactFamily.IDENTITY,
        FactFamily.TOKENS,
        FactFamily.METASTORE,
    }
    assert all("401" in (s.reason or "") for s in result.blind_spots())
