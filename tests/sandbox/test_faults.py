"""Fault injection, observed through the real clients: retries, refusals, timeouts, request counts."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from databricks import sql
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import InternalError, TooManyRequests, Unauthenticated

from auditor_sandbox import Sandbox
from auditor_sandbox.faults import FAMILIES, Fault, FaultError, FaultInjector
from tests.present import present
from tests.sandbox.clients import NOW, WAREHOUSE, pat_client


def _admin(sb: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The sandbox's own control endpoint (not a platform API, so plain HTTP)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{sb.host}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def _connect(sb: Sandbox, token: str | None = None) -> Any:
    return sql.connect(
        server_hostname="127.0.0.1",
        http_path=sb.http_path,
        _connection_uri=f"{sb.host}{sb.http_path}",
        access_token=token or sb.auditor_token,
        enable_telemetry=False,
        use_cloud_fetch=False,
        _retry_stop_after_attempts_count=3,
        _retry_delay_min=0.1,
        _retry_delay_max=5,
    )


def test_sdk_retries_a_429_after_retry_after(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    fresh.reset_request_counts()
    fresh.set_fault("unity-catalog", "rate-limit", count=1, retry_after=1)
    assert len(list(w.catalogs.list())) == 6
    assert fresh.request_counts()["unity-catalog"] == 2  # refused once, then answered


def test_rate_limit_without_end_exhausts_the_sdk_retry_budget(fresh: Sandbox) -> None:
    w = WorkspaceClient(config=Config(host=fresh.host, token=fresh.auditor_token, retry_timeout_seconds=1))
    fresh.set_fault("scim", "rate-limit", retry_after=1)
    with pytest.raises(TimeoutError) as exc:
        w.current_user.me()
    assert isinstance(exc.value.__cause__, TooManyRequests)


def test_503_is_retried_and_500_is_not(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    fresh.reset_request_counts()
    fresh.set_fault("warehouses", "server-error", status=503, count=1, retry_after=1)
    assert w.warehouses.get(WAREHOUSE).id == WAREHOUSE
    assert fresh.request_counts()["warehouses"] == 2
    fresh.set_fault("warehouses", "server-error", status=500, count=1)
    with pytest.raises(InternalError):
        w.warehouses.get(WAREHOUSE)
    assert fresh.request_counts()["warehouses"] == 3
    assert w.warehouses.get(WAREHOUSE).id == WAREHOUSE  # the fault was for one request only


def test_dropped_connection_is_retried(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    fresh.reset_request_counts()
    fresh.set_fault("tokens", "drop", count=1)
    assert len(list(w.token_management.list())) == 3
    assert fresh.request_counts()["tokens"] == 2


def test_hang_times_out_and_is_retried(fresh: Sandbox) -> None:
    config = Config(host=fresh.host, token=fresh.auditor_token, retry_timeout_seconds=20, http_timeout_seconds=1)
    w = WorkspaceClient(config=config)
    fresh.reset_request_counts()
    fresh.set_fault("workspace-conf", "hang", count=1, seconds=30)
    assert w.workspace_conf.get_status(keys="enableTokensConfig") == {"enableTokensConfig": "true"}
    assert fresh.request_counts()["workspace-conf"] == 2


def test_latency_delays_but_answers(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    fresh.set_fault("secrets", "latency", seconds=0.2)
    sp_id = next(sp.id for sp in w.service_principals.list() if sp.application_id == fresh.auditor_client_id)
    assert [s.status for s in w.service_principal_secrets_proxy.list(present(sp_id))] == ["ACTIVE"]


def test_expired_credentials_refuse_one_family_only(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    fresh.set_fault("unity-catalog", "expired-credentials")
    with pytest.raises(Unauthenticated, match="expired"):
        w.metastores.current()
    assert w.current_user.me().user_name == fresh.auditor_client_id
    fresh.clear_faults()
    assert w.metastores.current().metastore_id


def test_host_metadata_failure_leaves_pat_working(fresh: Sandbox) -> None:
    fresh.set_fault("metadata", "server-error", status=500)
    w = pat_client(fresh)
    assert w.config.workspace_id is None  # the probe failed, the SDK fell back to explicit config
    assert w.current_user.me().user_name == fresh.auditor_client_id
    assert fresh.request_counts()["metadata"] >= 1


def test_warehouse_stopped_fault_and_restore(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    fresh.set_fault("warehouses", "warehouse-stopped")
    stopped = w.warehouses.get(WAREHOUSE)
    assert stopped.state is not None and stopped.state.value == "STOPPED"
    warehouse = fresh.state.compute.warehouse(WAREHOUSE)
    assert warehouse is not None and not warehouse.auto_start
    fresh.clear_faults()
    running = w.warehouses.get(WAREHOUSE)
    assert running.state is not None and running.state.value == "RUNNING"


def test_every_family_is_counted(fresh: Sandbox) -> None:
    w = pat_client(fresh)  # the host-metadata probe
    fresh_counts = fresh.request_counts()
    assert set(fresh_counts) == set(FAMILIES)
    w.current_user.me()
    list(w.catalogs.list())
    w.warehouses.get(WAREHOUSE)
    w.warehouses.get_permissions(WAREHOUSE)
    list(w.token_management.list())
    w.workspace_conf.get_status(keys="enableTokensConfig")
    sp_id = w.current_user.me().id
    list(w.service_principal_secrets_proxy.list(present(sp_id)))
    counts = fresh.request_counts()
    assert counts["metadata"] == 1
    for family in ("unity-catalog", "warehouses", "permissions", "tokens", "workspace-conf", "secrets"):
        assert counts[family] == 1, family
    assert counts["scim"] == 2
    assert counts["oauth"] == 0 and counts["sql"] == 0


def test_faults_through_the_admin_endpoint(fresh: Sandbox) -> None:
    w = pat_client(fresh)
    fault = {"family": "scim", "kind": "server-error", "status": 500, "count": 1}
    added = _admin(fresh, "POST", "/_sandbox/faults", fault)
    assert added["kind"] == "server-error"
    assert _admin(fresh, "GET", "/_sandbox/faults")["faults"] == [added]
    _admin(fresh, "DELETE", "/_sandbox/counts")
    with pytest.raises(InternalError):
        w.current_user.me()
    assert w.current_user.me().user_name == fresh.auditor_client_id
    assert _admin(fresh, "GET", "/_sandbox/counts")["scim"] == 2
    _admin(fresh, "DELETE", "/_sandbox/faults")
    assert fresh.control.injector.active() == []
    assert _admin(fresh, "GET", "/_sandbox/health") == {"status": "ok", "scenario": "healthy"}
    with pytest.raises(urllib.error.HTTPError) as bad:
        _admin(fresh, "POST", "/_sandbox/faults", {"family": "nope", "kind": "drop"})
    assert bad.value.code == 400


def test_scenario_faults_section() -> None:
    fault = {"family": "unity-catalog", "kind": "expired-credentials", "count": 1}
    with Sandbox.start({"base": "healthy", "faults": [fault]}, now=NOW) as sb:
        assert sb.control.injector.active() == [Fault("unity-catalog", "expired-credentials", count=1)]
        w = pat_client(sb)
        with pytest.raises(Unauthenticated):
            w.metastores.current()
        assert w.metastores.current().metastore_id
        assert sb.request_counts()["unity-catalog"] == 2


def test_sql_endpoint_faults_through_the_connector(fresh: Sandbox) -> None:
    fresh.set_fault("sql", "expired-credentials", count=1)
    with pytest.raises(sql.exc.Error):
        _connect(fresh)
    with _connect(fresh) as connection, connection.cursor() as cursor:
        fresh.set_fault("sql", "rate-limit", count=1, retry_after=1)
        cursor.execute("SELECT current_metastore()")
        assert cursor.fetchall()[0][0].endswith("11111111-2222-4333-8444-555555555555")
    counts = fresh.request_counts()
    assert counts["sql"] >= 5  # refused open, open, refused execute, execute, close


def test_fault_specs_are_validated() -> None:
    for bad in (
        {"family": "nope", "kind": "drop"},
        {"family": "scim", "kind": "explode"},
        {"family": "scim", "kind": "server-error", "status": 404},
        {"family": "scim", "kind": "drop", "probability": 2},
        {"family": "scim", "kind": "drop", "colour": "red"},
    ):
        with pytest.raises(FaultError):
            Fault.from_dict(bad)


def test_probabilistic_faults_repeat_for_a_seed() -> None:
    def fired(seed: int) -> list[bool]:
        injector = FaultInjector(seed=seed)
        injector.add(Fault("scim", "drop", probability=0.5))
        return [injector.on_request("scim").fault is not None for _ in range(200)]

    first = fired(7)
    assert first == fired(7)
    assert 60 < sum(first) < 140
    assert first != fired(8)


def test_first_n_faults_then_normal_answers() -> None:
    injector = FaultInjector()
    injector.add(Fault("oauth", "rate-limit", count=2))
    injector.add(Fault("oauth", "latency", seconds=0.5))
    decisions = [injector.on_request("oauth") for _ in range(3)]
    assert [d.fault is not None for d in decisions] == [True, True, False]
    assert [d.delay for d in decisions] == [0.5, 0.5, 0.5]
    assert injector.on_request("scim").fault is None
    assert injector.counts()["oauth"] == 3 and injector.counts()["scim"] == 1


def test_base_latency_delays_every_family_and_outlives_cleared_faults() -> None:
    injector = FaultInjector(latency=0.03)
    injector.add(Fault("sql", "latency", seconds=0.2))
    assert {family: injector.on_request(family).delay for family in ("sql", "scim")} == {"sql": 0.23, "scim": 0.03}
    injector.clear()
    assert [injector.on_request(family).delay for family in FAMILIES] == [0.03] * len(FAMILIES)
    with pytest.raises(FaultError, match="latency"):
        FaultInjector(latency=-1)


def test_sandbox_latency_reaches_the_workspace_the_warehouse_and_iam() -> None:
    with Sandbox.start("healthy", now=NOW, latency=0.1) as sb:
        w = pat_client(sb)
        iam = sb.iam_client()
        timings = []
        for call in (lambda: list(w.catalogs.list()), lambda: _connect(sb).close(), lambda: iam.list_roles()):
            start = time.perf_counter()
            call()
            timings.append(time.perf_counter() - start)
        assert min(timings) >= 0.1
        assert _admin(sb, "GET", "/_sandbox/health")["status"] == "ok"  # control calls are not delayed or counted
