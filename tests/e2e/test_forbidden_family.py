"""A 403 for one API family alone (issue 9): only what that family vouches for is a blind spot.

The sandbox answers PERMISSION_DENIED for one family; the real clients read everything else. Rules resting
on the denied family are `error` (never pass, never fail), X-3 fails naming the family as not visible, and
every other rule keeps the verdict it has without the fault.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import ReadState
from auditor.model.findings import Report, Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())


def audit(sandbox: Sandbox) -> Report:
    config = copy.deepcopy(sandbox.config_dict(auth="oauth-m2m"))
    return run_cycle(Settings.model_validate(config).targets[0], PACKS, now=NOW).report


@pytest.fixture(scope="module")
def unfaulted() -> dict[tuple[str, str], Status]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        return {(f.rule_id, f.subject): f.status for f in audit(sandbox).findings}


@pytest.mark.parametrize(
    ("family", "fact_family", "rule"),
    [("warehouses", "warehouses", "DL-5"), ("tokens", "tokens", "AWS-9"), ("permissions", "warehouse_acls", "DL-5")],
)
def test_a_403_on_one_family_blinds_only_what_it_vouches_for(
    unfaulted: dict[tuple[str, str], Status], family: str, fact_family: str, rule: str
) -> None:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        sandbox.set_fault(family, "forbidden")
        collected = run_cycle(
            Settings.model_validate(copy.deepcopy(sandbox.config_dict(auth="oauth-m2m"))).targets[0], PACKS, now=NOW
        )
    report = collected.report
    assert any(r.family.value == fact_family and r.state is ReadState.NOT_VISIBLE for r in collected.snapshot.reads)
    faulted = {(f.rule_id, f.subject): f.status for f in report.findings}
    assert faulted.keys() == unfaulted.keys()
    x3 = [f for f in report.findings if f.rule_id == "X-3"]
    assert [f.status for f in x3] == [Status.FAIL] and fact_family in x3[0].message
    changed = {key for key in faulted if faulted[key] != unfaulted[key]}
    assert {key[0] for key in changed} - {"X-3"}, "the denied family blinded nothing"
    assert all(faulted[key] is Status.ERROR for key in changed if key[0] != "X-3")
    assert any(key[0] == rule for key in changed)
