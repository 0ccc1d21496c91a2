"""Suppressions: applied once after evaluation, shown as `suppressed` everywhere, audited by rule S-1.

Driven on the shipped `drifted` snapshot (its six planted problems, tests/golden.py) with the real packs.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from pydantic import ValidationError

from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.evaluate.suppress import SUPPRESSION_RULE, ApprovedBaseline, apply_suppressions
from auditor.loading import load_snapshot
from auditor.model.facts import Grant, SecurableType
from auditor.model.findings import Finding, Report, Severity, Status
from auditor.model.suppressions import Suppression
from auditor.outputs.formats import FORMATS, render
from auditor.packs.loader import load_packs
from auditor.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DRIFTED = ROOT / "examples" / "snapshots" / "drifted.json"
EXPOSED = "CATALOG:segment_profiles"


@pytest.fixture(scope="module")
def drifted() -> Report:
    snapshot = load_snapshot(DRIFTED)
    return evaluate(snapshot, load_packs([], kinds=builtin_kind_args()), now=snapshot.collected_at)


def suppression(**fields: Any) -> Suppression:
    fields.setdefault("reason", "the BI team reads profiles; approved by security")
    fields.setdefault("expires", date(2100, 1, 1))
    return Suppression.model_validate(fields)


def one(report: Report, rule: str, subject: str | None = None) -> Finding:
    (found,) = [f for f in report.findings if f.rule_id == rule and (subject is None or f.subject == subject)]
    return found


def test_a_matching_failure_is_suppressed_keeping_what_it_would_be_and_why(drifted: Report) -> None:
    rule = suppression(rule="X-2", target=drifted.target, subject="CATALOG:segment_*", ticket="SEC-1")

    report = apply_suppressions(drifted, [rule])

    x2 = one(report, "X-2", EXPOSED)
    assert x2.status is Status.SUPPRESSED and x2.suppression is not None
    assert x2.suppression.status is Status.FAIL
    assert (x2.suppression.reason, x2.suppression.expires, x2.suppression.ticket) == (
        rule.reason,
        rule.expires,
        "SEC-1",
    )
    assert x2.suppression.pattern == rule.pattern
    assert x2.finding_id == one(drifted, "X-2", EXPOSED).finding_id  # same finding, never hidden
    others = [f for f in report.findings if f.rule_id not in ("X-2", SUPPRESSION_RULE)]
    assert others == [f for f in drifted.findings if f.rule_id != "X-2"]
    audit = one(report, SUPPRESSION_RULE)
    assert audit.status is Status.PASS and "suppresses 1 finding" in audit.message


def test_every_glob_must_match() -> None:
    finding = Finding(
        rule_id="DL-5",
        pack="delta-lake-destination",
        integration="dl",
        target="prod",
        status=Status.FAIL,
        severity=Severity.HIGH,
        title="t",
        subject="warehouse:abc",
    )
    assert suppression(rule="DL-*", subject="warehouse:*").matches(finding)
    assert not suppression(rule="DL-*", integration="other").matches(finding)
    assert not suppression(rule="DL-*", target="stage").matches(finding)
    assert not suppression(rule="dl-5").matches(finding)  # case-sensitive, as rule ids are


def test_an_error_is_never_suppressed(drifted: Report) -> None:
    errored = drifted.model_copy(
        update={
            "findings": tuple(
                f.model_copy(update={"status": Status.ERROR, "remediation": f.remediation}) if f.rule_id == "X-2" else f
                for f in drifted.findings
            )
        }
    )

    report = apply_suppressions(errored, [suppression(rule="X-2")])

    assert one(report, "X-2", EXPOSED).status is Status.ERROR
    assert "matches no failing finding" in one(report, SUPPRESSION_RULE).message


def test_the_finding_comes_back_when_its_suppression_expires(drifted: Report) -> None:
    day = drifted.evaluated_at.date() + timedelta(days=1)
    rule = suppression(rule="X-2", expires=day)

    before = apply_suppressions(drifted, [rule])
    at_expiry = apply_suppressions(
        drifted.model_copy(update={"evaluated_at": datetime(day.year, day.month, day.day, tzinfo=UTC)}), [rule]
    )

    assert one(before, "X-2", EXPOSED).status is Status.SUPPRESSED
    assert one(before, SUPPRESSION_RULE).status is Status.WARN  # expires within the warning window
    assert "expires on" in one(before, SUPPRESSION_RULE).message
    assert one(at_expiry, "X-2", EXPOSED).status is Status.FAIL
    audit = one(at_expiry, SUPPRESSION_RULE)
    assert audit.status is Status.WARN and "expired" in audit.message and audit.remediation.summary


def test_a_suppression_that_matches_nothing_is_reported_and_other_targets_are_left_alone(drifted: Report) -> None:
    report = apply_suppressions(
        drifted, [suppression(rule="NOPE-*"), suppression(rule="X-2", target="some-other-target")]
    )

    (audit,) = [f for f in report.findings if f.rule_id == SUPPRESSION_RULE]
    assert audit.status is Status.WARN and "matches no failing finding" in audit.message
    assert one(report, "X-2", EXPOSED).status is Status.FAIL


def test_no_suppressions_change_nothing(drifted: Report) -> None:
    assert apply_suppressions(drifted, []) == drifted


def test_applying_again_judges_afresh(drifted: Report) -> None:
    rules = [suppression(rule="X-2")]
    once = apply_suppressions(drifted, rules)

    assert apply_suppressions(once, rules) == once
    assert apply_suppressions(once, []) == drifted


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_suppressed_finding_shows_as_suppressed_in_every_format(drifted: Report, fmt: str) -> None:
    report = apply_suppressions(drifted, [suppression(rule="X-2", ticket="SEC-1")])

    out = render(report, fmt)

    assert "suppressed" in out.lower()
    if fmt == "sql":  # named in a comment; its REVOKE is not proposed
        assert not [line for line in out.splitlines() if "REVOKE" in line and "segment_profiles" in line]
        assert [line for line in out.splitlines() if line.startswith("--") and "X-2" in line and "SEC-1" in line]
    if fmt == "json":
        data = json.loads(out)
        (x2,) = [f for f in data["findings"] if f["rule_id"] == "X-2" and f["subject"] == EXPOSED]
        assert x2["status"] == "suppressed" and x2["suppression"]["status"] == "fail"
        assert x2["suppression"]["ticket"] == "SEC-1" and data["summary"]["suppressed"] == 1
    if fmt == "junit":
        suite = ET.fromstring(out)
        (case,) = [c for c in suite if c.get("name") == f"X-2 {EXPOSED}"]
        skipped = case.find("skipped")
        assert skipped is not None and "SEC-1" in (skipped.get("message") or "")
    if fmt in ("text", "markdown"):
        assert "would be fail" in out and "SEC-1" in out


def test_exposure_the_approved_baseline_held_is_suppressed_but_new_exposure_is_not(drifted: Report) -> None:
    snapshot = load_snapshot(DRIFTED)
    packs = load_packs([], kinds=builtin_kind_args())
    approved_at = datetime(2026, 1, 2, tzinfo=UTC)
    baseline = ApprovedBaseline(report=drifted, approved_at=approved_at, approved_by="alice")

    same = apply_suppressions(drifted, [], baseline=baseline)
    x2 = one(same, "X-2", EXPOSED)
    assert x2.status is Status.SUPPRESSED and x2.suppression is not None
    assert "alice" in x2.suppression.reason and x2.suppression.expires is None
    # a missing required grant is never "approved", whatever the baseline held
    assert one(same, "DL-5").status is Status.FAIL

    wider = snapshot.model_copy(
        update={
            "grants": (
                *snapshot.grants,
                Grant(
                    principal="intruder@example.com",
                    privilege="SELECT",
                    securable_type=SecurableType.CATALOG,
                    securable_name="segment_profiles",
                ),
            )
        }
    )
    later = evaluate(wider, packs, now=snapshot.collected_at)
    assert one(apply_suppressions(later, [], baseline=baseline), "X-2", EXPOSED).status is Status.FAIL


def test_the_config_requires_a_reason_and_an_expiry() -> None:
    base: dict[str, Any] = {"rule": "X-2", "reason": "accepted", "expires": "2027-01-31"}
    assert Suppression.model_validate(base).expires == date(2027, 1, 31)
    for missing in ("reason", "expires", "rule"):
        with pytest.raises(ValidationError):
            Suppression.model_validate({k: v for k, v in base.items() if k != missing})
    with pytest.raises(ValidationError):
        Suppression.model_validate({**base, "reason": "   "})
    with pytest.raises(ValidationError):
        Suppression.model_validate({**base, "finding": "x"})
    assert Settings.model_fields["suppression_warning_days"].default == 14
