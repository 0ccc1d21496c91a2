"""Baselines: the approved state of a target, and what has changed since it was approved.

``approve`` records the latest completed cycle's snapshot (or a snapshot file) as the target's
baseline; earlier baselines are kept as history. ``diff`` compares the baseline with the latest
completed snapshot (or a snapshot file) using the same pure drift diff as the daemon (unread scopes
never differ).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.drift.diff import Change, diff
from auditor.drift.store import Baseline, StateStore
from auditor.errors import InputError
from auditor.loading import load_snapshot
from auditor.model.facts import Snapshot
from auditor.model.findings import AuditedBinding


class BaselineError(Exception):
    """A baseline operation cannot be done (no completed cycle, no baseline yet)."""


@dataclass(frozen=True)
class BaselineDiff:
    """The changes from a target's baseline to its latest completed snapshot."""

    target: str
    baseline: Baseline
    latest_collected_at: datetime
    changes: tuple[Change, ...]


def approve_baseline(
    store: StateStore, target: str, *, approved_by: str, snapshot_file: str | Path | None = None
) -> Baseline:
    """Approve ``snapshot_file``, or else the latest completed cycle's snapshot, as the baseline."""
    if snapshot_file is not None:
        snapshot = load_snapshot(snapshot_file)
        if snapshot.target != target:
            raise InputError(snapshot_file, f"the snapshot is of target {snapshot.target!r}, not {target!r}")
        return store.approve_baseline(target, snapshot, approved_by=approved_by, source=str(snapshot_file))
    cycle = store.latest_cycle(target)
    if cycle is None:
        raise BaselineError(
            f"target {target!r} has no completed cycle yet: run the auditor first, or approve a --snapshot file"
        )
    return store.approve_baseline(target, store.snapshot(cycle.id), approved_by=approved_by, source=f"cycle {cycle.id}")


def _approved(store: StateStore, target: str) -> Baseline:
    baseline = store.baseline(target)
    if baseline is None:
        raise BaselineError(f"target {target!r} has no approved baseline: run 'baseline approve' first")
    return baseline


def baseline_diff(store: StateStore, target: str) -> BaselineDiff:
    """The changes between ``target``'s baseline and its latest completed snapshot."""
    baseline = _approved(store, target)
    cycle = store.latest_cycle(target)
    if cycle is None:
        raise BaselineError(f"target {target!r} has no completed cycle yet: diff a --snapshot file instead")
    latest = store.snapshot(cycle.id)
    return BaselineDiff(
        target=target,
        baseline=baseline,
        latest_collected_at=latest.collected_at,
        changes=tuple(diff(baseline.snapshot, latest, store.report(cycle.id).audited)),
    )


def snapshot_diff(store: StateStore, snapshot: Snapshot, audited: Sequence[AuditedBinding]) -> BaselineDiff:
    """The changes between the baseline of ``snapshot``'s target and ``snapshot`` (no daemon cycle needed).

    ``audited`` is what the snapshot's integrations audit (`auditor.evaluate.engine.audited`).
    """
    baseline = _approved(store, snapshot.target)
    return BaselineDiff(
        target=snapshot.target,
        baseline=baseline,
        latest_collected_at=snapshot.collected_at,
        changes=tuple(diff(baseline.snapshot, snapshot, audited)),
    )


def baseline_summary(baseline: Baseline) -> dict[str, Any]:
    """What `show` prints as JSON: who approved what, when, and a count of the facts it holds."""
    snapshot = baseline.snapshot
    return {
        "target": baseline.target,
        "approved_at": baseline.approved_at.isoformat(),
        "approved_by": baseline.approved_by,
        "source": baseline.source,
        "snapshot_collected_at": snapshot.collected_at.isoformat(),
        "counts": {
            "grants": len(snapshot.grants),
            "warehouses": len(snapshot.warehouses),
            "principals": len(snapshot.principals),
            "memberships": len(snapshot.memberships),
            "trust_policies": len(snapshot.trust_policies),
            "tokens": len(snapshot.tokens),
            "oauth_secrets": len(snapshot.oauth_secrets),
        },
    }


def render_baseline(baseline: Baseline) -> str:
    summary = baseline_summary(baseline)
    counts = ", ".join(f"{n} {what}" for what, n in summary["counts"].items())
    return (
        f"target {baseline.target}: baseline approved {summary['approved_at']} by {baseline.approved_by}"
        f" from {baseline.source}\n  snapshot collected {summary['snapshot_collected_at']}: {counts}"
    )


def render_diff(result: BaselineDiff) -> str:
    """The changes as readable lines, grouped by kind."""
    baseline = result.baseline
    head = (
        f"target {result.target}: baseline of {baseline.snapshot.collected_at.isoformat()}"
        f" (approved by {baseline.approved_by}) vs snapshot of {result.latest_collected_at.isoformat()}"
    )
    if not result.changes:
        return f"{head}\n  no changes"
    lines = [f"{head}\n  {len(result.changes)} change{'s' if len(result.changes) != 1 else ''}:"]
    lines.extend(f"  - {change.describe()}" for change in result.changes)
    return "\n".join(lines)


def diff_json(results: list[BaselineDiff]) -> str:
    return json.dumps(
        {
            "targets": [
                {
                    "target": r.target,
                    "baseline": baseline_summary(r.baseline),
                    "latest_collected_at": r.latest_collected_at.isoformat(),
                    "changes": [c.model_dump(mode="json") for c in r.changes],
                }
                for r in results
            ]
        },
        indent=2,
    )
