"""Registry-wide: a verdict rests only on facts that were read.

For every rule of every bundled pack, on the example snapshots and on the facts that make each rule pass
(the documented workspace, with each rule's setup), every read scope an outcome relied on is marked
FAILED and then NOT_VISIBLE in turn. No `pass`, and no `fail` (or `warn`) that rested on the scope, may
survive: the finding becomes `error`, keeps its subject (so its history stays continuous) and says which
read was missing.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest

from auditor.evaluate.engine import bind_all, judge
from auditor.evaluate.registry import FactScope, builtin_kind_args
from auditor.loading import load_snapshot
from auditor.model.facts import FactFamily, ReadState, ReadStatus, Snapshot
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from tests.rules.documented import NOW, healthy
from tests.rules.test_pack_rules import CASES

PACKS = load_packs(kinds=builtin_kind_args())
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "snapshots"


def _snapshots() -> dict[str, tuple[Snapshot, datetime]]:
    found: dict[str, tuple[Snapshot, datetime]] = {}
    for path in sorted(EXAMPLES.glob("*.json")):
        snapshot = load_snapshot(path)
        found[path.stem] = (snapshot, snapshot.collected_at)
    for setup in dict.fromkeys(case.setup for case in CASES):  # the facts that make each rule pass
        name = "documented" if setup.__name__ == "_same" else f"documented+{setup.__name__}"
        found[name] = (setup(healthy()), NOW)
    return found


SNAPSHOTS = _snapshots()

# (integration, rule id, subject) -> (status, message, reads relied on)
Judged = dict[tuple[str, str, str], tuple[Status, str, tuple[FactScope, ...]]]


@cache
def _judged(name: str, marked: FactScope | None = None, state: ReadState | None = None) -> Judged:
    snapshot, now = SNAPSHOTS[name]
    if marked is not None and state is not None:
        snapshot = _mark(snapshot, marked, state)
    bound = bind_all(PACKS, snapshot.integrations, where="snapshot")
    result: Judged = {}
    for rule, outcomes in judge(snapshot, bound, now=now):
        for outcome in outcomes:
            key = (rule.binding.instance, rule.rule.id, outcome.subject)
            result[key] = (outcome.status, outcome.message, outcome.relied_on)
    return result


def _mark(snapshot: Snapshot, scope: FactScope, state: ReadState) -> Snapshot:
    """The snapshot with one read scope (``None``: the whole family) failed or hidden."""
    recorded = scope.scope if scope.scope is not None else "*"
    kept = tuple(r for r in snapshot.reads if not (r.family == scope.family and r.scope == recorded))
    missing = ReadStatus(family=scope.family, scope=recorded, state=state, reason="marked unread by the test")
    return snapshot.model_copy(update={"reads": (*kept, missing)})


Verdict = tuple[str, str, str, str, FactScope]  # snapshot, integration, rule id, subject, a read it rests on


def _verdicts() -> list[Verdict]:
    return [
        (name, instance, rule_id, subject, scope)
        for name in SNAPSHOTS
        for (instance, rule_id, subject), (status, _, relied_on) in _judged(name).items()
        if status is not Status.ERROR
        for scope in relied_on
    ]


VERDICTS = _verdicts()


def _id(verdict: Verdict) -> str:
    name, _, rule_id, subject, scope = verdict
    return f"{name}:{rule_id}@{subject}:{scope.family.value}[{scope.scope or '*'}]"


def test_every_rule_of_every_pack_is_covered() -> None:
    """Each rule of each bundled pack gives at least one verdict resting on a read somewhere above."""
    every = {rule.id for pack in PACKS for rule in pack.spec.rules}
    assert every - {rule_id for _, _, rule_id, _, _ in VERDICTS} == set()


@pytest.mark.parametrize("state", [ReadState.FAILED, ReadState.NOT_VISIBLE])
@pytest.mark.parametrize("verdict", VERDICTS, ids=[_id(v) for v in VERDICTS])
def test_no_verdict_survives_a_missing_read(verdict: Verdict, state: ReadState) -> None:
    snapshot, instance, rule_id, subject, scope = verdict
    before, _, _ = _judged(snapshot)[(instance, rule_id, subject)]
    after = _judged(snapshot, scope, state).get((instance, rule_id, subject))
    assert after is not None, f"{rule_id}: the finding on {subject} lost its subject when {scope} was {state}"
    status, message, _ = after
    assert status is Status.ERROR, f"{rule_id} on {subject}: {before} survived {scope} {state} as {status}"
    assert scope.family.value in message, f"{rule_id} on {subject}: the error does not say what was unread"
    assert ("not visible" in message) is (state is ReadState.NOT_VISIBLE), message  # which kind of unread


def _status(name: str, rule_id: str, subject: str, marked: FactScope | None = None) -> Status:
    judged = _judged(name, marked, ReadState.FAILED if marked else None)
    return next(status for (_, rid, subj), (status, _, _) in judged.items() if rid == rule_id and subj == subject)


def test_excess_seen_in_a_partial_sweep_is_still_excess() -> None:
    principal = "5e9e0004-0000-4000-8000-000000000004"
    sweep = FactScope(FactFamily.GRANTS, f"principal:{principal}")
    assert _status("drifted", "X-1", f"principal:{principal}") is Status.FAIL
    assert _status("drifted", "X-1", f"principal:{principal}", sweep) is Status.FAIL


def test_exposure_seen_in_a_partial_sweep_is_still_exposure() -> None:
    sweep = FactScope(FactFamily.GRANTS, "watch:segment_profiles")
    assert _status("drifted", "X-2", "CATALOG:segment_profiles", sweep) is Status.FAIL


def test_one_unreadable_catalog_does_not_erase_the_verdicts_on_the_others() -> None:
    judged = _judged("documented")
    catalogs = sorted({subj for (_, rid, subj) in judged if rid == "X-2"})
    assert len(catalogs) > 1
    unreadable, *others = catalogs
    marked = FactScope(FactFamily.GRANTS, f"watch:{unreadable.split(':', 1)[1]}")
    assert _status("documented", "X-2", unreadable, marked) is Status.ERROR
    for other in others:
        assert _status("documented", "X-2", other, marked) is _status("documented", "X-2", other)


KINDS_DIR = Path(__file__).resolve().parents[2] / "auditor" / "evaluate" / "kinds"
NOT_FACTS = {"watch", "auditor_identity"}  # configuration and the auditor's own name
EXEMPT = {
    ("least_privilege.py", "reads"),  # X-3 judges read statuses themselves
    ("least_privilege.py", "warehouses"),  # X-1 lists warehouses; the ACLs it relies on are looked up
}


def test_kinds_look_facts_up_only_through_the_noting_reader() -> None:
    """A kind that read the snapshot directly could rest a verdict on an unread fact without saying so."""
    direct = [
        (path.name, match.group(1))
        for path in sorted(KINDS_DIR.glob("*.py"))
        for match in re.finditer(r"\.snapshot\.(\w+)", path.read_text(encoding="utf-8"))
        if match.group(1) not in NOT_FACTS and (path.name, match.group(1)) not in EXEMPT
    ]
    assert direct == []


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_every_pass_rests_on_a_read(name: str) -> None:
    """A pass that named no read could never be undone by one (a kind that looked facts up unnoted)."""
    unfounded = [
        key for key, (status, _, relied_on) in _judged(name).items() if status is Status.PASS and not relied_on
    ]
    assert unfounded == []
