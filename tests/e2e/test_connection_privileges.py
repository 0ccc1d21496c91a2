"""Privileges on a Lakehouse Federation connection are swept like any other (issue 9 item 7).

`information_schema.connection_privileges` (GRANTOR, GRANTEE, CONNECTION_NAME, PRIVILEGE_TYPE, IS_GRANTABLE,
INHERITED_FROM; docs: information-schema/connection_privileges) lists who may USE a connection or CREATE
FOREIGN CATALOG with it. A Segment principal holding either has more than any integration needs (X-1), and the
fix revokes it ON CONNECTION.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from databricks.sdk import WorkspaceClient

import auditor_sandbox
from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import SecurableType
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox
from auditor_sandbox.demo import sql_connection

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
RETL_SP = "5e9e0001-0000-4000-8000-000000000001"


def with_a_connection(grants: dict[str, list[str]]) -> dict[str, Any]:
    folder = Path(auditor_sandbox.__file__).parent / "scenarios"
    scenario: dict[str, Any] = yaml.safe_load((folder / "healthy.yaml").read_text())
    scenario["name"] = "federated"
    scenario["connections"] = [{"name": "crm_postgres", "connection_type": "POSTGRESQL", "grants": grants}]
    return scenario


def test_a_segment_principal_using_a_connection_is_excess_with_a_revoke_on_the_connection() -> None:
    with Sandbox.start(with_a_connection({RETL_SP: ["USE CONNECTION", "CREATE FOREIGN CATALOG"]}), now=NOW) as sandbox:
        config = copy.deepcopy(sandbox.config_dict(auth="oauth-m2m"))
        result = run_cycle(Settings.model_validate(config).targets[0], PACKS, now=NOW)
    swept = {(g.principal, g.privilege) for g in result.snapshot.grants if g.securable_type is SecurableType.CONNECTION}
    assert swept == {(RETL_SP, "USE_CONNECTION"), (RETL_SP, "CREATE_FOREIGN_CATALOG")}
    (x1,) = [f for f in result.report.findings if f.rule_id == "X-1" and f.subject == f"principal:{RETL_SP}"]
    assert x1.status is Status.FAIL and "crm_postgres" in x1.message
    revokes = " ".join(x1.remediation.revoke_sql)
    assert "ON CONNECTION `crm_postgres`" in revokes and "USE CONNECTION" in revokes


def test_show_grants_and_the_grants_api_answer_on_a_connection() -> None:
    with Sandbox.start(with_a_connection({RETL_SP: ["USE CONNECTION"]}), now=NOW) as sandbox:
        with (
            sql_connection(sandbox.host, sandbox.http_path or "", sandbox.auditor_token) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute("SHOW GRANTS ON CONNECTION crm_postgres")
            rows = [tuple(row) for row in cursor.fetchall()]
        client = WorkspaceClient(host=sandbox.host, token=sandbox.auditor_token)
        body = client.api_client.do("GET", "/api/2.1/unity-catalog/permissions/connection/crm_postgres")
    assert (RETL_SP, "USE CONNECTION", "CONNECTION", "crm_postgres") in rows
    assert isinstance(body, dict)
    assert body["privilege_assignments"] == [{"principal": RETL_SP, "privileges": ["USE_CONNECTION"]}]


def test_nobody_on_the_connection_changes_nothing() -> None:
    with Sandbox.start(with_a_connection({}), now=NOW) as sandbox:
        config = copy.deepcopy(sandbox.config_dict(auth="oauth-m2m"))
        report = run_cycle(Settings.model_validate(config).targets[0], PACKS, now=NOW).report
    assert [(f.rule_id, f.subject) for f in report.findings if f.status is not Status.PASS] == []
