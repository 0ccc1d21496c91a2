"""The pure evaluation core: (snapshot, packs, now) -> Report. No I/O, no globals, never raises on facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import structlog

from auditor.evaluate.context import EvalContext, RequiredAcl, RequiredGrant
from auditor.evaluate.kinds.least_privilege import watch_plan
from auditor.evaluate.registry import KINDS, Outcome
from auditor.heap import paused_cycle_collection
from auditor.model.facts import Binding, FactFamily, SecurableType, Snapshot, Watch, securable_key
from auditor.model.findings import AuditedBinding, Finding, Remediation, Report, Status, audited_principals
from auditor.model.plan import CollectionPlan
from auditor.packs.loader import (
    BindingError,
    BoundRule,
    PackSet,
    bind,
    did_you_mean,
    render_template,
)
from auditor.privileges.databricks import PrivilegeModel

log = structlog.get_logger(__name__)


def bind_all(packs: PackSet, bindings: Sequence[Binding], *, where: str = "config") -> list[BoundRule]:
    """Bind every integration to its pack; unknown packs and bad parameters raise `BindingError`."""
    bound: list[BoundRule] = []
    for binding in bindings:
        pack = packs.get(binding.pack)
        if pack is None:
            raise BindingError(
                where,
                f"unknown pack {binding.pack!r}{did_you_mean(binding.pack, packs.names())}",
                field=f"integrations.{binding.instance}.pack",
            )
        bound += bind(pack, binding, where=where)
    return bound


def audited(bound: Sequence[BoundRule]) -> tuple[AuditedBinding, ...]:
    """What each integration audits, resolved once from its pack: principals from the parameters of type
    ``principal``, securables and warehouses from what its applicable rules read."""
    by_instance: dict[str, tuple[Binding, str, dict[str, str], dict[str, None], dict[str, None]]] = {}
    for rule in bound:
        binding = rule.binding
        _, _, principals, securables, warehouses = by_instance.setdefault(
            binding.instance, (binding, rule.pack.name, {}, {}, {})
        )
        for name, spec in rule.pack.spec.parameters.items():
            value = rule.params.get(name)
            if spec.type == "principal" and isinstance(value, str) and value:
                principals.setdefault(value.lower(), value)
        kind = KINDS.get(rule.rule.check.kind)
        if kind is None or not rule.applicable:
            continue
        step = kind.plan(rule.args)
        keys = [securable_key(ref.type, ref.full_name) for ref in sorted(step.securables, key=str)]
        keys += [securable_key(SecurableType.STORAGE_CREDENTIAL, n) for n in sorted(step.storage_credentials)]
        keys += [securable_key(SecurableType.EXTERNAL_LOCATION, n) for n in sorted(step.external_locations)]
        securables.update(dict.fromkeys(keys))
        warehouses.update(dict.fromkeys(sorted(step.warehouses)))
    return tuple(
        AuditedBinding(
            instance=instance,
            pack=pack,
            principals=tuple(principals.values()),
            securables=tuple(securables),
            warehouses=tuple(warehouses),
        )
        for instance, (_, pack, principals, securables, warehouses) in by_instance.items()
    )


def bound_principals(bound: Sequence[BoundRule]) -> tuple[str, ...]:
    """Every principal the integrations audit (parameters of type ``principal``), in order, once each."""
    return audited_principals(audited(bound))


def _requirements(bound: Sequence[BoundRule]) -> tuple[tuple[RequiredGrant, ...], tuple[RequiredAcl, ...]]:
    grants: list[RequiredGrant] = []
    acls: list[RequiredAcl] = []
    for rule in bound:
        kind = KINDS.get(rule.rule.check.kind)
        if kind is None or not rule.applicable:
            continue
        for item in kind.required(rule.args):
            (grants if isinstance(item, RequiredGrant) else acls).append(item)  # type: ignore[arg-type]
    return tuple(grants), tuple(acls)


def plan(bound: Sequence[BoundRule], watch: Watch) -> CollectionPlan:
    """Everything the applicable rules read, and nothing more (plus the auditor's own identity)."""
    principals = bound_principals(bound)
    result = CollectionPlan(
        families=frozenset({FactFamily.IDENTITY}),
        watched_catalogs=frozenset(watch.catalogs),
        principals=frozenset(watch.principals),
    )
    for rule in bound:
        kind = KINDS.get(rule.rule.check.kind)
        if kind is None or not rule.applicable:
            continue
        step = kind.plan(rule.args)
        if rule.rule.check.kind == "excess_privilege" and not step.grant_sweep_principals:
            step = step.merge(
                CollectionPlan(grant_sweep_principals=frozenset(principals), principals=frozenset(principals))
            )
        if rule.rule.check.kind == "exposure" and not step.watched_catalogs:
            step = step.merge(watch_plan(watch.catalogs))
        result = result.merge(step)
    return result


def evaluate(
    snapshot: Snapshot,
    packs: PackSet,
    *,
    now: datetime | None = None,
    bindings: Sequence[Binding] | None = None,
) -> Report:
    """Evaluate every bound rule against the snapshot. Unread facts give `error`; nothing raises."""
    now = now or datetime.now(UTC)
    bound = bind_all(packs, snapshot.integrations if bindings is None else bindings, where="snapshot")
    findings: list[Finding] = []
    skipped: list[str] = []
    with paused_cycle_collection():
        for rule, outcomes in judge(snapshot, bound, now=now):
            if not outcomes:  # not applicable, or e.g. DG-5 with no narrower scope configured: nothing to judge
                skipped.append(f"{rule.binding.instance}/{rule.rule.id}")
            findings += [_finding(rule, outcome, snapshot) for outcome in outcomes]
    return Report(
        target=snapshot.target,
        evaluated_at=now,
        snapshot_collected_at=snapshot.collected_at,
        findings=tuple(findings),
        skipped=tuple(skipped),
        audited=audited(bound),
    )


def judge(snapshot: Snapshot, bound: Sequence[BoundRule], *, now: datetime) -> list[tuple[BoundRule, list[Outcome]]]:
    """Every bound rule with its outcomes, each naming the reads it rested on (`Outcome.relied_on`).

    A rule that is not applicable has no outcomes.
    """
    required_grants, required_acls = _requirements(bound)
    principals = bound_principals(bound)
    model = PrivilegeModel(snapshot)  # the snapshot is immutable: one index serves every rule
    judged: list[tuple[BoundRule, list[Outcome]]] = []
    for rule in bound:
        if not rule.applicable:
            judged.append((rule, []))
            continue
        ctx = EvalContext(
            snapshot=snapshot,
            now=now,
            binding=rule.binding,
            required_grants=required_grants,
            required_acls=required_acls,
            bound_principals=principals,
            model=model,
        )
        judged.append((rule, _run(rule, ctx)))
    return judged


def _run(rule: BoundRule, ctx: EvalContext) -> list[Outcome]:
    """The kind's outcomes, each held to the reads it rested on: unread facts give `error`, never pass or fail."""
    kind = KINDS.get(rule.rule.check.kind)
    assert kind is not None  # packs are validated against the registry on load
    try:
        outcomes = kind.evaluate(rule.args, ctx)
    except Exception as exc:  # a bug in one kind must not hide every other finding
        log.exception("rule_evaluation_failed", rule_id=rule.rule.id, kind=rule.rule.check.kind)
        return [Outcome(Status.ERROR, "", f"internal error while evaluating: {type(exc).__name__}: {exc}")]
    shared = ctx.rule_scopes()
    return [ctx.settle(outcome.relying_on(shared)) for outcome in outcomes]


def _finding(rule: BoundRule, outcome: Outcome, snapshot: Snapshot) -> Finding:
    spec = rule.rule
    status = Status.WARN if spec.advisory and outcome.status is Status.FAIL else outcome.status
    advice = render_template(spec.remediation, rule.params).strip()  # folded YAML (">") ends with a newline
    remediation = outcome.remediation
    if status in {Status.FAIL, Status.WARN}:
        summary = advice if not remediation.summary else f"{advice} ({remediation.summary})"
        remediation = remediation.model_copy(update={"summary": summary})
    else:
        remediation = Remediation()
    return Finding(
        rule_id=spec.id,
        pack=rule.pack.name,
        integration=rule.binding.instance,
        target=snapshot.target,
        status=status,
        severity=spec.severity,
        title=spec.title,
        requirements=spec.requirements,
        subject=outcome.subject,
        message=outcome.message,
        expected=outcome.expected,
        found=outcome.found,
        evidence=outcome.evidence,
        source=f"{spec.source.document} \u00a7 {spec.source.section}",
        remediation=remediation,
        expires_at=outcome.expires_at,
    )
