"""One audit cycle of one target: bind its integrations, plan, collect, evaluate. Shared by the CLI and the daemon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from auditor.errors import InputError
from auditor.evaluate.engine import bind_all, evaluate, plan
from auditor.evaluate.registry import builtin_kind_args
from auditor.evaluate.suppress import ApprovedBaseline, apply_suppressions
from auditor.model.facts import Snapshot
from auditor.model.findings import Report
from auditor.model.plan import CollectionPlan
from auditor.model.stats import CollectionStats
from auditor.packs.loader import BindingError, PackSet, load_packs
from auditor.settings import Settings, TargetSettings


@dataclass(frozen=True)
class CycleResult:
    snapshot: Snapshot
    report: Report
    stats: CollectionStats


def load_packs_for(settings: Settings) -> PackSet:
    """The bundled packs plus the config's rule_dirs, with every binding of every target checked."""
    packs = load_packs(settings.resolved_rule_dirs(), kinds=builtin_kind_args())
    validate_bindings(settings, packs)
    return packs


def validate_bindings(settings: Settings, packs: PackSet) -> None:
    """Every integration names a known pack with valid parameters, or `InputError` naming the config line."""
    where = settings.source_path or "config"
    for t_index, target in enumerate(settings.targets):
        for b_index, binding in enumerate(target.integrations):
            try:
                bind_all(packs, [binding], where=where)
            except BindingError as exc:
                loc = ("targets", t_index, "integrations", b_index)
                field = exc.field if exc.field and exc.field.startswith("params") else "pack"
                raise InputError(
                    where,
                    exc.detail,
                    line=settings.line_of((*loc, *field.split(".")[:2])),
                    field=f"targets[{t_index}].integrations[{b_index}].{field}",
                ) from exc


def plan_target(target: TargetSettings, packs: PackSet) -> CollectionPlan:
    return plan(bind_all(packs, target.integrations), target.watch)


def run_cycle(target: TargetSettings, packs: PackSet, *, now: datetime | None = None) -> CycleResult:
    """Collect the target's facts once, then evaluate them. Unreadable facts end as `error` findings."""
    from auditor.collect.snapshot import collect_target

    now = now or datetime.now(UTC)
    collected = collect_target(target, plan_target(target, packs), now=now)
    report = evaluate(collected.snapshot, packs, now=now)
    return CycleResult(snapshot=collected.snapshot, report=report, stats=collected.stats)


def suppressed(report: Report, settings: Settings, *, baseline: ApprovedBaseline | None = None) -> Report:
    """``report`` with the config's suppressions (and the approved baseline's exposure) applied: the one place
    `check`, the daemon and reports get suppressed findings from."""
    return apply_suppressions(
        report, settings.suppressions, warning_days=settings.suppression_warning_days, baseline=baseline
    )
