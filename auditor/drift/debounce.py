"""Debouncing: a difference becomes a drift event only once it has persisted N consecutive cycles.

The state keeps the *confirmed* facts (what the auditor last accepted as the truth) and a counter
per pending difference from them. Each cycle:

- the differences between confirmed and current facts are computed over readable scopes only;
- a pending difference seen again advances its counter; one that is gone while its scope was read
  is a blip and is dropped (its counter resets); one whose scope was not read this cycle is kept
  as it is (neither advanced nor reset);
- a difference whose counter reaches N becomes part of one drift event and updates the confirmed
  facts;
- facts under a scope whose baseline is not yet established (the first cycles ever, a scope that
  failed until now, a newly planned securable) are adopted into the confirmed facts silently: a
  fact that could not be read is never the cause of a drift event. A scope's baseline is
  established once it has been read in N cycles: until then what it shows is adopted, so a change
  (or a blip) caught by the very first reads is part of the baseline, never an event when it ends.

The state also keeps the *reference* facts: the first confirmed state, with every fact (or absence) adopted since. The
changes still open are the differences between the confirmed facts and the reference, or the approved
baseline when there is one (`open_changes`): a change that is undone (a revoked grant granted back)
closes instead of opening a second change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from auditor.drift.diff import Change, group_changes
from auditor.drift.facts import DriftFact, FactView


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PendingDifference(_Frozen):
    """A difference from the confirmed facts seen in ``count`` consecutive read cycles."""

    fact: DriftFact
    added: bool
    count: int
    first_seen: datetime

    @property
    def key(self) -> str:
        return ("+" if self.added else "-") + self.fact.key


class DebounceState(_Frozen):
    """What one target's drift detection remembers between cycles (JSON round-trips)."""

    confirmed: tuple[DriftFact, ...] = ()
    pending: tuple[PendingDifference, ...] = ()
    reference: tuple[DriftFact, ...] | None = None  # the first confirmed state; None: stored before it was kept
    read_scopes: tuple[str, ...] = ()  # family/scopes with an established baseline: facts under others are adopted
    warming: dict[str, int] = {}  # family/scope -> cycles read so far, until it has been read in N cycles
    watch_fingerprint: str = ""  # what was watched: a change re-confirms instead of reporting drift
    cycles: int = 0  # cycles folded in so far


class DriftEvent(_Frozen):
    """A confirmed change: ``change`` persisted for ``cycles`` consecutive cycles."""

    target: str
    change: Change
    first_seen: datetime  # the cycle the difference was first seen in
    confirmed_at: datetime  # the cycle that confirmed it (the snapshot's collection time)
    cycles: int

    @property
    def event_key(self) -> str:
        """Unique per target, change and confirming snapshot: a replayed cycle yields the same key."""
        return f"{self.target}:{self.change.key}:{self.confirmed_at.isoformat()}"


def advance(state: DebounceState | None, view: FactView, *, threshold: int) -> tuple[DebounceState, list[DriftEvent]]:
    """Fold one completed cycle's facts into ``state``; return the new state and the drift events."""
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    now = view.collected_at
    readable = view.readable()
    read_now = view.reads.read_scopes()
    if state is None or state.watch_fingerprint != view.watch_fingerprint:
        established, warming = _count_reads(frozenset(), {}, read_now, threshold)
        initial = DebounceState(
            confirmed=_sorted(readable.values()),
            reference=_sorted(readable.values()),
            read_scopes=tuple(sorted(established)),
            warming=warming,
            watch_fingerprint=view.watch_fingerprint,
            cycles=(state.cycles if state else 0) + 1,
        )
        return initial, []

    established = frozenset(state.read_scopes)
    confirmed = {fact.key: fact for fact in state.confirmed}
    reference = {fact.key: fact for fact in (state.confirmed if state.reference is None else state.reference)}
    for key, fact in readable.items():
        if key not in confirmed and not view.read_scope_ids(fact) & established:
            confirmed[key] = fact  # no baseline for this scope yet: adopt, never drift
            reference[key] = fact
    for key, fact in list(confirmed.items()):
        if key not in readable and view.reads.is_read(fact) and not view.read_scope_ids(fact) & established:
            del confirmed[key]  # gone while its scope's baseline is still forming: adopt the absence
            reference.pop(key, None)

    current: dict[str, tuple[DriftFact, bool]] = {}
    for key, fact in readable.items():
        if key not in confirmed:
            current["+" + key] = (fact, True)
    for key, fact in confirmed.items():
        if key not in readable and view.reads.is_read(fact):
            current["-" + key] = (fact, False)

    pending: dict[str, PendingDifference] = {}
    previous_by_key = {p.key: p for p in state.pending}
    for waiting in state.pending:
        if waiting.key not in current and not view.reads.is_read(waiting.fact):
            pending[waiting.key] = waiting  # unread this cycle: neither advance nor reset
    due: list[PendingDifference] = []
    for key, (fact, added) in current.items():
        previous = previous_by_key.get(key)
        counted = PendingDifference(
            fact=fact,
            added=added,
            count=(previous.count if previous else 0) + 1,
            first_seen=previous.first_seen if previous else now,
        )
        if counted.count >= threshold:
            due.append(counted)
        else:
            pending[key] = counted

    for difference in due:
        if difference.added:
            confirmed[difference.fact.key] = difference.fact
        else:
            confirmed.pop(difference.fact.key, None)

    established, warming = _count_reads(established, state.warming, read_now, threshold)
    new_state = DebounceState(
        confirmed=_sorted(confirmed.values()),
        reference=_sorted(reference.values()),
        pending=tuple(sorted(pending.values(), key=lambda p: p.key)),
        read_scopes=tuple(sorted(established)),
        warming=warming,
        watch_fingerprint=state.watch_fingerprint,
        cycles=state.cycles + 1,
    )
    return new_state, _events(view.target, due, now)


def open_changes(state: DebounceState, baseline: FactView | None = None) -> list[Change]:
    """The confirmed changes not undone: confirmed facts against the approved baseline's, or else the reference.

    Against a baseline, only facts it could read count as gained, and only facts this daemon has read count
    as lost: what either side could not read never opens a change.
    """
    confirmed = {fact.key: fact for fact in state.confirmed}
    differences: list[tuple[DriftFact, bool]] = []
    if baseline is None:
        reference = {fact.key: fact for fact in (state.confirmed if state.reference is None else state.reference)}
        differences += [(fact, True) for key, fact in confirmed.items() if key not in reference]
        differences += [(fact, False) for key, fact in reference.items() if key not in confirmed]
    else:
        approved = baseline.readable()
        ever_read = set(state.read_scopes) | set(state.warming)  # scopes this daemon has read
        differences += [
            (fact, True) for key, fact in confirmed.items() if key not in approved and baseline.reads.is_read(fact)
        ]
        differences += [
            (fact, False)
            for key, fact in approved.items()
            if key not in confirmed and baseline.read_scope_ids(fact) & ever_read
        ]
    return group_changes(differences)


def _count_reads(
    established: frozenset[str], warming: dict[str, int], read_now: frozenset[str], threshold: int
) -> tuple[frozenset[str], dict[str, int]]:
    """Count this cycle's reads: a scope read in ``threshold`` cycles has an established baseline."""
    counts = {scope: warming.get(scope, 0) + 1 for scope in read_now - established}
    counts |= {scope: count for scope, count in warming.items() if scope not in counts}
    settled = {scope for scope, count in counts.items() if count >= threshold}
    return established | settled, {scope: count for scope, count in sorted(counts.items()) if scope not in settled}


def _events(target: str, due: list[PendingDifference], now: datetime) -> list[DriftEvent]:
    events = []
    for change in group_changes((d.fact, d.added) for d in due):
        members = [d for d in due if _belongs(d, change)]
        events.append(
            DriftEvent(
                target=target,
                change=change,
                first_seen=min(d.first_seen for d in members),
                confirmed_at=now,
                cycles=max(d.count for d in members),
            )
        )
    return events


def _belongs(difference: PendingDifference, change: Change) -> bool:
    values = change.gained if difference.added else change.lost
    return (
        difference.fact.subject == change.subject
        and difference.fact.principal == change.principal
        and difference.fact.value in values
    )


def _sorted(facts: Iterable[DriftFact]) -> tuple[DriftFact, ...]:
    return tuple(sorted(facts, key=lambda f: f.key))
