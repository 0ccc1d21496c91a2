"""Recording one completed cycle: fold its facts into the drift state (pure), then persist both at once.

`record_cycle` is the only place that joins the two halves: `auditor.drift.debounce.advance` decides
(no I/O) and `StateStore.commit_cycle` persists the cycle, the new drift state and the events in one
transaction. The store refuses the write when another commit advanced the drift state since it was
read (`StaleDriftState`), so a state is only ever folded forward from the one it was computed on.
"""

from __future__ import annotations

from datetime import datetime

from auditor.drift.debounce import advance
from auditor.drift.facts import extract
from auditor.drift.store import CommitResult, DriftStep, StateStore
from auditor.model.facts import Snapshot
from auditor.model.findings import Report
from auditor.model.stats import CollectionStats

__all__ = ["CommitResult", "record_cycle"]


def record_cycle(
    store: StateStore,
    *,
    snapshot: Snapshot,
    report: Report,
    stats: CollectionStats,
    started_at: datetime,
    finished_at: datetime,
    debounce_cycles: int,
) -> CommitResult:
    """Store one completed cycle with the drift it confirms: all of it, or (on any failure) none of it."""
    previous = store.drift_checkpoint(snapshot.target)
    state, events = advance(
        previous.state if previous else None, extract(snapshot, report.audited), threshold=debounce_cycles
    )
    step = DriftStep(state=state, events=tuple(events), after_cycle=previous.cycle_id if previous else None)
    return store.commit_cycle(
        snapshot=snapshot, report=report, stats=stats, started_at=started_at, finished_at=finished_at, drift=step
    )
