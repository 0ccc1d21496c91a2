"""Debouncing: sequences of snapshots in, drift events out."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from auditor.drift.debounce import DebounceState, DriftEvent, advance
from auditor.drift.diff import ChangeKind
from auditor.model.facts import AclEntry, FactFamily, PrincipalKind, ReadState, ReadStatus, Snapshot, Watch
from tests.drift.drift_builders import (
    BASE_ACL,
    BASE_GRANTS,
    DELTA_SP,
    GRAPH_SP,
    WAREHOUSE,
    extract,
    failed,
    grant,
    snap,
    without,
)

DELTA_ALL = BASE_GRANTS[0]
REVOKED = without(BASE_GRANTS, DELTA_ALL)
GRANTS_FAILED = [failed(FactFamily.GRANTS)]


def run(snapshots: Iterable[Snapshot], threshold: int) -> list[list[DriftEvent]]:
    """Feed the snapshots in order; the events each cycle produced.

    The first snapshot is the baseline: it is seen ``threshold`` times (the cycles that establish the
    baseline) and reported as one cycle.
    """
    first, *rest = snapshots
    state: DebounceState | None = None
    for _ in range(threshold - 1):
        state, events = advance(state, extract(first), threshold=threshold)
        assert events == []
    produced = []
    for snapshot in (first, *rest):
        state, events = advance(state, extract(snapshot), threshold=threshold)
        # The state survives a JSON round trip unchanged (it is what the store keeps).
        assert DebounceState.model_validate_json(state.model_dump_json()) == state
        produced.append(events)
    return produced


def test_first_cycle_only_confirms() -> None:
    state, events = advance(None, extract(snap(0)), threshold=2)
    assert events == []
    assert {f.key for f in state.confirmed} == set(extract(snap(0)).readable())


@pytest.mark.parametrize("threshold", [1, 2, 3])
def test_revoke_becomes_an_event_after_exactly_n_cycles(threshold: int) -> None:
    cycles = [snap(0)] + [snap(i, grants=REVOKED) for i in range(1, threshold + 3)]
    produced = run(cycles, threshold)
    fired_at = [i for i, events in enumerate(produced) if events]
    assert fired_at == [threshold]
    (event,) = produced[threshold]
    assert event.change.kind is ChangeKind.GRANT_REMOVED
    assert (event.change.subject, event.change.principal, event.change.lost) == (
        "CATALOG:segment_events",
        DELTA_SP,
        ("ALL_PRIVILEGES",),
    )
    assert event.cycles == threshold
    assert event.first_seen == cycles[1].collected_at
    assert event.confirmed_at == cycles[threshold].collected_at


def test_regrant_after_the_event_is_its_own_event() -> None:
    sequence = [snap(0), snap(1, grants=REVOKED), snap(2, grants=REVOKED), snap(3), snap(4), snap(5)]
    produced = run(sequence, 2)
    kinds = [[e.change.kind for e in events] for events in produced]
    assert kinds == [[], [], [ChangeKind.GRANT_REMOVED], [], [ChangeKind.GRANT_ADDED], []]


def test_revoke_and_regrant_inside_the_window_is_a_blip() -> None:
    sequence = [
        snap(0),
        snap(1, grants=REVOKED),
        snap(2, grants=REVOKED),
        snap(3),  # back before the third cycle: no event with N=3, and the count resets
        snap(4, grants=REVOKED),
        snap(5, grants=REVOKED),
        snap(6, grants=REVOKED),
    ]
    produced = run(sequence, 3)
    assert [bool(events) for events in produced] == [False, False, False, False, False, False, True]


def test_an_unread_cycle_neither_advances_nor_resets() -> None:
    sequence = [
        snap(0),
        snap(1, grants=REVOKED),
        snap(2, grants=(), extra_reads=GRANTS_FAILED),  # unknown: not a blip, not a confirmation
        snap(3, grants=REVOKED),
    ]
    produced = run(sequence, 2)
    assert [len(events) for events in produced] == [0, 0, 0, 1]
    assert produced[3][0].first_seen == sequence[1].collected_at

    # With only unread cycles after the first sighting nothing is ever confirmed.
    unread_only = [snap(0), snap(1, grants=REVOKED)] + [
        snap(i, grants=(), extra_reads=GRANTS_FAILED) for i in range(2, 6)
    ]
    assert not any(run(unread_only, 2))


def test_a_scope_read_for_the_first_time_is_adopted_not_drift() -> None:
    sequence = [snap(0, grants=(), extra_reads=GRANTS_FAILED), snap(1), snap(2), snap(3)]
    assert not any(run(sequence, 1))


def test_unread_scope_in_a_later_cycle_keeps_the_confirmed_facts() -> None:
    sequence = [snap(0), snap(1, grants=(), extra_reads=GRANTS_FAILED), snap(2), snap(3)]
    assert not any(run(sequence, 1))


def test_warehouse_acl_change_is_one_event() -> None:
    lowered = (
        AclEntry(principal=DELTA_SP, principal_kind=PrincipalKind.SERVICE_PRINCIPAL, permission_level="CAN_VIEW"),
        BASE_ACL[1],
    )
    produced = run([snap(0), snap(1, acl=lowered), snap(2, acl=lowered)], 2)
    (event,) = produced[2]
    assert event.change.kind is ChangeKind.WAREHOUSE_ACL_CHANGED
    assert event.change.subject == f"warehouse:{WAREHOUSE}"
    assert (event.change.gained, event.change.lost) == (("CAN_VIEW",), ("CAN_USE",))


def test_several_changes_in_one_cycle_are_separate_events() -> None:
    leak = grant("contractor@example.com", "SELECT", "CATALOG", "segment_profiles")
    changed = (*REVOKED, leak)
    produced = run([snap(0), snap(1, grants=changed)], 1)
    assert sorted(e.change.kind for e in produced[1]) == [ChangeKind.EXPOSURE, ChangeKind.GRANT_REMOVED]
    assert len({e.event_key for e in produced[1]}) == 2


def test_changing_what_is_watched_reconfirms_instead_of_drifting() -> None:
    wider = Watch(catalogs=("segment_events", "segment_profiles", "main"), principals=(GRAPH_SP,))
    sequence = [snap(0), snap(1, watch=wider), snap(2, watch=wider), snap(3, watch=wider)]
    assert not any(run(sequence, 1))


def test_event_key_is_stable_for_a_replayed_cycle() -> None:
    first = run([snap(0), snap(1, grants=REVOKED)], 1)[1]
    again = run([snap(0), snap(1, grants=REVOKED)], 1)[1]
    assert [e.event_key for e in first] == [e.event_key for e in again]


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        advance(None, extract(snap(0)), threshold=0)


def test_a_new_securable_inside_a_watched_catalog_is_drift_not_adopted() -> None:
    bulk = ReadStatus(family=FactFamily.GRANTS, scope="watch:segment_profiles", state=ReadState.READ)
    leak = grant("contractor@example.com", "SELECT", "TABLE", "segment_profiles.profiles.new_table")
    own_read = ReadStatus(
        family=FactFamily.GRANTS, scope="TABLE:segment_profiles.profiles.new_table", state=ReadState.READ
    )
    sequence = [
        snap(0, extra_reads=[bulk]),
        snap(1, grants=(*BASE_GRANTS, leak), extra_reads=[bulk, own_read]),
    ]
    produced = run(sequence, 1)
    assert [(e.change.kind, e.change.principal) for e in produced[1]] == [
        (ChangeKind.EXPOSURE, "contractor@example.com")
    ]


def test_a_blip_caught_by_the_first_cycle_is_part_of_the_baseline_not_an_event_when_it_ends() -> None:
    """The daemon's very first read may catch a GRANT/REVOKE flip half-way: restoring it is no drift."""
    sequence = [snap(0, grants=REVOKED), snap(1), snap(2), snap(3), snap(4)]
    state: DebounceState | None = None
    produced = []
    for snapshot in sequence:
        state, events = advance(state, extract(snapshot), threshold=2)
        produced.append(events)
    assert not any(produced)
    assert state is not None and DELTA_ALL.principal in {f.principal for f in state.confirmed}


@pytest.mark.parametrize("threshold", [2, 3])
def test_the_baseline_is_what_the_first_n_reads_settled_on_then_changes_are_events(threshold: int) -> None:
    warm_up = [snap(0)] + [snap(i, grants=REVOKED) for i in range(1, threshold)]
    after = [snap(i, grants=BASE_GRANTS) for i in range(threshold, 2 * threshold)]
    state: DebounceState | None = None
    produced = []
    for snapshot in warm_up + after:
        state, events = advance(state, extract(snapshot), threshold=threshold)
        produced.append([e.change.kind for e in events])
    assert produced[:threshold] == [[]] * threshold  # the revoke inside the warm-up is the baseline
    assert produced[threshold:] == [[]] * (threshold - 1) + [[ChangeKind.GRANT_ADDED]]


def test_a_scope_first_read_after_failing_gets_its_own_warm_up() -> None:
    sequence = [
        snap(0, grants=(), extra_reads=GRANTS_FAILED),
        snap(1, grants=REVOKED),  # first read of the grants: adopted
        snap(2),  # still forming the baseline: adopted
        snap(3),
        snap(4, grants=REVOKED),
        snap(5, grants=REVOKED),
    ]
    state: DebounceState | None = None
    produced = []
    for snapshot in sequence:
        state, events = advance(state, extract(snapshot), threshold=2)
        produced.append([e.change.kind for e in events])
    assert produced == [[], [], [], [], [], [ChangeKind.GRANT_REMOVED]]


def test_a_state_stored_before_warm_up_counting_loads_with_every_read_scope_established() -> None:
    state, _ = advance(None, extract(snap(0)), threshold=1)
    legacy = state.model_dump(mode="json")
    del legacy["warming"]
    loaded = DebounceState.model_validate(legacy)
    assert loaded.warming == {} and loaded.read_scopes == state.read_scopes
    produced = [e.change.kind for e in advance(loaded, extract(snap(1, grants=REVOKED)), threshold=1)[1]]
    assert produced == [ChangeKind.GRANT_REMOVED]
