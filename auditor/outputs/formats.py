"""Output formats for a report, registered by name: text, json, junit, markdown, sql.

Each format is a function ``(report) -> str``. Secrets never reach a report: findings hold facts and
remediations, and neither ever contains a credential value.

Names come from the workspace and may hold anything: each format makes them safe in its own way (text
escapes control characters, markdown escapes markup and sizes its code spans and fences, JUnit keeps to the
characters XML 1.0 allows), and the human-facing formats bound what one finding prints. JSON and the SQL
script keep everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from xml.etree import ElementTree as ET

from auditor.model.findings import Finding, FindingSuppression, Report, Status

Formatter = Callable[[Report], str]
FORMATS: dict[str, Formatter] = {}

_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.WARN: 2, Status.SUPPRESSED: 3, Status.PASS: 4}


def register_format(name: str) -> Callable[[Formatter], Formatter]:
    def decorate(func: Formatter) -> Formatter:
        if name in FORMATS:
            raise ValueError(f"output format {name!r} is registered twice")
        FORMATS[name] = func
        return func

    return decorate


def render(report: Report, fmt: str) -> str:
    return FORMATS[fmt](report)


MAX_FIELD_CHARS = 2000  # one message, name or statement in a human-facing format
MAX_LINES = 20  # evidence lines, or statements, one finding prints in a human-facing format

# C0 and C1 controls (line breaks and tabs included), Unicode line separators, bidirectional overrides
# (they reorder what a reader sees) and lone surrogates (they cannot be encoded).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Everything XML 1.0 forbids in a document, even as a character reference.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~#!])")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape_controls(text: str) -> str:
    """``text`` on one line with nothing invisible in it: control characters become ``\\n``, ``\\x0b`` ..."""
    return _UNSAFE.sub(_escape_char, text)


def clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def first_lines(lines: Sequence[str], limit: int = MAX_LINES, *, more: str = "") -> list[str]:
    """The first ``limit`` lines, then "… and K more" (with ``more``, e.g. where to find the rest)."""
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"… and {len(lines) - limit} more{more}"]


def _plain(text: str) -> str:
    """A name or message for the text format: bounded, on one line, nothing invisible."""
    return escape_controls(clip(text))


def suppression_note(suppression: FindingSuppression) -> str:
    """One line: what the finding would be, why it is accepted, until when, and where it was approved."""
    until = f" until {suppression.expires}" if suppression.expires else ""
    ticket = f" ({suppression.ticket})" if suppression.ticket else ""
    return f"would be {suppression.status.value}; accepted{until}{ticket}: {suppression.reason}"


def _sorted(findings: tuple[Finding, ...]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_ORDER[f.status], f.integration, f.rule_id, f.subject))


def summary_line(report: Report) -> str:
    counts = report.counts()
    parts = ", ".join(f"{counts.get(s, 0)} {s.value}" for s in sorted(Status, key=_ORDER.__getitem__))
    return f"{report.target}: {len(report.findings)} findings ({parts})"


_IN_FULL = " (the json and sql formats have them all)"


@register_format("text")
def text(report: Report) -> str:
    p = _plain
    lines = [p(summary_line(report)), ""]
    for f in _sorted(report.findings):
        lines.append(f"[{f.status.value.upper():5}] {p(f.integration)}/{p(f.rule_id)} {p(f.subject)}: {p(f.message)}")
        if f.status is Status.PASS:
            continue
        if f.suppression is not None:
            lines.append(f"        suppressed: {p(suppression_note(f.suppression))}")
        if f.expected or f.found:
            lines.append(f"        expected: {p(f.expected or '-')}   found: {p(f.found or '-')}")
        lines += first_lines([f"        evidence: {p(e)}" for e in f.evidence], more=_IN_FULL)
        if f.remediation.summary:
            lines.append(f"        fix: {p(f.remediation.summary)}")
        statements = (*f.remediation.grant_sql, *f.remediation.revoke_sql, *f.remediation.commands)
        lines += first_lines([f"          {p(s)}" for s in statements], more=_IN_FULL)
    if report.skipped:
        lines += ["", "not applicable: " + p(", ".join(report.skipped))]
    return "\n".join(lines) + "\n"


@register_format("json")
def as_json(report: Report) -> str:
    data = report.model_dump(mode="json")
    for finding, raw in zip(report.findings, data["findings"], strict=True):
        raw["id"] = finding.finding_id
    data["summary"] = {s.value: report.counts().get(s, 0) for s in Status}
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if _has_lone_surrogate(text):  # not encodable as UTF-8: keep the name, as a JSON escape
        text = json.dumps(data, indent=2)
    return text + "\n"


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry written as a visible escape (``\\x0b``)."""
    return _NOT_XML.sub(_escape_char, text)


@register_format("junit")
def junit(report: Report) -> str:
    """FAIL -> failure (remediation as message), ERROR -> error, WARN -> skipped with the reason, PASS -> ok."""
    x = xml_text
    suite = ET.Element(
        "testsuite",
        name=x(f"grants-auditor {report.target}"),
        tests=str(len(report.findings)),
        failures=str(report.counts().get(Status.FAIL, 0)),
        errors=str(report.counts().get(Status.ERROR, 0)),
        skipped=str(report.counts().get(Status.WARN, 0) + report.counts().get(Status.SUPPRESSED, 0)),
        timestamp=report.evaluated_at.isoformat(),
    )
    for f in _sorted(report.findings):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=x(clip(f"{f.integration}.{f.rule_id}")),
            name=x(clip(f"{f.rule_id} {f.subject}".strip())),
        )
        message = x(clip(f.message))
        if f.status is Status.FAIL:
            node = ET.SubElement(case, "failure", message=message, type=f.severity.value)
            fix = first_lines([*f.remediation.grant_sql, *f.remediation.commands], more=_IN_FULL)
            node.text = x("\n".join(clip(line) for line in (f.remediation.summary, *fix)))
        elif f.status is Status.ERROR:
            ET.SubElement(case, "error", message=message)
        elif f.status is Status.WARN:
            ET.SubElement(case, "skipped", message=message)
        elif f.suppression is not None:
            ET.SubElement(case, "skipped", message=x(clip(f"suppressed: {suppression_note(f.suppression)}")))
        # JSON escapes every control character, and (ASCII only) any lone surrogate
        ET.SubElement(case, "system-out").text = json.dumps(f.model_dump(mode="json"), separators=(",", ":"))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def md_text(text: str) -> str:
    """``text`` as literal markdown inline text: markup characters escaped, HTML as entities, one line."""
    safe = escape_controls(clip(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", safe)


def md_code(text: str) -> str:
    """``text`` as one markdown code span, delimited by more back-quotes than its longest run of them."""
    safe = escape_controls(clip(text))
    fence = "`" * (max((len(run) for run in re.findall("`+", safe)), default=0) + 1)
    if not safe.strip(" "):  # only spaces (or nothing: a code span cannot be empty) are shown as they are
        return f"{fence}{safe or ' '}{fence}"
    # A space inside each delimiter is stripped by the renderer; it keeps a leading/trailing ` or space intact.
    pad = " " if safe[0] in "` " or safe[-1] in "` " else ""
    return f"{fence}{pad}{safe}{pad}{fence}"


def md_block(lines: Sequence[str], language: str) -> list[str]:
    """A fenced code block whose fence no line can close (longer than any back-quote run inside)."""
    safe = [escape_controls(clip(line)) for line in first_lines(lines, more=_IN_FULL)]
    longest = max((len(run) for line in safe for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *safe, fence]


@register_format("markdown")
def markdown(report: Report) -> str:
    """The report a security reviewer reads: what is wrong, why we think so, and the fix."""
    t = md_text
    out = [
        f"# grants-auditor report: {t(report.target)}",
        "",
        f"Evaluated {report.evaluated_at.isoformat()} on facts collected {report.snapshot_collected_at.isoformat()}.",
        "",
        f"**{t(summary_line(report))}**",
        "",
    ]
    for f in _sorted(report.findings):
        if f.status is Status.PASS:
            continue
        out += [
            f"## {f.status.value.upper()}: {t(f.integration)} {t(f.rule_id)} — {t(f.title)}",
            "",
            f"- Subject: {md_code(f.subject)}",
            f"- Severity: {f.severity.value}",
            f"- Requirement(s): {t(', '.join(f.requirements))} ({t(f.source)})",
            f"- {t(f.message)}",
        ]
        if f.suppression is not None:
            out.append(f"- Suppressed: {t(suppression_note(f.suppression))} (match: {md_code(f.suppression.pattern)})")
        if f.expected or f.found:
            out.append(f"- Expected: {t(f.expected or '-')}; found: {t(f.found or '-')}")
        out += first_lines([f"- Evidence: {t(e)}" for e in f.evidence], more=_IN_FULL)
        if not f.remediation.empty:
            out += ["", f"Fix: {t(f.remediation.summary)}", ""]
            code = [*f.remediation.grant_sql, *f.remediation.revoke_sql]
            if code:
                out += [*md_block(code, "sql"), ""]
            if f.remediation.commands:
                out += [*md_block(f.remediation.commands, "sh"), ""]
            if f.remediation.policy_json is not None:
                out += [*md_block(json.dumps(f.remediation.policy_json, indent=2).splitlines(), "json"), ""]
        out.append("")
    passing = [f for f in report.findings if f.status is Status.PASS]
    out += [
        "## Passing",
        "",
        *[f"- {t(f.integration)} {t(f.rule_id)} {md_code(f.subject)}: {t(f.message)}" for f in _sorted(tuple(passing))],
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
    suppressed: list[str] = []
    for f in _sorted(report.findings):
        if f.suppression is not None:  # an accepted exception: its fix is not proposed, but it is named
            suppressed.append(_comment(f"{f.integration} {f.rule_id} {f.subject}: {suppression_note(f.suppression)}"))
            continue
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
    if suppressed:
        out += ["", "-- Suppressed findings (accepted exceptions): their fixes are left out.", "", *suppressed]
    return "\n".join(out) + "\n"
