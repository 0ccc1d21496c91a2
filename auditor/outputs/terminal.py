"""The report as a person at a terminal reads it: a coloured summary and a table of what needs attention.

Only for a terminal (`auditor.console.is_terminal`); a pipe or file gets the plain ``text`` format, and
machine formats never pass through here. Every name is rendered as a `rich` `Text`, never as markup, and
made visible and bounded the way the text format does it, so a workspace name cannot style or rewrite
the screen. Statuses and severities are styled by value, so a status added later renders, unstyled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.model.findings import Finding, Report, Severity, Status
from auditor.outputs.formats import clip, escape_controls, first_lines

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

STATUS_STYLES = {
    Status.FAIL.value: "bold red",
    Status.ERROR.value: "bold magenta",
    Status.WARN.value: "yellow",
    Status.PASS.value: "green",
}
SEVERITY_STYLES = {
    Severity.CRITICAL.value: "bold red",
    Severity.HIGH.value: "red",
    Severity.MEDIUM.value: "yellow",
    Severity.LOW.value: "cyan",
    Severity.INFO.value: "dim",
}
_ATTENTION = (Status.FAIL.value, Status.ERROR.value, Status.WARN.value)  # first, in this order; then the rest
_SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}
MAX_FIX_LINES = 4  # statements one row shows; the sql, json and markdown formats have them all
MAX_STATEMENT_CHARS = 240


def _natural(rule_id: str) -> list[str | int]:
    """``AWS-2`` before ``AWS-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", rule_id)]


def _safe(text: str) -> str:
    return escape_controls(clip(text))


def _order(finding: Finding) -> tuple[int, int, str, str, str]:
    status = finding.status.value
    rank = _ATTENTION.index(status) if status in _ATTENTION else len(_ATTENTION)
    return (rank, _SEVERITY_RANK.get(finding.severity.value, 99), finding.integration, finding.rule_id, finding.subject)


def _counts(report: Report) -> Text:
    from rich.text import Text

    counts = report.counts()
    line = Text(f"{_safe(report.target)}: ", style="bold")
    line.append(f"{len(report.findings)} findings")
    ordered = sorted(Status, key=lambda s: _ATTENTION.index(s.value) if s.value in _ATTENTION else len(_ATTENTION))
    for index, status in enumerate(ordered):
        line.append(" (" if index == 0 else ", ")
        line.append(f"{counts.get(status, 0)} {status.value}", style=STATUS_STYLES.get(status.value, "bold"))
    line.append(")")
    return line


def _details(finding: Finding) -> Text:
    from rich.text import Text

    cell = Text(_safe(finding.message))
    if finding.expected or finding.found:
        cell.append(f"\nexpected: {_safe(finding.expected or '-')}  found: {_safe(finding.found or '-')}", style="dim")
    if finding.remediation.summary:
        cell.append(f"\nfix: {_safe(finding.remediation.summary)}", style="cyan")
    remediation = finding.remediation
    # SQL first; of the commands only the first (a CLI call and its REST twin say the same thing)
    statements = [*remediation.grant_sql, *remediation.revoke_sql, *remediation.commands[:1]]
    for line in first_lines([escape_controls(clip(s, MAX_STATEMENT_CHARS)) for s in statements], MAX_FIX_LINES):
        cell.append(f"\n  {line}", style="cyan")
    return cell


def report_renderables(report: Report) -> list[RenderableType]:
    """The summary line, the table of findings that are not passing, then one line for the passing ones."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [_counts(report)]
    attention = sorted((f for f in report.findings if f.status is not Status.PASS), key=_order)
    if attention:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
        table.add_column("status", no_wrap=True)
        table.add_column("rule", no_wrap=True)
        table.add_column("subject", overflow="fold", ratio=1)
        table.add_column("finding and fix", overflow="fold", ratio=3)
        for finding in attention:
            status = Text(finding.status.value.upper(), style=STATUS_STYLES.get(finding.status.value, "bold"))
            status.append(f"\n{finding.severity.value}", style=SEVERITY_STYLES.get(finding.severity.value, ""))
            rule = Text(_safe(finding.rule_id), style="bold")
            rule.append(f"\n{_safe(finding.integration)}", style="dim")
            table.add_row(status, rule, Text(_safe(finding.subject)), _details(finding))
        parts.append(table)
    passing = sorted({f.rule_id for f in report.findings if f.status is Status.PASS}, key=_natural)
    if passing:
        count = sum(1 for f in report.findings if f.status is Status.PASS)
        parts.append(Text(f"passing: {count} findings of {', '.join(_safe(r) for r in passing)}", style="green"))
    if report.skipped:
        parts.append(Text(f"not applicable: {_safe(', '.join(report.skipped))}", style="dim"))
    return parts


def print_reports(reports: Sequence[Report], console: Console) -> None:
    """Every report, a blank line between them."""
    for index, report in enumerate(reports):
        if index:
            console.print()
        for part in report_renderables(report):
            console.print(part)
