"""The fix plan, applied as printed, fixes what it says it fixes (issue 12).

On the `drifted` sandbox: the plan's additive section is run statement by statement — SQL through the real
databricks-sql-connector, each REST call (the ``curl`` line of each step) through the real SDK's api_client, the
trust policy through boto3 against moto — and a new audit sees every missing-grant, ACL and trust rule pass.
Then the REVOKE section, and the excess and exposure rules pass too. Only the credential renewal is left: the plan
gives it as instructions, never applied. The auditor itself stays read-only; only this test applies anything.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from databricks import sql

from auditor.cycle import CycleResult, run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Status
from auditor.outputs.formats import render
from auditor.outputs.review import AuditRecord, pack_infos
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox
from tests.golden import DRIFTED, non_pass
from tests.sandbox.clients import pat_client

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
ADDITIVE = "## 1. Additive fixes"
RENEWALS = "## 3. Credential renewals (instructions)"
REVOKES = "## 4. For review: REVOKE suggestions"
# What each section addresses in `drifted` (tests/golden.py): the additive part fixes the grant, ACL and trust
# problems, the REVOKE part the excess and the exposure; the expiring token stays (a renewal is an instruction).
RENEWED_ONLY = {("AWS-9", "pat:5e9e0005-0000-4000-8000-000000000005", Status.WARN)}
REVOKED = {("X-1", "principal:5e9e0004-0000-4000-8000-000000000004", Status.FAIL)} | {
    ("X-2", "CATALOG:segment_profiles", Status.FAIL)
}


@pytest.fixture
def drifted() -> Iterator[Sandbox]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        yield sandbox


def _cycle(sandbox: Sandbox) -> CycleResult:
    target = Settings.model_validate(sandbox.config_dict()).targets[0]
    return run_cycle(target, PACKS, now=NOW)


def _open(result: CycleResult) -> set[tuple[str, str, Status]]:
    return {(f.rule_id, f.subject, f.status) for f in result.report.findings if f.status is not Status.PASS}


def section(plan: str, heading: str) -> str:
    start = plan.index(heading + "\n")
    end = plan.find("\n## ", start + len(heading))
    return plan[start : end if end >= 0 else None]


def blocks(text: str, language: str) -> list[list[str]]:
    """The lines of each fenced block of ``language``."""
    found = re.findall(rf"^(`{{3,}}){language}\n(.*?)\n\1$", text, flags=re.M | re.S)
    return [body.splitlines() for _, body in found]


def apply_section(sandbox: Sandbox, text: str) -> list[str]:
    """Run every SQL statement, REST call and trust-policy command of one plan section; what was run."""
    ran: list[str] = []
    statements = [line for block in blocks(text, "sql") for line in block if line and not line.startswith("--")]
    if statements:
        assert sandbox.http_path is not None
        with (
            sql.connect(
                server_hostname="127.0.0.1",
                http_path=sandbox.http_path,
                _connection_uri=f"{sandbox.host}{sandbox.http_path}",
                access_token=sandbox.auditor_token,
                enable_telemetry=False,
                use_cloud_fetch=False,
            ) as connection,
            connection.cursor() as cursor,
        ):
            for statement in statements:
                cursor.execute(statement)
                ran.append(statement)
    api = pat_client(sandbox).api_client
    for line in (line for block in blocks(text, "sh") for line in block):
        if line.startswith("curl "):
            method, path, body = parse_curl(line)
            api.do(method, path, body=body)
            ran.append(f"{method} {path}")
        elif line.startswith("aws iam update-assume-role-policy "):
            argv = shlex.split(line)
            role_name = argv[argv.index("--role-name") + 1]
            document = argv[argv.index("--policy-document") + 1]
            json.loads(document)
            sandbox.iam_client().update_assume_role_policy(RoleName=role_name, PolicyDocument=document)
            ran.append(f"update-assume-role-policy {role_name}")
    return ran


def parse_curl(line: str) -> tuple[str, str, Any]:
    argv = shlex.split(line)
    method = argv[argv.index("-X") + 1]
    (url,) = [a for a in argv if a.startswith("$DATABRICKS_HOST")]
    body = json.loads(argv[argv.index("--data-raw") + 1]) if "--data-raw" in argv else None
    return method, url.removeprefix("$DATABRICKS_HOST"), body


def test_the_plan_s_additive_part_then_its_revokes_fix_every_rule_they_address(drifted: Sandbox) -> None:
    before = _cycle(drifted)
    assert _open(before) == non_pass(DRIFTED)
    plan = render(AuditRecord(report=before.report, snapshot=before.snapshot, packs=pack_infos(PACKS)), "plan")

    ran = apply_section(drifted, section(plan, ADDITIVE))
    assert any(r.startswith("GRANT ") for r in ran)
    assert "PATCH /api/2.0/permissions/warehouses/8a6f3d2c1b0e9f47" in ran
    assert "update-assume-role-policy segment-lake-role" in ran
    assert _open(_cycle(drifted)) == RENEWED_ONLY | REVOKED

    renewals = section(plan, RENEWALS)
    assert "create-obo-token" in renewals and "AWS-9" in renewals  # listed, and left to the reader

    ran = apply_section(drifted, section(plan, REVOKES))
    assert ran and all(r.startswith("REVOKE ") for r in ran)
    assert _open(_cycle(drifted)) == RENEWED_ONLY


def test_entitlement_and_token_permission_additions_apply_through_the_api() -> None:
    """Two problems `drifted` does not plant: an entitlement and the token-usage permission taken away."""
    with Sandbox.start("healthy", now=NOW) as sandbox:
        aws_sp = "5e9e0005-0000-4000-8000-000000000005"
        sandbox.state.directory.set_entitlements(aws_sp, ["allow-cluster-create"])  # databricks-sql-access removed
        credentials = sandbox.state.credentials
        credentials.token_acl = tuple(e for e in credentials.token_acl if e.principal != aws_sp)
        before = _cycle(sandbox)
        assert {(rule, status) for rule, _, status in _open(before)} == {("AWS-3", Status.FAIL), ("AWS-8", Status.FAIL)}

        plan = render(before.report, "plan")
        ran = apply_section(sandbox, section(plan, ADDITIVE))
        assert "PATCH /api/2.0/preview/scim/v2/ServicePrincipals/" + _scim_id(sandbox, aws_sp) in ran
        assert "PATCH /api/2.0/permissions/authorization/tokens" in ran
        assert _open(_cycle(sandbox)) == set()


def _scim_id(sandbox: Sandbox, application_id: str) -> str:
    sp = sandbox.state.directory.service_principal_by_app_id(application_id)
    assert sp is not None
    return sp.id
