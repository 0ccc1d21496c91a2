"""An `AuditRecord` from the state store: a target's latest completed cycle, its baseline and the drift since."""

from __future__ import annotations

from collections.abc import Mapping

from auditor.drift.store import StateStore
from auditor.errors import InputError
from auditor.outputs.review import AuditRecord, BaselineInfo, DriftEntry, PackInfo


def stored_record(store: StateStore, target: str, packs: Mapping[str, PackInfo]) -> AuditRecord:
    """The latest completed cycle of ``target`` with its snapshot, and the drift confirmed since the baseline
    (every recorded drift event when no baseline was approved)."""
    cycle = store.latest_cycle(target)
    if cycle is None:
        raise InputError(str(store.path), f"target {target!r} has no completed cycle in the state store yet")
    baseline = store.baseline(target)
    events = store.drift_events(target)
    if baseline is not None:
        events = [e for e in events if e.confirmed_at >= baseline.approved_at]
    return AuditRecord(
        report=store.report(cycle.id),
        snapshot=store.snapshot(cycle.id),
        packs=packs,
        baseline=None
        if baseline is None
        else BaselineInfo(approved_at=baseline.approved_at, approved_by=baseline.approved_by, source=baseline.source),
        drift=tuple(
            DriftEntry(
                confirmed_at=e.confirmed_at,
                kind=e.kind.value,
                subject=e.subject,
                principal=e.principal,
                gained=e.gained,
                lost=e.lost,
            )
            for e in sorted(events, key=lambda e: e.confirmed_at)
        ),
        drift_known=True,
    )
