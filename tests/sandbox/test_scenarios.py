"""The bundled scenarios honour docs/sandbox-scenarios.md; bad ones fail with a message naming the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.settings import load_settings
from auditor_sandbox import Sandbox
from auditor_sandbox.scenario import (
    ScenarioError,
    ScenarioSpec,
    build_state,
    bundled_scenarios,
    load_scenario,
)
from auditor_sandbox.state import WorkspaceState
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
    SEGMENT_SPS,
    WAREHOUSE,
    pat_client,
)


def _build(name: str | dict[str, Any]) -> tuple[ScenarioSpec, WorkspaceState]:
    spec = load_scenario(name)
    return spec, build_state(spec, NOW)


def _facts(state: WorkspaceState, spec: ScenarioSpec) -> set[tuple[str, ...]]:
    """Every grant, ACL entry, token expiry, membership and entitlement, as comparable tuples."""
    facts: set[tuple[str, ...]] = {("grant", k, n.lower(), p, v) for k, n, p, v in state.catalog.all_grants()}
    for w in state.compute.list_warehouses():
        facts |= {("warehouse-acl", w.id, e.principal, e.level) for e in w.acl}
        facts.add(("warehouse", w.id, w.state, w.cluster_size, w.warehouse_type, str(w.max_num_clusters)))
    facts |= {("token-acl", e.principal, e.level) for e in state.credentials.token_acl}
    facts |= {("token", t.owner, str(t.expiry_time)) for t in state.credentials.list_tokens()}
    for principal in [u.user_name for u in state.directory.list_users()] + [
        s.application_id for s in state.directory.list_service_principals()
    ]:
        facts |= {("member", principal, g) for g in state.directory.groups_of(principal) if g != "users"}  # implicit
        facts |= {("entitlement", principal, e) for e in state.directory.effective_entitlements(principal)}
    facts |= {("trust", r.name, yaml.safe_dump(r.trust_policy)) for r in spec.iam.roles}
    facts |= {("conf", k, v) for k, v in state.workspace_conf.items()}
    return facts


def test_bundled_scenarios() -> None:
    assert {"healthy", "drifted", "legacy", "large"} <= set(bundled_scenarios())


def test_healthy_fixed_identities() -> None:
    spec, state = _build("healthy")
    assert state.workspace_id == 1234567890123456 and state.account_id == ACCOUNT
    assert (
        state.catalog.metastore is not None
        and state.catalog.metastore.global_metastore_id == f"aws:us-east-1:{METASTORE}"
    )
    auditor = state.directory.service_principal_by_app_id(AUDITOR)
    assert auditor is not None and auditor.display_name == "grants-auditor" and state.directory.is_admin(AUDITOR)
    names = {sp.application_id: sp.display_name for sp in state.directory.list_service_principals()}
    assert names == {
        AUDITOR: "grants-auditor",
        RETL: "segment-reverse-etl",
        DATA_GRAPH: "segment-data-graph",
        DELTA_LAKE: "segment-delta-lake",
        PROFILES_SYNC: "segment-profiles-sync",
        DELTA_LAKE_AWS: "segment-delta-lake-aws",
    }
    assert state.directory.is_admin("admin@example.com") and not state.directory.is_admin("analyst@example.com")
    assert state.directory.groups_of("analyst@example.com") == ["data-engineers", "users"]  # `users` implicitly
    assert "databricks-sql-access" in state.directory.effective_entitlements(PROFILES_SYNC)
    assert state.directory.groups_of(DELTA_LAKE) == ["segment-integrations", "users"]
    warehouse = state.compute.warehouse(WAREHOUSE)
    assert warehouse is not None
    assert (warehouse.name, warehouse.min_num_clusters, warehouse.max_num_clusters) == (
        "segment-warehouse",
        2,
        6,
    )
    assert spec.auditor.token.get_secret_value() == "dapi-sandbox-auditor-0001"
    assert spec.auditor.client_secret.get_secret_value() == "dose-sandbox-auditor-secret"
    assert "dapi-sandbox" not in repr(spec) and "dose-sandbox" not in repr(spec)
    tokens = {t.owner: t.expiry_time for t in state.credentials.list_tokens()}
    assert tokens == {RETL: None, DELTA_LAKE_AWS: NOW + timedelta(days=80), AUDITOR: None}
    for app_id in (DATA_GRAPH, DELTA_LAKE, PROFILES_SYNC, AUDITOR):
        [secret] = state.credentials.oauth_secrets(app_id)
        assert secret.status == "ACTIVE" and secret.expire_time == NOW + timedelta(days=300)
    assert state.catalog.get_securable("SCHEMA", "hive_metastore.default") is not None
    assert [b["pack"] for b in spec.auditor.integrations] == [
        "reverse-etl-source",
        "data-graph",
        "delta-lake-destination",
        "profiles-sync",
        "delta-lake-destination-aws",
        "segment-least-privilege",
    ]
    assert spec.auditor.watch["principals"] == list(SEGMENT_SPS)


def test_drifted_is_healthy_plus_exactly_six_problems() -> None:
    healthy_spec, healthy = _build("healthy")
    drifted_spec, drifted = _build("drifted")
    old, new = _facts(healthy, healthy_spec), _facts(drifted, drifted_spec)
    assert old - new == {
        ("grant", "CATALOG", "segment_profiles", DATA_GRAPH, "USE_SCHEMA"),  # 1
        ("warehouse-acl", WAREHOUSE, DELTA_LAKE, "CAN_USE"),  # 2
        ("token", DELTA_LAKE_AWS, str(NOW + timedelta(days=80))),  # 3
        next(f for f in old if f[0] == "trust"),  # 4
    }
    assert new - old == {
        ("warehouse-acl", WAREHOUSE, DELTA_LAKE, "CAN_VIEW"),  # 2
        ("token", DELTA_LAKE_AWS, str(NOW + timedelta(days=5))),  # 3
        next(f for f in new if f[0] == "trust"),  # 4
        ("grant", "CATALOG", "main", PROFILES_SYNC, "ALL_PRIVILEGES"),  # 5
        ("grant", "CATALOG", "segment_profiles", "contractor@example.com", "SELECT"),  # 6
        ("entitlement", "contractor@example.com", "workspace-access"),  # 6: the new user exists
    }
    trust = yaml.safe_load(next(f for f in new if f[0] == "trust")[2])
    assert trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == [ACCOUNT]
    assert drifted_spec.auditor == healthy_spec.auditor


def test_legacy_has_no_metastore_and_hive_grants() -> None:
    spec, state = _build("legacy")
    assert state.catalog.metastore is None
    assert [c.full_name for c in state.catalog.list_catalogs()] == ["hive_metastore"]
    assert state.catalog.direct_grants("SCHEMA", "hive_metastore.sales") == [
        (RETL, "USAGE"),
        (RETL, "SELECT"),
        (RETL, "READ_METADATA"),
    ]
    assert state.catalog.direct_grants("CATALOG", "hive_metastore") == [(RETL, "CREATE")]
    assert state.catalog.get_securable("TABLE", "hive_metastore.sales.orders") is not None
    warehouse = state.compute.warehouse(WAREHOUSE)
    assert warehouse is not None and ("5e9e0001-0000-4000-8000-000000000001", "CAN_USE") in [
        (e.principal, e.level) for e in warehouse.acl
    ]
    assert {t.owner: t.expiry_time for t in state.credentials.list_tokens()}[RETL] is None
    assert spec.auditor.integrations == [
        {
            "pack": "reverse-etl-source",
            "params": {
                "principal": RETL,
                "warehouse_id": WAREHOUSE,
                "catalog": "hive_metastore",
                "model_schemas": ["hive_metastore.sales"],
            },
        }
    ]


def test_legacy_answers_metastore_does_not_exist() -> None:
    from databricks.sdk.errors import NotFound

    with Sandbox.start("legacy", now=NOW) as sb:
        w = pat_client(sb)
        for call in (w.metastores.current, w.metastores.summary, lambda: list(w.catalogs.list())):
            with pytest.raises(NotFound, match="No metastore assigned"):
                call()
        raw = w.api_client
        with pytest.raises(NotFound) as exc:
            raw.do("GET", "/api/2.1/unity-catalog/current-metastore-assignment")
        assert exc.value.error_code == "METASTORE_DOES_NOT_EXIST"
        assert w.warehouses.get(WAREHOUSE).name == "segment-warehouse"
        assert sb.iam_client().list_roles()["Roles"] == []


@pytest.mark.parametrize("auth", ["pat", "oauth-m2m"])
def test_written_config_is_a_valid_auditor_config(healthy: Sandbox, tmp_path: Path, auth: str) -> None:
    path = healthy.write_config(tmp_path / "config.yaml", auth=auth)  # type: ignore[arg-type]
    assert path.stat().st_mode & 0o077 == 0
    settings = load_settings(path, env={})
    target = settings.targets[0]
    assert target.databricks.host == healthy.host
    assert target.databricks.warehouse_id == WAREHOUSE
    assert target.databricks.sql_http_path == f"/sql/1.0/warehouses/{WAREHOUSE}"
    assert target.aws is not None and target.aws.endpoint_url == healthy.iam_endpoint
    assert len(target.integrations) == 6 and target.integrations[0].pack == "reverse-etl-source"
    assert target.watch.catalogs == (
        "SEGMENT_LINKED_PROFILES_DB",
        "segment_profiles",
        "segment_events",
        "segment_lake",
    )
    credentials = target.databricks.auth
    if auth == "pat":
        assert credentials.type == "pat" and credentials.token.get_secret_value() == healthy.auditor_token
    else:
        assert credentials.type == "oauth-m2m" and credentials.client_id == AUDITOR
        assert credentials.client_secret.get_secret_value() == healthy.auditor_client_secret
    assert healthy.auditor_token not in repr(settings)


def test_scenario_files_and_base(tmp_path: Path) -> None:
    custom = tmp_path / "custom.yaml"
    custom.write_text("base: healthy\nname: small\nworkspace:\n  conf: {enableTokensConfig: 'false'}\n")
    spec, state = _build(str(custom))
    assert spec.name == "small"
    assert state.workspace_conf == {"enableTokensConfig": "false"}
    assert state.catalog.get_securable("CATALOG", "segment_lake") is not None  # the rest comes from the base


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"catalogs": [{"name": "c", "grants": {"ghost@example.com": ["SELECT"]}}]},
            r"catalogs\[c\]\.grants",
        ),
        ({"groups": [{"name": "g", "members": ["nobody"]}]}, r"groups\[g\]\.members"),
        ({"warehouses": [{"id": "w", "name": "w", "permissions": {"nobody": "CAN_USE"}}]}, "warehouses"),
        ({"catalogs": [{"name": "c", "colour": "red"}]}, r"catalogs\.0\.colour"),
        ({"auditor": {"principal": AUDITOR, "token": "dapi-other", "client_secret": "x"}}, "auditor.token"),
        ({"faults": [{"family": "nope", "kind": "drop"}]}, "faults"),
        ({"generate": {"tables": 3}}, "generate"),
    ],
)
def test_bad_scenarios_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        spec = load_scenario({"base": "healthy", **change})
        build_state(spec, NOW)
        spec.fault_list()


def test_unknown_scenario_names_the_bundled_ones(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="healthy"):
        load_scenario("no-such-scenario")
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="invalid YAML"):
        load_scenario(bad)
