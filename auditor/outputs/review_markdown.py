"""The security-review report as markdown: the same sections as the HTML report (`auditor.outputs.review`).

Every name goes through `md_text` (literal inline text) or `md_code` (a code span), every statement through
`md_block` (a fence no line can close), so nothing the workspace names can become markup.
"""

from __future__ import annotations

import json
import re

from auditor.outputs.formats import (
    first_lines,
    md_block,
    md_code,
    md_text,
    register_record_format,
    summary_line,
    suppression_note,
)
from auditor.outputs.review import AuditRecord, Item, Review, review

_IN_FULL = " (the json and plan formats have them all)"


@register_record_format("markdown")
def markdown(record: AuditRecord) -> str:
    r = review(record)
    t = md_text
    out = [
        f"# grants-auditor report: {t(r.target)}",
        "",
        f"Evaluated {r.evaluated_at.isoformat()} on facts collected {r.collected_at.isoformat()}.",
        "",
        f"**{t(summary_line(record.report))}**",
        "",
        t(r.verdict),
        "",
        *_summary(r),
        *_about(r),
        *_matrix(r),
        "## Findings and fixes",
        "",
    ]
    if not r.to_fix:
        out += ["Nothing to fix.", ""]
    for item in r.to_fix:
        out += _finding(item)
    out += [
        "## Excess and exposure: REVOKE suggestions, for review",
        "",
        "These remove access. Review each one with the owner of the access before running it.",
        "",
    ]
    if not r.to_review:
        out += ["No excess privilege or exposure found.", ""]
    for item in r.to_review:
        out += _finding(item)
    out += _suppressed(r)
    out += ["## Not applicable", ""]
    out += [f"- {t(rule)}" for rule in r.not_applicable] or ["Every rule applies to its integration."]
    out += ["", *_blind_spots(r), *_drift(r), "## Passing", ""]
    out += [
        f"- {t(i.finding.integration)} {t(i.finding.rule_id)} {md_code(i.subject)}: {t(i.message)}" for i in r.passing
    ]
    out.append("")
    return "\n".join(out)


def _summary(r: Review) -> list[str]:
    header = ["severity", *(s.value for s in r.statuses)]
    rows = [
        [sev.value, *(str(r.counts.get((sev.value, s.value), 0)) for s in r.statuses)]
        for sev in r.severities
        if any(r.counts.get((sev.value, s.value)) for s in r.statuses)
    ]
    rows.append(["**total**", *(f"**{r.totals[s.value]}**" for s in r.statuses)])
    return ["## Summary", "", *_table(header, rows), ""]


def _about(r: Review) -> list[str]:
    t = md_text
    out = [
        "## About this audit",
        "",
        f"- Target: {md_code(r.target)}",
        f"- Auditor identity: {md_code(r.identity)}",
        f"- Facts collected: {r.collected_at.isoformat()}; evaluated: {r.evaluated_at.isoformat()}",
        f"- grants-auditor version: {t(r.tool_version)}",
    ]
    for pack in r.packs:
        doc = f" — {t(pack.document_title)}" if pack.document_title else ""
        link = f" {_link(pack.url)}" if pack.url else (" (document not published)" if pack.document_title else "")
        out.append(f"- Rule pack {md_code(pack.name)} version {pack.version}{doc}{link}")
    return [*out, ""]


def _matrix(r: Review) -> list[str]:
    out = ["## Integrations by requirement", ""]
    for row in r.matrix:
        cells = ", ".join(f"{md_text(c.requirement)} **{c.status.value}**" for c in row.cells)
        out.append(f"- {md_text(row.integration)}: {cells}")
    return [*out, ""]


def _finding(item: Item) -> list[str]:
    t = md_text
    f = item.finding
    out = [
        f"### {f.status.value.upper()}: {t(f.integration)} {t(f.rule_id)} — {t(f.title)}",
        "",
        f"- Subject: {md_code(item.subject)}",
        f"- Severity: {f.severity.value}",
        f"- Requirement(s): {t(', '.join(f.requirements))}",
        f"- Source: {t(item.document)}, section {t(item.section or '-')}"
        + (f" {_link(item.url)}" if item.url else " (not published)"),
        f"- {t(item.message)}",
    ]
    if item.expected or item.found:
        out.append(f"- Expected: {t(item.expected or '-')}; found: {t(item.found or '-')}")
    out += first_lines([f"- Evidence: {t(e)}" for e in item.evidence], more=_IN_FULL)
    if f.suppression is not None:
        out.append(f"- Suppressed: {t(suppression_note(f.suppression))} (match: {md_code(f.suppression.pattern)})")
    if item.fix_summary:
        out += ["", f"Fix: {t(item.fix_summary)}", ""]
    if item.sql:
        out += [*md_block(item.sql, "sql"), ""]
    if item.commands:
        out += [*md_block(item.commands, "sh"), ""]
    if item.policy_json is not None:
        out += [*md_block(json.dumps(item.policy_json, indent=2).splitlines(), "json"), ""]
    out.append("")
    return out


def _suppressed(r: Review) -> list[str]:
    out = ["## Suppressions", ""]
    if not r.suppressed:
        return [*out, "No finding is suppressed.", ""]
    for item in r.suppressed:
        out += _finding(item)
    return out


def _blind_spots(r: Review) -> list[str]:
    out = ["## Blind spots", ""]
    if r.blind_spots is None:
        return [*out, "Unknown: the report was rendered without its snapshot.", ""]
    if not r.blind_spots:
        return [*out, "None: every fact family the rules need was read.", ""]
    for spot in r.blind_spots:
        out.append(
            f"- {md_code(spot.family)} {md_code(spot.scope)}: {md_text(spot.state)}, {md_text(spot.reason)}; "
            f"the permission that fixes it: {md_text(spot.permission)}"
        )
    return [*out, ""]


def _drift(r: Review) -> list[str]:
    out = ["## Drift since the baseline", ""]
    if r.baseline is not None:
        out += [
            f"Baseline approved {r.baseline.approved_at.isoformat()} by {md_code(r.baseline.approved_by)} "
            f"({md_text(r.baseline.source)}).",
            "",
        ]
    elif r.drift is not None:
        out += ["No baseline has been approved: every drift event the state store recorded.", ""]
    if r.drift is None:
        return [*out, "Unknown: no state store was read (render with `grants-auditor report` to include it).", ""]
    if not r.drift:
        return [*out, "No drift recorded.", ""]
    for event in r.drift:
        change = ", ".join([*(f"+{g}" for g in event.gained), *(f"-{lost}" for lost in event.lost)])
        out.append(
            f"- {event.confirmed_at.isoformat()} {md_text(event.kind)} {md_code(event.subject)} "
            f"{md_code(event.principal) if event.principal else '-'} {md_text(change)}"
        )
    return [*out, ""]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


_SAFE_URL = re.compile(r"https://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")


def _link(url: str) -> str:
    """An autolink for a plain https URL; anything else is shown as text."""
    return f"<{url}>" if _SAFE_URL.fullmatch(url) else md_text(url)
