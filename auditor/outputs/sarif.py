"""SARIF 2.1.0: one run per report, for code-scanning dashboards.

There are no source files: a result's location is logical (workspace, catalog, schema, table; the principal
its integration audits; a warehouse, role or credential). Levels follow the rule's severity (critical and high:
``error``, medium: ``warning``, low and info: ``note``); a finding that could not be evaluated is ``open``
(the tool cannot tell whether the problem exists) and a passing one ``pass``, both at level ``none`` as the
specification requires. A suppressed finding keeps its level and carries the suppression's justification.
"""

from __future__ import annotations

import json
from typing import Any

from auditor import __version__
from auditor.model.findings import Finding, Severity, Status
from auditor.outputs.formats import register_record_format
from auditor.outputs.review import AuditRecord, by_urgency

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SECURABLE_KINDS = {"CATALOG": "catalog", "SCHEMA": "schema", "TABLE": "table", "VIEW": "table", "VOLUME": "volume"}
_CHAIN = ("catalog", "schema", "table")
_PRINCIPAL_SUBJECTS = ("principal", "pat", "oauth_secret")


def level(finding: Finding) -> str:
    if finding.status in (Status.PASS, Status.ERROR):
        return "none"
    mapped = LEVELS[finding.severity]
    return "warning" if finding.status is Status.WARN and mapped == "error" else mapped


def _kind(finding: Finding) -> str:
    return {Status.PASS: "pass", Status.ERROR: "open"}.get(finding.status, "fail")


class _Locations:
    """The run's logical locations, each once, children pointing at their parent."""

    def __init__(self, workspace: str) -> None:
        self.items: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}
        self.workspace = self.add(workspace, workspace, "workspace", None)

    def add(self, name: str, fqn: str, kind: str, parent: int | None) -> int:
        key = f"{kind}\x1f{fqn}"
        if key not in self.index:
            item: dict[str, Any] = {"name": name, "fullyQualifiedName": fqn, "kind": kind}
            if parent is not None:
                item["parentIndex"] = parent
            self.index[key] = len(self.items)
            self.items.append(item)
        return self.index[key]

    def ref(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        return {"index": index, "fullyQualifiedName": item["fullyQualifiedName"], "kind": item["kind"]}

    def of_subject(self, subject: str) -> int:
        workspace_fqn = self.items[self.workspace]["fullyQualifiedName"]
        prefix, sep, name = subject.partition(":")
        if not sep:
            return self.add(subject or workspace_fqn, f"{workspace_fqn}/{subject}", "resource", self.workspace)
        kind = _SECURABLE_KINDS.get(prefix)
        if kind is None:
            kind = "principal" if prefix in _PRINCIPAL_SUBJECTS else prefix.lower()
            return self.add(name, f"{workspace_fqn}/{prefix}/{name}", kind, self.workspace)
        parts = name.split(".")
        parent = self.workspace
        for depth, part in enumerate(parts):
            chain_kind = _CHAIN[min(depth, len(_CHAIN) - 1)] if depth < len(parts) - 1 else kind
            fqn = f"{workspace_fqn}/{'.'.join(parts[: depth + 1])}"
            parent = self.add(part, fqn, chain_kind, parent)
        return parent

    def principal(self, name: str) -> int:
        workspace_fqn = self.items[self.workspace]["fullyQualifiedName"]
        return self.add(name, f"{workspace_fqn}/principal/{name}", "principal", self.workspace)


def _fix_text(finding: Finding) -> str:
    fix = finding.remediation
    lines = [f"Fix: {fix.summary}"] if fix.summary else []
    lines += [*fix.grant_sql, *(f"-- review first: {s}" for s in fix.revoke_sql), *fix.commands]
    return "\n".join(lines)


@register_record_format("sarif")
def sarif(record: AuditRecord) -> str:
    report = record.report
    findings = by_urgency(report.findings)
    locations = _Locations(report.target)
    principals = {a.instance: a.principals for a in report.audited}
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for f in findings:
        rule_key = f"{f.pack}/{f.rule_id}"
        pack = record.packs.get(f.pack)
        if rule_key not in rules:
            document, _, section = f.source.partition(" \u00a7 ")
            rule: dict[str, Any] = {
                "id": f.rule_id,
                "name": rule_key,
                "shortDescription": {"text": f.title},
                "fullDescription": {
                    "text": f"{f.title} (requirements {', '.join(f.requirements) or '-'}; "
                    f"source: {document}, section {section or '-'})"
                },
                "defaultConfiguration": {"level": LEVELS[f.severity]},
                "help": {"text": f"{f.title}. Source: {document}, section {section or '-'}."},
                "properties": {
                    "pack": f.pack,
                    "severity": f.severity.value,
                    "requirements": list(f.requirements),
                    "tags": ["security", "databricks", f.severity.value],
                },
            }
            if pack and pack.url:
                rule["helpUri"] = pack.url
            rules[rule_key] = rule
        if f.status is not Status.PASS and not f.remediation.empty and "Fix:" not in rules[rule_key]["help"]["text"]:
            rules[rule_key]["help"]["text"] += f" Fix: {f.remediation.summary}"
        subject = locations.of_subject(f.subject)
        logical = [locations.ref(subject)]
        for principal in principals.get(f.integration, ()):
            index = locations.principal(principal)
            if index != subject:
                logical.append(locations.ref(index))
        message = f.message
        if f.expected is not None or f.found is not None:
            message += f" (expected: {f.expected or '-'}; found: {f.found or '-'})"
        fix = _fix_text(f)
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": list(rules).index(rule_key),
            "kind": _kind(f),
            "level": level(f),
            "message": {"text": f"{message}\n{fix}" if fix and f.status is not Status.PASS else message},
            "locations": [{"logicalLocations": logical}],
            "partialFingerprints": {"findingId/v1": f.finding_id},
            "properties": {
                "integration": f.integration,
                "status": f.status.value,
                "severity": f.severity.value,
                "subject": f.subject,
                "evidence": list(f.evidence),
            },
        }
        suppression = getattr(f, "suppression", None)
        if suppression is not None or f.status.value == "suppressed":
            reason = getattr(suppression, "reason", None) or "suppressed in the auditor's configuration"
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": str(reason)}]
        results.append(result)
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "grants-auditor",
                        "version": record.tool_version or __version__,
                        "rules": list(rules.values()),
                    }
                },
                "automationDetails": {"id": f"grants-auditor/{report.target}/"},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "endTimeUtc": report.evaluated_at.isoformat().replace("+00:00", "Z"),
                    }
                ],
                "logicalLocations": locations.items,
                "results": results,
                "properties": {"snapshotCollectedAt": report.snapshot_collected_at.isoformat()},
            }
        ],
    }
    text = json.dumps(log, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a name: keep it as a JSON escape
        text = json.dumps(log, indent=2)
    return text + "\n"
