"""Suppressions, applied once after evaluation: a pure step ``(report, suppressions, approved) -> report``.

A suppression turns the fail or warn findings it matches into `Status.SUPPRESSED`, keeping the status they
would have had and why (`FindingSuppression`): they stay in every format and in the metrics, and no alert
fires on them. An ``error`` is never suppressed (a fact that could not be read proves nothing either way).
Expiry is judged at the report's evaluation time, so a finding comes back on the first cycle after its
suppression expires.

The suppressions themselves are audited by the built-in rule `SUPPRESSION_RULE` (one finding per suppression
that applies to the report's target): ``warn`` when it has expired, expires within the warning window, or
matches no failing finding; ``pass`` otherwise. Being findings, they reach every format and the metrics
without a format or series of their own.

Exposure the approved baseline already held is accepted the same way: a failing finding whose only fix is to
revoke (excess, exposure), that the baseline's evaluation also failed with the same or more REVOKEs, is
suppressed with the baseline's approval as its reason, so an approved exposure never pages while a new one does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from auditor.model.findings import Finding, FindingSuppression, Remediation, Report, Severity, Status
from auditor.model.suppressions import Suppression, expiry_moment

SUPPRESSION_RULE = "S-1"
SUPPRESSION_PACK = "grants-auditor"  # built in: not a pack file, never bound
SUPPRESSION_INTEGRATION = "suppressions"
SUPPRESSIBLE = frozenset({Status.FAIL, Status.WARN})
DEFAULT_WARNING_DAYS = 14


@dataclass(frozen=True)
class ApprovedBaseline:
    """The approved baseline of the report's target, evaluated with the same packs."""

    report: Report
    approved_at: datetime
    approved_by: str


def apply_suppressions(
    report: Report,
    suppressions: Sequence[Suppression],
    *,
    warning_days: int = DEFAULT_WARNING_DAYS,
    baseline: ApprovedBaseline | None = None,
) -> Report:
    """``report`` with matching findings suppressed and one `SUPPRESSION_RULE` finding per applicable suppression.

    Idempotent: a report that was suppressed before (e.g. read back from the state store) is first restored to
    what evaluation gave, so applying again, later or with other suppressions, judges afresh.
    """
    now = report.evaluated_at
    mine = [s for s in suppressions if s.applies_to_target(report.target)]
    approved = _approved_fixes(baseline.report) if baseline else {}
    matched = [0] * len(mine)
    findings: list[Finding] = []
    for finding in _as_evaluated(report.findings):
        if finding.status not in SUPPRESSIBLE:
            findings.append(finding)
            continue
        chosen: Suppression | None = None
        for index, suppression in enumerate(mine):
            if suppression.matches(finding):
                matched[index] += 1
                if chosen is None and suppression.active(now):
                    chosen = suppression
        if chosen is not None:
            findings.append(_suppressed(finding, chosen))
        elif baseline is not None and _approved_exposure(finding, approved):
            findings.append(_approved(finding, baseline))
        else:
            findings.append(finding)
    findings += [_audit(report, s, count, now, warning_days) for s, count in zip(mine, matched, strict=True)]
    return report.model_copy(update={"findings": tuple(findings)})


def _as_evaluated(findings: Sequence[Finding]) -> list[Finding]:
    """The findings as evaluation gave them: no `SUPPRESSION_RULE` findings, none suppressed."""
    return [
        finding.model_copy(update={"status": finding.suppression.status, "suppression": None})
        if finding.suppression is not None
        else finding
        for finding in findings
        if not (finding.rule_id == SUPPRESSION_RULE and finding.pack == SUPPRESSION_PACK)
    ]


def _suppressed(finding: Finding, suppression: Suppression) -> Finding:
    return finding.model_copy(
        update={
            "status": Status.SUPPRESSED,
            "suppression": FindingSuppression(
                reason=suppression.reason,
                expires=suppression.expires,
                ticket=suppression.ticket,
                pattern=suppression.pattern,
                status=finding.status,
            ),
        }
    )


def _approved_fixes(report: Report) -> dict[str, frozenset[str]]:
    return {f.finding_id: frozenset(f.remediation.revoke_sql) for f in report.findings if f.status in SUPPRESSIBLE}


def _approved_exposure(finding: Finding, approved: dict[str, frozenset[str]]) -> bool:
    """Only revoking fixes it, and the approved baseline failed it with every one of these REVOKEs."""
    fix = finding.remediation
    if not fix.revoke_sql or fix.grant_sql or fix.commands or fix.policy_json is not None:
        return False
    return set(fix.revoke_sql) <= approved.get(finding.finding_id, frozenset())


def _approved(finding: Finding, baseline: ApprovedBaseline) -> Finding:
    return finding.model_copy(
        update={
            "status": Status.SUPPRESSED,
            "suppression": FindingSuppression(
                reason=f"held by the baseline approved by {baseline.approved_by}",
                expires=None,
                pattern=f"baseline approved {baseline.approved_at.isoformat()}",
                status=finding.status,
            ),
        }
    )


def _audit(report: Report, suppression: Suppression, matched: int, now: datetime, warning_days: int) -> Finding:
    ends = expiry_moment(suppression.expires)
    left = ends - now
    what = f"suppression ({suppression.reason})"
    if left <= timedelta(0):
        status, message = Status.WARN, f"{what} expired on {suppression.expires}: its findings are active again"
    elif not matched:
        status, message = Status.WARN, f"{what} matches no failing finding: remove it, or correct its patterns"
    elif left <= timedelta(days=warning_days):
        days = left.days
        status = Status.WARN
        message = f"{what} expires on {suppression.expires} (in {days} day{'s' if days != 1 else ''})"
    else:
        status, message = Status.PASS, f"{what} suppresses {matched} finding(s) until {suppression.expires}"
    return Finding(
        rule_id=SUPPRESSION_RULE,
        pack=SUPPRESSION_PACK,
        integration=SUPPRESSION_INTEGRATION,
        target=report.target,
        status=status,
        severity=Severity.LOW,
        title="Suppressions are current and match findings",
        subject=f"suppression:{suppression.pattern}",
        message=message,
        expected=f"matches a failing finding and expires after {warning_days} days",
        found=f"matches {matched} finding(s); expires {suppression.expires}"
        + (f"; ticket {suppression.ticket}" if suppression.ticket else ""),
        remediation=Remediation(
            summary="renew the suppression (a new expires, with its reason and ticket) or remove it from the config"
        )
        if status is Status.WARN
        else Remediation(),
    )
