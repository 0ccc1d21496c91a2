"""A finding keeps its subject when its facts cannot be read: it turns `error` in place (issue 10, item 5).

Finding IDs derive from (rule, subject) and are stored history, so a fault must never move a finding to
another subject. Each case runs the drifted scenario through the real clients, once healthy and once
with a sandbox fault, and compares the (rule, subject) sets.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Report, Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox
from auditor_sandbox.faults import FAMILIES

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
ROLE_ARN = "arn:aws:iam::123456789012:role/segment-lake-role"
# (auth, role named in configuration?): with OAuth the auditor's identity is configured, with a PAT it is
# read (SCIM /Me); without a configured role, the role is known only through the storage credential.
SETUPS = [("oauth-m2m", True), ("oauth-m2m", False), ("pat", False)]


def audit(sandbox: Sandbox, auth: str, role_configured: bool) -> Report:
    config = copy.deepcopy(sandbox.config_dict(auth=auth))  # type: ignore[arg-type]
    for integration in config["targets"][0]["integrations"]:
        if integration["pack"] == "delta-lake-destination-aws" and role_configured:
            integration["params"]["role_arn"] = ROLE_ARN
    settings = Settings.model_validate(config)
    target = settings.targets[0].model_copy(
        update={"schedule": settings.targets[0].schedule.model_copy(update={"deadline_seconds": 20})}
    )
    return run_cycle(target, PACKS, now=NOW).report


def subjects(report: Report) -> set[tuple[str, str]]:
    return {(f.rule_id, f.subject) for f in report.findings}


@pytest.fixture(scope="module")
def healthy_subjects() -> dict[tuple[str, bool], set[tuple[str, str]]]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        return {setup: subjects(audit(sandbox, *setup)) for setup in SETUPS}


@pytest.fixture
def drifted() -> Iterator[Sandbox]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        yield sandbox


@pytest.mark.parametrize(("auth", "role_configured"), SETUPS)
def test_aws6_stays_in_place_when_unity_catalog_fails(
    drifted: Sandbox, healthy_subjects: dict[tuple[str, bool], set[tuple[str, str]]], auth: str, role_configured: bool
) -> None:
    drifted.set_fault("unity-catalog", "server-error", status=503, retry_after=None)
    report = audit(drifted, auth, role_configured)
    assert subjects(report) == healthy_subjects[auth, role_configured]
    expected = f"role:{ROLE_ARN}" if role_configured else "storage_credential:segment-lake-cred"
    assert {(f.subject, f.status) for f in report.findings if f.rule_id == "AWS-6"} == {(expected, Status.ERROR)}


@pytest.mark.parametrize(("auth", "role_configured"), SETUPS)
def test_x3_stays_in_place_when_scim_is_rate_limited(
    drifted: Sandbox, healthy_subjects: dict[tuple[str, bool], set[tuple[str, str]]], auth: str, role_configured: bool
) -> None:
    drifted.set_fault("scim", "rate-limit", retry_after=1)
    report = audit(drifted, auth, role_configured)
    assert subjects(report) == healthy_subjects[auth, role_configured]
    assert {(f.subject, f.status) for f in report.findings if f.rule_id == "X-3"} == {("auditor", Status.ERROR)}


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("auth", "role_configured"), SETUPS)
def test_no_fault_family_moves_a_finding(
    drifted: Sandbox,
    healthy_subjects: dict[tuple[str, bool], set[tuple[str, str]]],
    family: str,
    auth: str,
    role_configured: bool,
) -> None:
    drifted.set_fault(family, "server-error", status=503, retry_after=None)
    assert subjects(audit(drifted, auth, role_configured)) == healthy_subjects[auth, role_configured]
