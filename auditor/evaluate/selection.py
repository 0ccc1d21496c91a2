"""Which findings a run shows, and which decide its exit code: `--rules`, `--skip`, `--min-severity`, `--fail-on`.

Selection happens after evaluation, on the report: every rule is still evaluated on the whole snapshot, so a
rule's result never depends on which others were selected (the least-privilege rules weigh every
integration's needs), and a report reads the same with or without a selection apart from what it leaves out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from auditor.model.findings import Finding, Report, Severity

SEVERITY_ORDER: tuple[Severity, ...] = (
    Severity.INFO,
    Severity.LOW,
    Severity.MEDIUM,
    Severity.HIGH,
    Severity.CRITICAL,
)
"""Least to most severe."""


def at_least(severity: Severity, threshold: Severity) -> bool:
    return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(threshold)


def _matches(rule_id: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(rule_id.upper(), pattern.upper()) for pattern in patterns)


@dataclass(frozen=True)
class Selection:
    """Rule ID globs to keep (none: every rule) and to leave out, and the least severity shown."""

    rules: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    min_severity: Severity | None = None

    def unmatched(self, rule_ids: Iterable[str]) -> list[str]:
        """The ``--rules`` and ``--skip`` patterns that match none of ``rule_ids`` (most likely typos)."""
        known = list(rule_ids)
        return [p for p in (*self.rules, *self.skip) if not any(_matches(r, (p,)) for r in known)]

    def keeps(self, finding: Finding) -> bool:
        if self.rules and not _matches(finding.rule_id, self.rules):
            return False
        if _matches(finding.rule_id, self.skip):
            return False
        return self.min_severity is None or at_least(finding.severity, self.min_severity)

    def apply(self, report: Report) -> Report:
        """``report`` with only the findings kept, and only the selected rules among those not applicable."""
        if not (self.rules or self.skip or self.min_severity):
            return report
        skipped = tuple(s for s in report.skipped if self._keeps_rule(s.rpartition("/")[2]))
        return report.model_copy(
            update={"findings": tuple(f for f in report.findings if self.keeps(f)), "skipped": skipped}
        )

    def _keeps_rule(self, rule_id: str) -> bool:
        return (not self.rules or _matches(rule_id, self.rules)) and not _matches(rule_id, self.skip)
