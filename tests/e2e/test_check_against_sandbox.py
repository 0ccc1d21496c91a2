"""Issue 4's promise, end to end: collect from the sandbox with the real clients, evaluate with the real packs.

`drifted` reports exactly its six planted problems (docs/sandbox-scenarios.md) and nothing else, `healthy`
reports no failure, `legacy` passes through SQL, and with the warehouse stopped `auto` falls back to REST,
never starts the warehouse, and reaches the same verdicts on Unity Catalog rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox
from tests.golden import DRIFTED, non_pass
from tests.present import present

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
# The six problems the scenario plants (docs/sandbox-scenarios.md), as the findings each one breaks.
DRIFTED_PROBLEMS = non_pass(DRIFTED)


def _audit(sandbox: Sandbox, auth: str = "pat") -> set[tuple[str, str, Status]]:
    target = Settings.model_validate(sandbox.config_dict(auth=auth)).targets[0]  # type: ignore[arg-type]
    report = run_cycle(target, PACKS, now=NOW).report
    return {(f.rule_id, f.subject, f.status) for f in report.findings if f.status is not Status.PASS}


@pytest.fixture
def drifted() -> Iterator[Sandbox]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        yield sandbox


def test_drifted_reports_exactly_its_six_problems(drifted: Sandbox) -> None:
    assert _audit(drifted) == DRIFTED_PROBLEMS


def test_drifted_over_oauth_m2m_reports_the_same(drifted: Sandbox) -> None:
    assert _audit(drifted, auth="oauth-m2m") == DRIFTED_PROBLEMS


def test_healthy_reports_no_failure() -> None:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        assert _audit(sandbox) == set()


def test_legacy_hive_metastore_source_passes_through_sql() -> None:
    with Sandbox.start("legacy", now=NOW) as sandbox:
        assert _audit(sandbox) == set()


def test_stopped_warehouse_falls_back_to_rest_without_starting_it(drifted: Sandbox) -> None:
    drifted.set_fault("warehouses", "warehouse-stopped")
    findings = _audit(drifted)
    assert present(drifted.state.compute.warehouse(present(drifted.warehouse_id))).state == "STOPPED"
    # every planted problem is still found over REST, and DL-7 (advisory) now sees the warehouse stopped
    assert findings >= DRIFTED_PROBLEMS
    extra = findings - DRIFTED_PROBLEMS
    assert ("DL-7", "warehouse:8a6f3d2c1b0e9f47", Status.WARN) in extra
    # sweeping every grant of a principal needs information_schema: over REST, X-1 for the principals without a
    # visible excess (and X-3, the auditor's own blind spots) say so with `error` instead of passing
    others = {(rule, status) for rule, _, status in extra} - {("DL-7", Status.WARN)}
    assert others == {("X-1", Status.ERROR), ("X-3", Status.ERROR)}
