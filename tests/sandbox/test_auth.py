"""Authentication and authorisation through the real SDK: PATs, OAuth M2M, refusals, a non-admin identity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from databricks.sdk.errors import NotFound, PermissionDenied, Unauthenticated

from auditor_sandbox import Sandbox
from tests.present import present
from tests.sandbox.clients import (
    DATA_GRAPH,
    DATA_GRAPH_SECRET,
    DELTA_LAKE_AWS,
    RETL,
    RETL_TOKEN,
    WAREHOUSE,
    oauth_client,
    pat_client,
)


def test_unknown_pat_is_refused_with_401_json(healthy: Sandbox) -> None:
    w = pat_client(healthy, "dapi-not-a-token")
    with pytest.raises(Unauthenticated) as exc:
        w.current_user.me()
    assert "dapi-not-a-token" not in str(exc.value)
    raw = w.api_client  # the refusal is a JSON error body with an error code
    with pytest.raises(Unauthenticated, match="Invalid access token"):
        raw.do("GET", "/api/2.0/preview/scim/v2/Me")


def test_expired_and_revoked_pats_are_refused(fresh: Sandbox) -> None:
    admin = pat_client(fresh)
    aws = pat_client(fresh, "dapi-sandbox-delta-lake-aws-0001")
    assert aws.current_user.me().user_name == DELTA_LAKE_AWS
    fresh.advance_clock(timedelta(days=81))  # the token expires 80 days after the start
    with pytest.raises(Unauthenticated, match="expired"):
        aws.current_user.me()
    retl = pat_client(fresh, RETL_TOKEN)
    assert retl.current_user.me().user_name == RETL
    retl_token = next(t for t in admin.token_management.list() if t.created_by_username == RETL)
    admin.token_management.delete(present(retl_token.token_id))
    with pytest.raises(Unauthenticated):
        retl.current_user.me()
    assert retl_token.token_id not in {t.token_id for t in admin.token_management.list()}


def test_oauth_m2m_discovery_token_endpoint_and_basic_auth(fresh: Sandbox) -> None:
    w = oauth_client(fresh, DATA_GRAPH, DATA_GRAPH_SECRET)
    assert w.current_user.me().user_name == DATA_GRAPH
    assert w.config.discovery_url == f"{fresh.host}/oidc/.well-known/oauth-authorization-server"
    counts = fresh.request_counts()
    assert counts["oauth"] == 2  # discovery document + one token request
    assert counts["metadata"] == 1


def test_wrong_client_secret_is_refused(healthy: Sandbox) -> None:
    w = oauth_client(healthy, DATA_GRAPH, "dose-wrong")
    with pytest.raises(ValueError, match="invalid_client"):
        w.current_user.me()


def test_oauth_access_tokens_expire(fresh: Sandbox) -> None:
    w = oauth_client(fresh)
    assert w.current_user.me().user_name == fresh.auditor_client_id
    fresh.state.credentials.expire_access_tokens()
    with pytest.raises(Unauthenticated, match="expired"):
        w.current_user.me()
    assert oauth_client(fresh).current_user.me().user_name == fresh.auditor_client_id  # a new token works


def test_non_admin_is_denied_admin_only_endpoints(healthy: Sandbox) -> None:
    retl = pat_client(healthy, RETL_TOKEN)
    admin = pat_client(healthy)
    dg_scim_id = next(sp.id for sp in admin.service_principals.list() if sp.application_id == DATA_GRAPH)
    denied: list[Callable[[], object]] = [
        lambda: list(retl.token_management.list()),
        lambda: retl.api_client.do("GET", "/api/2.0/permissions/authorization/tokens"),
        lambda: retl.workspace_conf.get_status(keys="enableTokensConfig"),
        lambda: list(retl.service_principal_secrets_proxy.list(present(dg_scim_id))),
        lambda: retl.service_principals.get(present(dg_scim_id)),
        lambda: retl.warehouses.get_permissions(WAREHOUSE),
        lambda: retl.metastores.get("11111111-2222-4333-8444-555555555555"),
    ]
    for call in denied:
        with pytest.raises(PermissionDenied):
            call()


def test_non_admin_sees_only_what_it_may(healthy: Sandbox) -> None:
    retl = pat_client(healthy, RETL_TOKEN)
    me = retl.current_user.me()
    assert me.user_name == RETL and retl.service_principals.get(present(me.id)).application_id == RETL
    assert [c.name for c in retl.catalogs.list()] == ["main"]  # the only catalog it holds a privilege on
    assert [s.name for s in retl.schemas.list("main")] == [
        "analytics",
        "default",
    ]  # CREATE on main is inherited
    with pytest.raises(PermissionDenied):
        retl.catalogs.get("segment_profiles")
    own_rows = retl.grants.get("catalog", "main")
    assert [a.principal for a in own_rows.privilege_assignments or []] == [RETL]
    assert retl.storage_credentials.list() is not None
    assert list(retl.storage_credentials.list()) == []
    assert [w.id for w in retl.warehouses.list()] == [WAREHOUSE]
    listed = list(retl.service_principals.list())
    assert {sp.application_id for sp in listed} >= {RETL, DATA_GRAPH}
    assert all(not sp.entitlements and not sp.groups for sp in listed)  # identifying attributes only
    assert [t.comment for t in retl.tokens.list()] == ["Segment Reverse ETL"]


def test_missing_objects_are_not_found(healthy: Sandbox) -> None:
    w = pat_client(healthy)
    for call in (
        lambda: w.catalogs.get("nope"),
        lambda: w.catalogs.get("hive_metastore"),
        lambda: w.schemas.get("main.nope"),
        lambda: w.tables.get("main.analytics.nope"),
        lambda: w.grants.get("catalog", "nope"),
        lambda: w.storage_credentials.get("nope"),
        lambda: w.external_locations.get("nope"),
        lambda: w.warehouses.get("nope"),
        lambda: w.service_principals.get("1"),
        lambda: list(w.service_principal_secrets_proxy.list(DATA_GRAPH)),  # wants the numeric SCIM id
    ):
        with pytest.raises(NotFound):
            call()
