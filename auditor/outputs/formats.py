"""Output formats for a report, registered by name: text, json, junit, markdown, sql.

Each format is a function ``(report) -> str``. Secrets never reach a report: findings hold facts and
remediations, and neither ever contains a credential value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from xml.etree import ElementTree as ET

from auditor.model.findings import Finding, Report, Status

Formatter = Callable[[Report], str]
FORMATS: dict[str, Formatter] = {}

_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.PASS: 3}


def register_format(name: str) -> Callable[[Formatter], Formatter]:
    def decorate(func: Formatter) -> Formatter:
        if name in FORMATS:
            raise ValueError(f"output format {name!r} is registered twice")
        FORMATS[name] = func
        return func

    return decorate


def render(report: Report, fmt: str) -> str:
    return FORMATS[fmt](report)


def _sorted(findings: tuple[Finding, ...]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_ORDER[f.status], f.integration, f.rule_id, f.subject))


def summary_line(report: Report) -> str:
    counts = report.counts()
    parts = ", ".join(f"{counts.get(s, 0)} {s.value}" for s in (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS))
    return f"{report.target}: {len(report.findings)} findings ({parts})"


@register_format("text")
def text(report: Report) -> str:
    lines = [summary_line(report), ""]
    for f in _sorted(report.findings):
        lines.append(f"[{f.status.value.upper():5}] {f.integration}/{f.rule_id} {f.subject}: {f.message}")
        if f.status is Status.PASS:
            continue
        if f.expected or f.found:
            lines.append(f"        expected: {f.expected or '-'}   found: {f.found or '-'}")
        lines += [f"        evidence: {e}" for e in f.evidence]
        if f.remediation.summary:
            lines.append(f"        fix: {f.remediation.summary}")
        lines += [
            f"          {s}" for s in (*f.remediation.grant_sql, *f.remediation.revoke_sql, *f.remediation.commands)
        ]
    if report.skipped:
        lines += ["", "not applicable: " + ", ".join(report.skipped)]
    return "\n".join(lines) + "\n"


@register_format("json")
def as_json(report: Report) -> str:
    data = json.loads(report.model_dump_json())
    for finding, raw in zip(report.findings, data["findings"], strict=True):
        raw["id"] = finding.finding_id
    data["summary"] = {s.value: report.counts().get(s, 0) for s in Status}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@register_format("junit")
def junit(report: Report) -> str:
    """FAIL -> failure (remediation as message), ERROR -> error, WARN -> skipped with the reason, PASS -> ok."""
    suite = ET.Element(
        "testsuite",
        name=f"grants-auditor {report.target}",
        tests=str(len(report.findings)),
        failures=str(report.counts().get(Status.FAIL, 0)),
        errors=str(report.counts().get(Status.ERROR, 0)),
        skipped=str(report.counts().get(Status.WARN, 0)),
        timestamp=report.evaluated_at.isoformat(),
    )
    for f in _sorted(report.findings):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{f.integration}.{f.rule_id}",
            name=f"{f.rule_id} {f.subject}".strip(),
        )
        if f.status is Status.FAIL:
            node = ET.SubElement(case, "failure", message=f.message, type=f.severity.value)
            node.text = "\n".join((f.remediation.summary, *f.remediation.grant_sql, *f.remediation.commands))
        elif f.status is Status.ERROR:
            ET.SubElement(case, "error", message=f.message)
        elif f.status is Status.WARN:
            ET.SubElement(case, "skipped", message=f.message)
        ET.SubElement(case, "system-out").text = f.model_dump_json()
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


@register_format("markdown")
def markdown(report: Report) -> str:
    """The report a security reviewer reads: what is wrong, why we think so, and the fix."""
    out = [
        f"# grants-auditor report: {report.target}",
        "",
        f"Evaluated {report.evaluated_at.isoformat()} on facts collected {report.snapshot_collected_at.isoformat()}.",
        "",
        f"**{summary_line(report)}**",
        "",
    ]
    for f in _sorted(report.findings):
        if f.status is Status.PASS:
            continue
        out += [
            f"## {f.status.value.upper()}: {f.integration} {f.rule_id} — {f.title}",
            "",
            f"- Subject: `{f.subject}`",
            f"- Severity: {f.severity.value}",
            f"- Requirement(s): {', '.join(f.requirements)} ({f.source})",
            f"- {f.message}",
        ]
        if f.expected or f.found:
            out.append(f"- Expected: {f.expected or '-'}; found: {f.found or '-'}")
        out += [f"- Evidence: {e}" for e in f.evidence]
        if not f.remediation.empty:
            out += ["", f"Fix: {f.remediation.summary}", ""]
            code = [*f.remediation.grant_sql, *f.remediation.revoke_sql]
            if code:
                out += ["```sql", *code, "```", ""]
            if f.remediation.commands:
                out += ["```sh", *f.remediation.commands, "```", ""]
            if f.remediation.policy_json is not None:
                out += ["```json", json.dumps(f.remediation.policy_json, indent=2), "```", ""]
        out.append("")
    passing = [f for f in report.findings if f.status is Status.PASS]
    out += [
        "## Passing",
        "",
        *[f"- {f.integration} {f.rule_id} `{f.subject}`: {f.message}" for f in _sorted(tuple(passing))],
        "",
    ]
    return "\n".join(out)


def _comment(text: str) -> str:
    """A one-line SQL comment, whatever the text holds (names may contain line breaks)."""
    return "-- " + " ".join(text.splitlines())


@register_format("sql")
def sql(report: Report) -> str:
    """One script: GRANTs that restore what is missing; REVOKE suggestions commented out, kept apart."""
    grants: list[str] = []
    revokes: list[str] = []
    seen: set[str] = set()
    for f in _sorted(report.findings):
        for statements, out_list in ((f.remediation.grant_sql, grants), (f.remediation.revoke_sql, revokes)):
            fresh = [s for s in statements if s not in seen]  # two rules may need the same GRANT
            seen.update(fresh)
            if fresh:
                out_list += [_comment(f"{f.integration} {f.rule_id} {f.subject}"), *fresh]
    out = [
        _comment(f"grants-auditor remediation for target {report.target}"),
        "-- Review before running. GRANT statements are idempotent.",
        "",
    ]
    out += grants or ["-- nothing to grant"]
    out += [
        "",
        "-- Excess privileges: suggestions only, commented out. Review, then uncomment what you want.",
        "",
    ]
    out += revokes or ["-- nothing to revoke"]
    return "\n".join(out) + "\n"
