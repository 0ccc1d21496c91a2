"""X-1 decisions: a grant broader in scope than what a rule requires is excess; one within it is not."""

from __future__ import annotations

from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from tests.rules.documented import NOW, RETL, healthy, plus_grants

PACKS = load_packs(kinds=builtin_kind_args())


def _x1(sql: str) -> Status:
    report = evaluate(plus_grants(healthy(), sql), PACKS, now=NOW)
    (finding,) = [f for f in report.findings if f.rule_id == "X-1" and f.subject == f"principal:{RETL}"]
    return finding.status


def test_a_grant_on_an_ancestor_of_what_is_required_is_excess() -> None:
    # RETL-3 asks for SELECT on schema main.analytics; SELECT on the whole catalog is broader
    assert _x1(f"GRANT SELECT ON CATALOG main TO `{RETL}`;") is Status.FAIL


def test_a_grant_below_what_is_required_is_within_it() -> None:
    assert _x1(f"GRANT SELECT ON TABLE main.analytics.orders TO `{RETL}`;") is Status.PASS


def test_the_documented_grants_are_not_excess() -> None:
    assert _x1("") is Status.PASS
