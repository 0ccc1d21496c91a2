"""What a security reviewer reads, computed once from a report and what surrounds it; the HTML and markdown
renderings lay it out.

`AuditRecord` is what a format renders: the report, plus (when known) the snapshot it was evaluated from, the
packs' documents and versions, the drift recorded since the baseline. Every format accepts a bare report too:
what it does not know, it says it does not know.

`review` turns a record into a `Review`: sections of plain strings and tuples, no markup. Names stay exactly
as the workspace spells them; each renderer escapes them its own way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from auditor import __version__
from auditor.model.facts import FactFamily, ReadState, Snapshot, permission_anchor
from auditor.model.findings import Finding, FixAction, Report, Severity, Status

STATUS_ORDER: tuple[str, ...] = ("fail", "error", "warn", "suppressed", "pass")  # most urgent first; others after


def status_rank(status: Status) -> int:
    """Position of ``status`` in `STATUS_ORDER`; a status this module does not know sorts after those it does."""
    try:
        return STATUS_ORDER.index(status.value)
    except ValueError:
        return len(STATUS_ORDER)


def ordered_statuses() -> list[Status]:
    return sorted(Status, key=status_rank)


def by_urgency(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings, key=lambda f: (status_rank(f.status), list(Severity).index(f.severity), f.rule_id, f.subject)
    )


@dataclass(frozen=True)
class PackInfo:
    """One rule pack as a report cites it."""

    name: str
    title: str
    version: int
    document_title: str | None = None
    url: str | None = None  # where Segment publishes the document (None: not published)
    document: str | None = None  # the setup document's key; None: a cross-cutting pack (our own requirements)


@dataclass(frozen=True)
class DriftEntry:
    """One confirmed drift event, as the state store recorded it."""

    confirmed_at: datetime
    kind: str
    subject: str
    principal: str
    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaselineInfo:
    approved_at: datetime
    approved_by: str
    source: str


@dataclass(frozen=True)
class AuditRecord:
    """A report and what a reviewer needs around it. Only ``report`` is required."""

    report: Report
    snapshot: Snapshot | None = None
    packs: Mapping[str, PackInfo] = field(default_factory=dict)
    baseline: BaselineInfo | None = None
    drift: tuple[DriftEntry, ...] = ()
    drift_known: bool = False  # the drift history was looked up (a state store was read)
    tool_version: str = __version__


def pack_infos(packs: Iterable[Any]) -> dict[str, PackInfo]:
    """`PackInfo` for each loaded pack (anything with a ``spec`` like `auditor.packs.loader.LoadedPack`)."""
    infos: dict[str, PackInfo] = {}
    for pack in packs:
        spec = pack.spec
        infos[spec.pack] = PackInfo(spec.pack, spec.title, spec.version, spec.document_title, spec.url, spec.document)
    return infos


# ---- the review ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    requirement: str
    status: Status
    rules: tuple[str, ...]


@dataclass(frozen=True)
class MatrixRow:
    integration: str
    pack: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Item:
    """One finding as the review shows it."""

    finding: Finding
    subject: str  # with display names next to identifiers
    message: str
    expected: str | None
    found: str | None
    evidence: tuple[str, ...]
    document: str  # the setup document's title (or file)
    section: str
    url: str | None
    fix_summary: str
    sql: tuple[str, ...]
    commands: tuple[str, ...]
    policy_json: dict[str, Any] | None
    action: FixAction
    own_requirement: bool  # the rule encodes a requirement of this project, not of a Segment document
    suppression: tuple[tuple[str, str], ...] = ()  # (label, value) of the finding's suppression, if any


@dataclass(frozen=True)
class BlindSpot:
    family: str
    scope: str
    state: str
    reason: str
    permission: str  # the docs/permissions.md section that says what would let the auditor read it


@dataclass(frozen=True)
class Review:
    target: str
    evaluated_at: datetime
    collected_at: datetime
    identity: str
    tool_version: str
    packs: tuple[PackInfo, ...]
    statuses: tuple[Status, ...]  # the columns of the summary, every status the model knows
    severities: tuple[Severity, ...]
    counts: Mapping[tuple[str, str], int]  # (severity, status) -> findings
    totals: Mapping[str, int]  # status -> findings
    total: int
    verdict: str
    matrix: tuple[MatrixRow, ...]
    to_fix: tuple[Item, ...]  # failing, erroring, warning: with evidence, source and fix
    to_review: tuple[Item, ...]  # excess and exposure: REVOKE suggestions, for review
    suppressed: tuple[Item, ...]
    not_applicable: tuple[str, ...]
    blind_spots: tuple[BlindSpot, ...] | None  # None: no snapshot, unknown
    baseline: BaselineInfo | None
    drift: tuple[DriftEntry, ...] | None  # None: no state store was read
    passing: tuple[Item, ...]


def review(record: AuditRecord) -> Review:
    report = record.report
    names = DisplayNames.of(record.snapshot)
    findings = by_urgency(report.findings)
    items = [_item(f, record.packs, names) for f in findings]
    suppressed = [i for i in items if is_suppressed(i.finding)]
    open_items = [i for i in items if i.finding.status is not Status.PASS and i not in suppressed]
    statuses = tuple(ordered_statuses())
    counts: dict[tuple[str, str], int] = {}
    for f in report.findings:
        counts[(f.severity.value, f.status.value)] = counts.get((f.severity.value, f.status.value), 0) + 1
    totals = {s.value: sum(1 for f in report.findings if f.status is s) for s in statuses}
    return Review(
        target=report.target,
        evaluated_at=report.evaluated_at,
        collected_at=report.snapshot_collected_at,
        identity=_identity(record.snapshot, names),
        tool_version=record.tool_version,
        packs=tuple(record.packs[name] for name in sorted(record.packs) if _bound(name, report)),
        statuses=statuses,
        severities=tuple(Severity),
        counts=counts,
        totals=totals,
        total=len(report.findings),
        verdict=_verdict(report),
        matrix=_matrix(report),
        to_fix=tuple(i for i in open_items if i.action is not FixAction.REVOKE),
        to_review=tuple(i for i in open_items if i.action is FixAction.REVOKE),
        suppressed=tuple(suppressed),
        not_applicable=report.skipped,
        blind_spots=None if record.snapshot is None else _blind_spots(record.snapshot),
        baseline=record.baseline,
        drift=tuple(replace(d, principal=names.label(d.principal)) for d in record.drift)
        if record.drift_known
        else None,
        passing=tuple(
            sorted(
                (i for i in items if i.finding.status is Status.PASS),
                key=lambda i: (i.finding.integration, _requirement_key(i.finding.rule_id), i.finding.subject),
            )
        ),
    )


def _bound(pack: str, report: Report) -> bool:
    return any(f.pack == pack for f in report.findings) or any(a.pack == pack for a in report.audited)


def is_suppressed(finding: Finding) -> bool:
    """An accepted exception: shown as such, never proposed for a fix."""
    return finding.status is Status.SUPPRESSED


def _verdict(report: Report) -> str:
    counts = report.counts()
    parts = [f"{counts[s]} {s.value}" for s in ordered_statuses() if s is not Status.PASS and counts.get(s)]
    if not parts:
        return "Every rule passes: nothing to fix."
    verdict = "Not compliant" if counts.get(Status.FAIL) else "Needs attention"
    advice = " Each finding below has its evidence and its fix."
    if counts.get(Status.ERROR):
        advice += " Errors are rules that could not be evaluated: see the blind spots before signing off."
    return f"{verdict}: {', '.join(parts)} of {len(report.findings)} findings.{advice}"


def _identity(snapshot: Snapshot | None, names: DisplayNames) -> str:
    if snapshot is None:
        return "unknown (no snapshot)"
    if snapshot.auditor_identity is None:
        return "unknown (SCIM Me could not be read)"
    return names.label(snapshot.auditor_identity)


_REQUIREMENT_NUMBER = re.compile(r"(\d+)")


def _requirement_key(requirement: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in _REQUIREMENT_NUMBER.split(requirement))


def _matrix(report: Report) -> tuple[MatrixRow, ...]:
    """Per integration, per requirement: the most urgent status of the findings that cover it."""
    rows: dict[str, dict[str, list[Finding]]] = {}
    packs: dict[str, str] = {}
    for f in report.findings:
        packs[f.integration] = f.pack
        for requirement in f.requirements or (f.rule_id,):
            rows.setdefault(f.integration, {}).setdefault(requirement, []).append(f)
    return tuple(
        MatrixRow(
            integration=integration,
            pack=packs[integration],
            cells=tuple(
                Cell(
                    requirement=req,
                    status=min((f.status for f in found), key=status_rank),
                    rules=tuple(sorted({f.rule_id for f in found})),
                )
                for req, found in sorted(cells.items(), key=lambda kv: _requirement_key(kv[0]))
            ),
        )
        for integration, cells in sorted(rows.items())
    )


def _blind_spots(snapshot: Snapshot) -> tuple[BlindSpot, ...]:
    spots = []
    for status in snapshot.reads:
        if status.state is ReadState.READ:
            continue
        spots.append(
            BlindSpot(
                family=status.family.value,
                scope=status.scope,
                state=status.state.value,
                reason=status.reason or "",
                permission=permission_anchor(FactFamily(status.family)),
            )
        )
    return tuple(sorted(spots, key=lambda s: (s.family, s.scope)))


def _item(finding: Finding, packs: Mapping[str, PackInfo], names: DisplayNames) -> Item:
    document, _, section = finding.source.partition(" \u00a7 ")
    pack = packs.get(finding.pack)
    remediation = finding.remediation
    return Item(
        finding=finding,
        subject=names.annotate(finding.subject),
        message=names.annotate(finding.message),
        expected=names.annotate(finding.expected) if finding.expected else finding.expected,
        found=names.annotate(finding.found) if finding.found else finding.found,
        evidence=tuple(names.annotate(e) for e in finding.evidence),
        document=(pack.document_title if pack and pack.document_title else _own_document(pack, document))
        or finding.pack,
        section=section,
        url=pack.url if pack else None,
        fix_summary=names.annotate(remediation.summary),
        sql=(*remediation.grant_sql, *remediation.revoke_sql),
        commands=remediation.commands,
        policy_json=remediation.policy_json,
        action=remediation.action,
        own_requirement=pack is not None and pack.document is None,
        suppression=_suppression(finding),
    )


def _own_document(pack: PackInfo | None, document: str) -> str:
    """A cross-cutting pack cites this project's own requirements document."""
    return f"docs/{document}" if pack is not None and pack.document is None and document else document


def _suppression(finding: Finding) -> tuple[tuple[str, str], ...]:
    if finding.suppression is None:
        return ()
    data = finding.suppression.model_dump(mode="json")
    return tuple((str(k), "" if v is None else str(v)) for k, v in data.items())


# ---- display names ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisplayNames:
    """Principal identifiers (application ids, e-mails) and the display names SCIM gives them."""

    names: Mapping[str, str]

    @classmethod
    def of(cls, snapshot: Snapshot | None) -> DisplayNames:
        if snapshot is None:
            return cls({})
        return cls(
            {
                p.name: p.display_name
                for p in snapshot.principals
                if p.display_name and p.display_name != p.name and p.name
            }
        )

    def label(self, name: str) -> str:
        display = self.names.get(name)
        return f"{name} ({display})" if display else name

    def annotate(self, text: str) -> str:
        """``text`` with each identifier that has a display name followed by it: ``5e9e… (segment-data-graph)``."""
        if not self.names or not text:
            return text
        pattern = _identifier_pattern(tuple(sorted(self.names, key=len, reverse=True)))
        return pattern.sub(lambda m: f"{m.group(0)} ({self.names[m.group(0)]})", text)


_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _identifier_pattern(names: Sequence[str]) -> re.Pattern[str]:
    key = tuple(names)
    pattern = _PATTERNS.get(key)
    if pattern is None:
        alternatives = "|".join(re.escape(n) for n in names)
        # whole identifiers only, not already followed by their display name
        pattern = re.compile(rf"(?<![\w@.-])(?:{alternatives})(?![\w@-])(?! \()")
        if len(_PATTERNS) > 64:
            _PATTERNS.clear()
        _PATTERNS[key] = pattern
    return pattern
