"""Prometheus metrics: one custom collector over the latest published state of every target.

The daemon calls `AuditMetrics.publish_cycle` after each cycle. Publishing builds a new immutable
`_TargetState` and swaps it into a copy-on-write mapping under a short lock; `collect()` reads that
mapping by reference, so a scrape never waits on a running cycle and never sees half a cycle.

Cardinality is bounded by construction: labels carry configured names (target, binding instance,
rule id) and closed sets (state, severity, outcome, API family, drift kind, credential kind). Two
series exist to let an alert say what happened, and only they name subjects and principals:
`grants_auditor_finding_status` (one per finding that does not pass: at most rules x configured
subjects, capped at `MAX_FINDING_SERIES`) and `grants_auditor_drift_open` (one per open drift change,
capped at `MAX_DRIFT_SERIES`). Messages, reasons, credential ids and secrets never become label values.
See docs/metrics.md for the exposed series.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from auditor.drift.diff import Change
from auditor.model.findings import STATUSES, Finding, Report, Severity, Status
from auditor.model.stats import API_FAMILIES, CollectionStats

PREFIX = "grants_auditor_"

DRIFT_KINDS: tuple[str, ...] = (
    "grant_added",
    "grant_removed",
    "warehouse_acl_changed",
    "entitlement_changed",
    "membership_changed",
    "trust_policy_changed",
    "credential_changed",
    "exposure",
)
"""The only values `record_drift` accepts; every one is pre-created at 0 per target."""

CYCLE_OUTCOMES: tuple[str, ...] = ("success", "failed", "error", "timeout")
"""``success``/``failed``: a cycle published a report with ``succeeded`` true/false; ``timeout``: it missed
its collection deadline (published partial results, or nothing); ``error``: it crashed before publishing."""

_TIMEOUT_REASONS = frozenset({"timeout", "deadline", "deadline_exceeded"})

CREDENTIAL_KINDS: tuple[str, ...] = ("pat", "oauth_secret")
NO_ACTIVE_CREDENTIAL = datetime.fromtimestamp(0, UTC)  # exported expiry when no active credential is listed

OTHER_API = "other"  # where request/error counts of an unknown API family are folded

_SEVERITY_RANK: Mapping[Severity, int] = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
_STATUS_RANK: Mapping[Status, int] = {
    Status.FAIL: 4,
    Status.ERROR: 3,
    Status.WARN: 2,
    Status.SUPPRESSED: 1,
    Status.PASS: 0,
}

MAX_FINDING_SERIES = 200
"""Per target, the most findings `grants_auditor_finding_status` exports (worst first); the rest are only counted
in `grants_auditor_rule_status` and `grants_auditor_rules`."""
MAX_DRIFT_SERIES = 100
"""Per target, the most open drift changes `grants_auditor_drift_open` exports (the rest are only counted)."""


@dataclass(frozen=True)
class RuleState:
    """The status of one rule of one binding: the worst status among its findings."""

    pack: str  # the binding's instance name (Finding.integration)
    rule: str
    status: Status
    severity: Severity  # the highest severity among the findings that carry ``status``


def rule_states(report: Report) -> tuple[RuleState, ...]:
    """One `RuleState` per (binding instance, rule): fail > error > warn > pass, sorted by key."""
    worst: dict[tuple[str, str], RuleState] = {}
    for finding in report.findings:
        key = (finding.integration, finding.rule_id)
        candidate = RuleState(finding.integration, finding.rule_id, finding.status, finding.severity)
        current = worst.get(key)
        if current is None or _outranks(candidate, current):
            worst[key] = candidate
    return tuple(worst[key] for key in sorted(worst))


@dataclass(frozen=True)
class OpenChange:
    """One open drift change, as `grants_auditor_drift_open` labels it."""

    kind: str
    subject: str
    principal: str
    gained: str  # privileges (or other values) gained, comma-separated
    lost: str

    @classmethod
    def of(cls, change: Change) -> OpenChange:
        # a credential's id is not a label value (``credential:pat/<id>`` -> ``credential:pat``)
        subject = change.subject.split("/", 1)[0] if change.subject.startswith("credential:") else change.subject
        return cls(change.kind.value, subject, change.principal, ",".join(change.gained), ",".join(change.lost))

    def labels(self) -> list[str]:
        return [self.kind, self.subject, self.principal, self.gained, self.lost]


@dataclass(frozen=True)
class FindingState:
    """One finding that does not pass, as `grants_auditor_finding_status` labels it (what an alert names)."""

    pack: str  # the binding's instance name
    rule: str
    severity: Severity
    requirement: str  # the requirement ids, comma-separated
    subject: str  # the securable key for grant rules ("SCHEMA:main.sales"), else warehouse:, role:, principal: ...
    principal: str  # whom it is about (see `finding_principal`)
    status: Status

    def labels(self) -> list[str]:
        return [self.pack, self.rule, self.severity.value, self.requirement, self.subject, self.principal]


def finding_principal(finding: Finding, audited: Mapping[str, Sequence[str]]) -> str:
    """The principal a finding is about: named by its subject (``principal:``, ``pat:``, ``oauth_secret:``), else
    the principal(s) its integration audits (configured names: bounded), comma-separated."""
    kind, _, rest = finding.subject.partition(":")
    if rest and (kind == "principal" or kind in CREDENTIAL_KINDS):
        return rest
    return ",".join(audited.get(finding.integration, ()))


def finding_states(report: Report) -> tuple[FindingState, ...]:
    """Every finding that does not pass, worst first, at most `MAX_FINDING_SERIES` (one per label set)."""
    audited = {binding.instance: binding.principals for binding in report.audited}
    states: dict[tuple[str, ...], FindingState] = {}
    for finding in report.findings:
        if finding.status is Status.PASS:
            continue
        state = FindingState(
            pack=finding.integration,
            rule=finding.rule_id,
            severity=finding.severity,
            requirement=",".join(finding.requirements),
            subject=finding.subject,
            principal=finding_principal(finding, audited),
            status=finding.status,
        )
        key = tuple(state.labels())
        current = states.get(key)
        if current is None or _STATUS_RANK[state.status] > _STATUS_RANK[current.status]:
            states[key] = state
    ranked = sorted(
        states.values(),
        key=lambda s: (-_STATUS_RANK[s.status], -_SEVERITY_RANK[s.severity], s.pack, s.rule, s.subject),
    )
    return tuple(ranked[:MAX_FINDING_SERIES])


def _outranks(candidate: RuleState, current: RuleState) -> bool:
    if _STATUS_RANK[candidate.status] != _STATUS_RANK[current.status]:
        return _STATUS_RANK[candidate.status] > _STATUS_RANK[current.status]
    return _SEVERITY_RANK[candidate.severity] > _SEVERITY_RANK[current.severity]


def credential_kind(finding: Finding) -> str | None:
    """The credential kind a credential finding is about (its subject is ``<kind>:<principal>``)."""
    kind = finding.subject.split(":", 1)[0]
    return kind if kind in CREDENTIAL_KINDS else None


def credential_expiries(report: Report) -> tuple[dict[tuple[str, str], datetime], frozenset[tuple[str, str]]]:
    """Per (binding instance, credential kind): the expiry the credential findings state, and the keys
    whose credentials could not be read (their findings are ``error``).

    The credential kinds choose which expiry matters (`Finding.expires_at`); kinds whose credentials
    never expire are absent. A failing finding without an expiry means no active credential at all (the
    listing may leave expired secrets out): it is exported as expired at the epoch, so the expiry alert pages.
    """
    known: dict[tuple[str, str], datetime] = {}
    unread: set[tuple[str, str]] = set()
    for finding in report.findings:
        kind = credential_kind(finding)
        if kind is None:
            continue
        key = (finding.integration, kind)
        if finding.status is Status.ERROR:
            unread.add(key)
        elif finding.expires_at is not None:
            known[key] = min(finding.expires_at, known.get(key, finding.expires_at))
        elif finding.status is Status.FAIL:
            known[key] = NO_ACTIVE_CREDENTIAL
    return known, frozenset(unread)


@dataclass(frozen=True)
class _TargetState:
    """Everything exported for one target. Never mutated: every change builds a new one."""

    configured_at: float
    rules: tuple[RuleState, ...] = ()
    findings: tuple[FindingState, ...] = ()
    drift_open: tuple[OpenChange, ...] = ()
    drift_open_counts: Mapping[str, int] = field(default_factory=dict)
    cycle_duration_seconds: float | None = None
    last_success: float | None = None
    credentials: Mapping[tuple[str, str], float] = field(default_factory=dict)
    cycles: Mapping[str, int] = field(default_factory=dict)
    requests: Mapping[str, int] = field(default_factory=dict)
    errors: Mapping[str, int] = field(default_factory=dict)
    statements: int = 0
    drift: Mapping[str, int] = field(default_factory=dict)


def _added(counts: Mapping[str, int], increments: Mapping[str, int]) -> Mapping[str, int]:
    merged = dict(counts)
    for key, value in increments.items():
        if value:
            merged[key] = merged.get(key, 0) + value
    return MappingProxyType(merged)


def _by_family(per_family: Mapping[str, int]) -> dict[str, int]:
    folded: dict[str, int] = {}
    for family, count in per_family.items():
        key = family if family in API_FAMILIES else OTHER_API
        folded[key] = folded.get(key, 0) + count
    return folded


class AuditMetrics:
    """The auditor's only Prometheus collector; register it once on a registry you own."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        version: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._version = version
        self._python = platform.python_version()
        self._clock = clock
        self._lock = threading.Lock()
        self._targets: Mapping[str, _TargetState] = MappingProxyType({})
        registry.register(self)

    # ---- publishing (daemon side) --------------------------------------------------------------

    def publish_cycle(
        self,
        target: str,
        report: Report,
        stats: CollectionStats,
        *,
        finished_at: datetime,
        succeeded: bool,
    ) -> None:
        """Make a finished cycle's results the target's exported state and add its counts.

        Everything exported about the cycle comes from ``report`` (and ``stats``), never from the facts.
        """
        rules = rule_states(report)
        findings = finding_states(report)
        expiries, unread = credential_expiries(report)
        credentials = {key: expiry.timestamp() for key, expiry in expiries.items()}
        outcome = "success" if succeeded else "timeout" if stats.deadline_exceeded else "failed"

        def update(state: _TargetState) -> _TargetState:
            kept = dict(credentials)
            # An unreadable credential keeps its last known expiry: an outage must not hide it.
            kept.update({key: value for key, value in state.credentials.items() if key in unread})
            return replace(
                state,
                rules=rules,
                findings=findings,
                cycle_duration_seconds=stats.duration_seconds,
                last_success=finished_at.timestamp() if succeeded else state.last_success,
                credentials=MappingProxyType(kept),
                cycles=_added(state.cycles, {outcome: 1}),
                requests=_added(state.requests, _by_family(stats.requests)),
                errors=_added(state.errors, _by_family(stats.errors)),
                statements=state.statements + stats.statements,
            )

        self._update(target, update)

    def record_drift(self, target: str, kind: str, count: int = 1) -> None:
        """Count ``count`` drift events of ``kind`` (one of `DRIFT_KINDS`) on ``target``."""
        kind = str(kind)  # a drift ChangeKind (StrEnum) becomes its plain value
        if kind not in DRIFT_KINDS:
            raise ValueError(f"unknown drift kind {kind!r}; expected one of {', '.join(DRIFT_KINDS)}")
        if count < 0:
            raise ValueError("a drift event count cannot be negative")
        self._update(target, lambda state: replace(state, drift=_added(state.drift, {kind: count})))

    def restore(self, target: str, report: Report, drift_open: Sequence[Change]) -> None:
        """At start-up, export the stored last report's rule, finding and credential series and the open drift,
        so alerts on them do not resolve and fire again across a restart. Counters and the last success stay
        as they are (they describe this process)."""
        rules, findings = rule_states(report), finding_states(report)
        expiries, _ = credential_expiries(report)
        credentials = MappingProxyType({key: expiry.timestamp() for key, expiry in expiries.items()})
        self._update(target, lambda state: replace(state, rules=rules, findings=findings, credentials=credentials))
        self.publish_drift_open(target, drift_open)

    def publish_drift_open(self, target: str, changes: Sequence[Change]) -> None:
        """Replace the target's open drift: the confirmed changes not undone since the reference state."""
        counts = {kind: sum(1 for c in changes if c.kind.value == kind) for kind in DRIFT_KINDS}
        shown = tuple(dict.fromkeys(OpenChange.of(change) for change in changes))[:MAX_DRIFT_SERIES]
        self._update(target, lambda state: replace(state, drift_open=shown, drift_open_counts=MappingProxyType(counts)))

    def record_cycle_failure(self, target: str, reason_kind: str) -> None:
        """Count a cycle that ended without publishing: ``timeout`` (or ``deadline``) or anything else.

        Never raises on an unexpected ``reason_kind``: it is counted as ``error``.
        """
        outcome = "timeout" if reason_kind in _TIMEOUT_REASONS else "error"
        self._update(target, lambda state: replace(state, cycles=_added(state.cycles, {outcome: 1})))

    def forget_target(self, target: str) -> None:
        """Drop every series of a target removed from the configuration."""
        with self._lock:
            if target in self._targets:
                remaining = {name: state for name, state in self._targets.items() if name != target}
                self._targets = MappingProxyType(remaining)

    def declare_targets(
        self, targets_with_bindings: Mapping[str, Sequence[tuple[str, Sequence[tuple[str, str]]]]]
    ) -> None:
        """Declare configured targets: ``{target: [(binding instance, [(rule_id, severity), ...]), ...]}``.

        New targets get their per-target series pre-created at 0 (counters, rule counts per
        severity, the configured time that staleness is measured from until a first success).
        For known targets, rule and credential series of bindings or rules no longer declared are
        dropped at once instead of lingering until the next cycle. Targets not named are untouched
        (use `forget_target`).
        """
        for target, bindings in targets_with_bindings.items():
            declared_rules = {(instance, rule_id) for instance, rules in bindings for rule_id, _ in rules}
            declared_packs = {instance for instance, _ in bindings}

            def prune(
                state: _TargetState,
                rules: set[tuple[str, str]] = declared_rules,
                packs: set[str] = declared_packs,
            ) -> _TargetState:
                return replace(
                    state,
                    rules=tuple(r for r in state.rules if (r.pack, r.rule) in rules),
                    findings=tuple(f for f in state.findings if (f.pack, f.rule) in rules),
                    credentials=MappingProxyType(
                        {key: value for key, value in state.credentials.items() if key[0] in packs}
                    ),
                )

            self._update(target, prune)

    def _update(self, target: str, change: Callable[[_TargetState], _TargetState]) -> None:
        with self._lock:
            current = self._targets.get(target) or _TargetState(configured_at=self._clock())
            updated = dict(self._targets)
            updated[target] = change(current)
            self._targets = MappingProxyType(updated)

    @property
    def state(self) -> object:
        """The exported state: a new object after every change, so a rendering can be kept until it changes."""
        return self._targets

    # ---- scraping (collector protocol) ---------------------------------------------------------

    def describe(self) -> Iterable[Metric]:
        """The metric families this collector exposes, without samples (for duplicate checks)."""
        return list(self._families().values())

    def collect(self) -> Iterable[Metric]:
        """Fresh metric families from the latest published state of every target."""
        families = self._families()
        targets = self._targets  # one consistent view, read without waiting on publishers
        for name in sorted(targets):
            _fill(families, name, targets[name])
        families["build_info"].add_metric([self._version, self._python], 1)
        return list(families.values())

    def _families(self) -> dict[str, Any]:
        return {
            "build_info": GaugeMetricFamily(
                f"{PREFIX}build_info",
                "Build information of the running auditor.",
                labels=["version", "python"],
            ),
            "rule_status": GaugeMetricFamily(
                f"{PREFIX}rule_status",
                "State set per rule of each binding: 1 for the rule's current (worst) status, else 0.",
                labels=["target", "pack", "rule", "severity", "state"],
            ),
            "finding_status": GaugeMetricFamily(
                f"{PREFIX}finding_status",
                "1 per finding that does not pass, labelled with what it is about; absent once it passes.",
                labels=["target", "pack", "rule", "severity", "requirement", "subject", "principal", "state"],
            ),
            "drift_open": GaugeMetricFamily(
                f"{PREFIX}drift_open",
                "1 per confirmed change not undone since the approved baseline (or the first confirmed state).",
                labels=["target", "kind", "subject", "principal", "gained", "lost"],
            ),
            "drift_open_changes": GaugeMetricFamily(
                f"{PREFIX}drift_open_changes",
                "Confirmed changes not undone since the approved baseline (or the first confirmed state), by kind.",
                labels=["target", "kind"],
            ),
            "rules": GaugeMetricFamily(
                f"{PREFIX}rules",
                "Number of rules per severity and current status.",
                labels=["target", "severity", "status"],
            ),
            "cycle_duration": GaugeMetricFamily(
                f"{PREFIX}cycle_duration_seconds",
                "Collection wall time of the last published cycle.",
                labels=["target"],
            ),
            "last_success": GaugeMetricFamily(
                f"{PREFIX}last_success_timestamp_seconds",
                "Unix time the last successful cycle finished.",
                labels=["target"],
            ),
            "configured": GaugeMetricFamily(
                f"{PREFIX}target_configured_timestamp_seconds",
                "Unix time this process first saw the target; staleness baseline before a first success.",
                labels=["target"],
            ),
            "cycles": CounterMetricFamily(f"{PREFIX}cycles", "Audit cycles by outcome.", labels=["target", "outcome"]),
            "requests": CounterMetricFamily(
                f"{PREFIX}api_requests",
                "HTTP requests sent by collection, retries included, per API family.",
                labels=["target", "api"],
            ),
            "statements": CounterMetricFamily(
                f"{PREFIX}sql_statements", "SQL statements executed by collection.", labels=["target"]
            ),
            "errors": CounterMetricFamily(
                f"{PREFIX}api_errors", "Failed reads after retries, per API family.", labels=["target", "api"]
            ),
            "drift": CounterMetricFamily(
                f"{PREFIX}drift_events", "Drift events detected, by kind.", labels=["target", "kind"]
            ),
            "credential_expiry": GaugeMetricFamily(
                f"{PREFIX}credential_expiry_timestamp_seconds",
                "Unix time the bound principal's active credential of this kind expires (0: no active credential; "
                "absent: never expires).",
                labels=["target", "pack", "credential"],
            ),
        }


def _fill(families: Mapping[str, Any], target: str, state: _TargetState) -> None:
    families["configured"].add_metric([target], state.configured_at)
    for rule in state.rules:
        for status in STATUSES:
            families["rule_status"].add_metric(
                [target, rule.pack, rule.rule, rule.severity.value, status.value], 1 if status is rule.status else 0
            )
    for finding in state.findings:
        families["finding_status"].add_metric([target, *finding.labels(), finding.status.value], 1)
    for change in state.drift_open:
        families["drift_open"].add_metric([target, *change.labels()], 1)
    for kind in DRIFT_KINDS:
        families["drift_open_changes"].add_metric([target, kind], state.drift_open_counts.get(kind, 0))
    for severity, status, count in _rule_counts(state.rules):
        families["rules"].add_metric([target, severity.value, status.value], count)
    if state.cycle_duration_seconds is not None:
        families["cycle_duration"].add_metric([target], state.cycle_duration_seconds)
    if state.last_success is not None:
        families["last_success"].add_metric([target], state.last_success)
    for outcome in CYCLE_OUTCOMES:
        families["cycles"].add_metric([target, outcome], state.cycles.get(outcome, 0))
    for api in _api_labels(state):
        families["requests"].add_metric([target, api], state.requests.get(api, 0))
        families["errors"].add_metric([target, api], state.errors.get(api, 0))
    families["statements"].add_metric([target], state.statements)
    for kind in DRIFT_KINDS:
        families["drift"].add_metric([target, kind], state.drift.get(kind, 0))
    for (pack, credential), expiry in sorted(state.credentials.items()):
        families["credential_expiry"].add_metric([target, pack, credential], expiry)


def _rule_counts(rules: Sequence[RuleState]) -> Iterator[tuple[Severity, Status, int]]:
    counts: dict[tuple[Severity, Status], int] = {}
    for rule in rules:
        counts[(rule.severity, rule.status)] = counts.get((rule.severity, rule.status), 0) + 1
    for severity in Severity:
        for status in STATUSES:
            yield severity, status, counts.get((severity, status), 0)


def _api_labels(state: _TargetState) -> list[str]:
    seen_other = OTHER_API in state.requests or OTHER_API in state.errors
    return [*API_FAMILIES, OTHER_API] if seen_other else list(API_FAMILIES)
