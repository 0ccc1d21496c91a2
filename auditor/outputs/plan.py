"""The fix plan (``--format plan``): every fix the report proposes, in the order to apply them, each tagged with
the rules it addresses.

1. Additive fixes: GRANTs, ACL and entitlement additions, settings turned on, trust-policy merges (the
   corrected policy and its ``aws iam update-assume-role-policy`` command). They only give what is missing.
2. Changes by hand: resources to create, resize or start.
3. Credential renewals: instructions. A new secret or token must reach Segment before the old one goes.
4. For review: REVOKE suggestions for excess and exposure. They remove access; run what the review approves.

The plan is markdown: each step a heading naming its rules, then fenced blocks (``sql``, ``sh``, ``json``)
holding the statements and commands verbatim, complete (nothing is cut, unlike the report formats). A REST
call is given both as the databricks CLI command and as the equivalent ``curl``. Two rules needing the same
fix share one step. The auditor never applies any of this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from auditor.model.findings import Finding, FixAction, Status
from auditor.outputs.formats import escape_controls, md_code, md_text, register_record_format, suppression_note
from auditor.outputs.review import AuditRecord, by_urgency, is_suppressed

SECTIONS: tuple[tuple[FixAction, str, str], ...] = (
    (
        FixAction.ADD,
        "1. Additive fixes",
        "GRANTs, ACL and entitlement additions, settings and trust-policy merges: they only add what is missing.",
    ),
    (FixAction.CHANGE, "2. Changes by hand", "Resources to create, resize or start."),
    (
        FixAction.RENEW,
        "3. Credential renewals (instructions)",
        "Not applied by this plan: create the new credential, put it in Segment, then remove the old one.",
    ),
    (
        FixAction.REVOKE,
        "4. For review: REVOKE suggestions",
        "FOR REVIEW. These remove access (excess privileges and exposure). Confirm each one with the owner of "
        "that access, then run only what the review approves.",
    ),
)


@dataclass
class Step:
    action: FixAction
    summary: str
    sql: tuple[str, ...]
    commands: tuple[str, ...]
    policy: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def rules(self) -> list[str]:
        return list(dict.fromkeys(f"{f.rule_id} ({f.integration}, {f.subject})" for f in self.findings))


def plan_steps(findings: Sequence[Finding]) -> list[Step]:
    """One step per distinct fix of the open findings (not the suppressed ones), in report order; shared fixes
    merged."""
    steps: dict[tuple[object, ...], Step] = {}
    for f in by_urgency(findings):
        fix = f.remediation
        if f.status is Status.PASS or fix.empty or is_suppressed(f):
            continue
        sql = (*fix.grant_sql, *(uncommented(s) for s in fix.revoke_sql))
        policy = None if fix.policy_json is None else json.dumps(fix.policy_json, indent=2, sort_keys=False)
        key: tuple[object, ...] = (fix.action, sql, fix.commands, policy) if sql or fix.commands else (f.finding_id,)
        step = steps.get(key)
        if step is None:
            step = steps[key] = Step(fix.action, fix.summary, sql, fix.commands, policy)
        step.findings.append(f)
    # within a section: SQL first, then API calls, then trust policies
    return sorted(steps.values(), key=lambda s: 0 if s.sql else 2 if s.policy is not None else 1)


def uncommented(statement: str) -> str:
    """A REVOKE suggestion as a runnable statement: the report keeps it commented out (`commented`)."""
    return "".join(line.removeprefix("-- ") for line in re.split(r"(?<=\n)|(?<=\r)(?!\n)", statement))


@register_record_format("plan")
def plan(record: AuditRecord) -> str:
    report = record.report
    steps = plan_steps(report.findings)
    out = [
        f"# Fix plan: {md_text(report.target)}",
        "",
        f"Facts collected {report.snapshot_collected_at.isoformat()}; evaluated {report.evaluated_at.isoformat()}.",
        "Apply the sections in order, then run the audit again. grants-auditor never applies any of this.",
        "",
    ]
    for action, title, note in SECTIONS:
        chosen = [s for s in steps if s.action is action]
        out += [f"## {title}", "", note, ""]
        if not chosen:
            out += ["Nothing.", ""]
        for number, step in enumerate(chosen, 1):
            out += _step(number, step)
    suppressed = [f for f in report.findings if is_suppressed(f)]
    if suppressed:
        out += ["## Suppressed findings (accepted exceptions: their fixes are left out)", ""]
        out += [
            f"- {md_text(f.rule_id)} ({md_text(f.integration)}, {md_code(f.subject)}): "
            f"{md_text(suppression_note(f.suppression))}"
            for f in suppressed
            if f.suppression is not None
        ]
        out.append("")
    return "\n".join(out)


def _step(number: int, step: Step) -> list[str]:
    rule_ids = ", ".join(dict.fromkeys(f.rule_id for f in step.findings))
    out = [f"### {number}. [{md_text(rule_ids)}] {md_text(step.summary or 'see the rule')}", ""]
    out += [f"- {md_text(rule)}" for rule in step.rules]
    out.append("")
    if step.sql:
        out += [*_fence(step.sql, "sql"), ""]
    if step.policy is not None:
        out += ["The corrected trust policy:", "", *_fence(step.policy.splitlines(), "json"), ""]
    if step.commands:
        lines: list[str] = []
        for command in step.commands:
            if command.startswith("curl ") and lines:
                lines.append("# or, with the REST API:")
            lines.append(command)
        out += [*_fence(lines, "sh"), ""]
    return out


def _fence(lines: Sequence[str], language: str) -> list[str]:
    """A fenced block holding every line (control characters made visible), closed by no line."""
    safe = [escape_controls(line) for line in lines]
    longest = max((len(run) for line in safe for run in _backquote_runs(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *safe, fence]


def _backquote_runs(line: str) -> list[str]:
    runs: list[str] = []
    current = ""
    for char in line:
        if char == "`":
            current += char
        elif current:
            runs.append(current)
            current = ""
    return [*runs, current] if current else runs
