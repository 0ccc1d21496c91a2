"""Drift as a pure fold: (previous state, one cycle's facts) -> (new state, events), checked against a model.

The model of one watched grant: after N cycles that establish the baseline (grant present), each cycle
it is seen present, seen absent, or not read. The confirmed value changes, and exactly one event is
reported, when the other value has been seen in N consecutive read cycles (unread cycles neither count
nor reset); a flip shorter than N is never reported.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.drift.debounce import DebounceState, advance
from auditor.drift.diff import ChangeKind, diff
from auditor.drift.facts import extract
from auditor.model.facts import FactFamily, Snapshot
from tests.drift.drift_builders import BASE_GRANTS, failed, snap, without

DELTA_ALL = BASE_GRANTS[0]
PRESENT, ABSENT, UNREAD = "present", "absent", "unread"


def observed(cycle: int, observation: str) -> Snapshot:
    if observation == UNREAD:
        return snap(cycle, grants=(), extra_reads=[failed(FactFamily.GRANTS)])
    return snap(cycle, grants=BASE_GRANTS if observation == PRESENT else without(BASE_GRANTS, DELTA_ALL))


def model(observations: list[str], threshold: int) -> list[str | None]:
    """Per cycle after the first: the value a reported event moved the grant to, else None."""
    confirmed, count, reported = PRESENT, 0, []
    for observation in observations:
        event = None
        if observation != UNREAD:
            count = 0 if observation == confirmed else count + 1
            if count == threshold:
                confirmed, count, event = observation, 0, observation
        reported.append(event)
    return reported


@settings(max_examples=60, deadline=None)
@given(
    observations=st.lists(st.sampled_from([PRESENT, ABSENT, UNREAD]), min_size=1, max_size=12),
    threshold=st.integers(min_value=1, max_value=3),
)
def test_the_fold_reports_every_lasting_change_once_and_no_short_flip(observations: list[str], threshold: int) -> None:
    state: DebounceState | None = None
    for _ in range(threshold):  # the baseline: what the first N reads see
        state, first_events = advance(state, extract(snap(0)), threshold=threshold)
        assert first_events == []
    assert state is not None
    reported: list[str | None] = []
    for cycle, observation in enumerate(observations, start=1):
        before = state
        state, events = advance(state, extract(observed(cycle, observation)), threshold=threshold)
        assert before == DebounceState.model_validate_json(before.model_dump_json())  # inputs are never mutated
        assert len(events) <= 1
        if not events:
            reported.append(None)
            continue
        change = events[0].change
        assert (change.subject, change.principal) == ("CATALOG:segment_events", DELTA_ALL.principal)
        reported.append(ABSENT if change.kind is ChangeKind.GRANT_REMOVED else PRESENT)
    assert reported == model(observations, threshold)


def test_the_fold_is_deterministic() -> None:
    """Same state and facts in, same state and events out: replaying a cycle after a crash is harmless."""
    state, _ = advance(None, extract(snap(0)), threshold=1)
    revoked = extract(snap(1, grants=without(BASE_GRANTS, DELTA_ALL)))
    assert advance(state, revoked, threshold=1) == advance(state, revoked, threshold=1)


def test_the_approved_baseline_comparison_leaves_unread_scopes_out_of_both_sides() -> None:
    baseline = snap(0)
    revoked = without(BASE_GRANTS, DELTA_ALL)
    (change,) = diff(baseline, snap(5, grants=revoked))
    assert (change.kind, change.lost) == (ChangeKind.GRANT_REMOVED, ("ALL_PRIVILEGES",))
    catalog_unread = [failed(FactFamily.GRANTS, "CATALOG:segment_events")]
    assert diff(baseline, snap(5, grants=revoked, extra_reads=catalog_unread)) == []
    assert diff(snap(0, grants=revoked, extra_reads=catalog_unread), snap(5)) == []
    # The baseline compares regardless of debouncing: one cycle away from it is already a difference.
    assert diff(baseline, baseline) == []
