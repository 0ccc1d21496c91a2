"""The storage role in a second AWS account (issue 9 item 3), through boto3 against the sandbox's moto.

`GetRole` answers from the caller's own account, so the role of another account is read by assuming a role
there first (`aws.assume_role_arn`); without it the finding is `error` naming both accounts, never a pass on a
same-named role of the wrong account, never "the role does not exist".
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Finding, Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
OTHER_ACCOUNT_ROLE = "arn:aws:iam::210987654321:role/segment-lake-role"


@pytest.fixture(scope="module")
def cross_account() -> Iterator[Sandbox]:
    with Sandbox.start("cross-account", now=NOW) as sandbox:
        yield sandbox


def aws6(sandbox: Sandbox, *, assume_role: bool) -> list[Finding]:
    config = copy.deepcopy(sandbox.config_dict(auth="oauth-m2m"))
    if not assume_role:
        del config["targets"][0]["aws"]["assume_role_arn"]
    target = Settings.model_validate(config).targets[0]
    result = run_cycle(target, PACKS, now=NOW)
    return [f for f in result.report.findings if f.rule_id == "AWS-6"]


def test_the_sandbox_config_assumes_the_auditor_role_of_the_roles_account(cross_account: Sandbox) -> None:
    aws = cross_account.config_dict(auth="oauth-m2m")["targets"][0]["aws"]
    assert aws["assume_role_arn"] == "arn:aws:iam::210987654321:role/grants-auditor-read"


def test_a_role_in_another_account_is_read_by_assuming_a_role_there(cross_account: Sandbox) -> None:
    (finding,) = aws6(cross_account, assume_role=True)
    assert finding.status is Status.PASS, finding.message
    assert finding.subject == "storage_credential:segment-lake-cred"
    assert OTHER_ACCOUNT_ROLE in finding.message


def test_without_assuming_a_role_the_other_accounts_role_is_an_error_naming_both_accounts(
    cross_account: Sandbox,
) -> None:
    (finding,) = aws6(cross_account, assume_role=False)
    assert finding.status is Status.ERROR
    assert "210987654321" in finding.message and "123456789012" in finding.message
    assert "does not exist" not in finding.message
