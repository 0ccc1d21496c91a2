"""The SQLite state store: WAL, versioned schema, one-transaction cycles, history, retention."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.drift.cycle import record_cycle
from auditor.drift.diff import ChangeKind
from auditor.drift.store import CommitResult, DriftStep, StaleDriftState, StateStore, StoreError
from auditor.model.facts import FactFamily, Grant, ReadState, ReadStatus, SecurableType, Snapshot, Watch
from auditor.model.findings import Finding, Report, Severity, Status
from auditor.model.stats import CollectionStats
from tests.present import present

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SP = "5e9e0003-0000-4000-8000-000000000003"
ALL = Grant(principal=SP, privilege="ALL_PRIVILEGES", securable_type=SecurableType.CATALOG, securable_name="lake")
READ_ALL = tuple(ReadStatus(family=f, state=ReadState.READ) for f in FactFamily)


def snapshot(minute: int, *, granted: bool = True, target: str = "prod") -> Snapshot:
    return Snapshot(
        target=target,
        collected_at=T0 + timedelta(minutes=minute),
        watch=Watch(catalogs=("lake",), principals=(SP,)),
        reads=READ_ALL,
        grants=(ALL,) if granted else (),
    )


def report(snap: Snapshot, status: Status = Status.PASS) -> Report:
    finding = Finding(
        rule_id="DL-3",
        pack="delta-lake-destination",
        integration="delta-lake-destination",
        target=snap.target,
        status=status,
        severity=Severity.HIGH,
        title="ALL PRIVILEGES on the catalog",
        subject="CATALOG:lake",
    )
    return Report(
        target=snap.target,
        evaluated_at=snap.collected_at,
        snapshot_collected_at=snap.collected_at,
        findings=(finding,),
    )


def commit(store: StateStore, snap: Snapshot, status: Status = Status.PASS, debounce: int = 2) -> CommitResult:
    return record_cycle(
        store,
        snapshot=snap,
        report=report(snap, status),
        stats=CollectionStats(statements=3, requests={"sql": 3}),
        started_at=snap.collected_at,
        finished_at=snap.collected_at + timedelta(seconds=2),
        debounce_cycles=debounce,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore(tmp_path / "state" / "auditor.sqlite") as opened:
        yield opened


def test_file_is_wal_with_full_sync_and_versioned_schema(store: StateStore) -> None:
    assert store.journal_mode() == "wal"
    assert store.schema_version == 2
    raw = sqlite3.connect(store.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        raw.close()
    assert {
        "schema_migrations",
        "cycles",
        "finding_spans",
        "drift_events",
        "debounce_state",
        "baselines",
        "blobs",
    } <= tables
    assert int(store._query("PRAGMA synchronous")[0][0]) == 2  # FULL


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with StateStore(path) as first:
        commit(first, snapshot(0))
    with StateStore(path) as again:
        assert again.schema_version == 2
        assert len(again._query("SELECT * FROM schema_migrations")) == 2  # one row per version: 1, then 2
        assert [c.outcome for c in again.cycles("prod")] == ["completed"]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    StateStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO schema_migrations VALUES (99, 'later')")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 99"):
        StateStore(path)


def test_completed_cycle_round_trips(store: StateStore) -> None:
    snap = snapshot(0)
    result = commit(store, snap)
    assert not result.replayed and result.events == ()
    assert store.snapshot(result.cycle_id) == snap
    assert store.report(result.cycle_id) == report(snap)
    assert store.stats(result.cycle_id).statements == 3
    assert store.latest_snapshot("prod") == snap
    assert store.latest_snapshot("other") is None
    assert store.targets() == ["prod"]
    # The snapshot is stored compressed, not as plain JSON.
    blob = store._query("SELECT snapshot FROM cycles")[0][0]
    assert isinstance(blob, bytes) and not blob.startswith(b"{")


def test_replaying_a_cycle_writes_nothing(store: StateStore) -> None:
    commit(store, snapshot(-1))  # the first 2 reads establish the drift baseline
    commit(store, snapshot(0))
    commit(store, snapshot(1, granted=False))
    fired = commit(store, snapshot(2, granted=False))
    assert [e.change.kind for e in fired.events] == [ChangeKind.GRANT_REMOVED]
    replay = commit(store, snapshot(2, granted=False))
    assert replay.replayed and replay.cycle_id == fired.cycle_id and replay.events == ()
    assert len(store.cycles("prod")) == 4
    assert len(store.drift_events("prod")) == 1


def test_drift_events_are_stored_with_their_details(store: StateStore) -> None:
    commit(store, snapshot(-1))  # the first 2 reads establish the drift baseline
    for minute, granted in enumerate([True, False, False, False, True, True]):
        commit(store, snapshot(minute, granted=granted))
    events = store.drift_events("prod")
    assert [(e.kind, e.subject, e.principal, e.gained, e.lost) for e in events] == [
        (ChangeKind.GRANT_REMOVED, "CATALOG:lake", SP, (), ("ALL_PRIVILEGES",)),
        (ChangeKind.GRANT_ADDED, "CATALOG:lake", SP, ("ALL_PRIVILEGES",), ()),
    ]
    assert events[0].first_seen == T0 + timedelta(minutes=1)
    assert events[0].confirmed_at == T0 + timedelta(minutes=2)
    assert [e.kind for e in store.drift_events(limit=1)] == [ChangeKind.GRANT_ADDED]
    assert store.debounce_state("prod") is not None


def test_finding_history_keeps_one_span_per_status_run(store: StateStore) -> None:
    statuses = [Status.PASS, Status.PASS, Status.FAIL, Status.FAIL, Status.FAIL, Status.PASS]
    for minute, status in enumerate(statuses):
        commit(store, snapshot(minute), status)
    spans = store.finding_history("prod")
    assert [(s.status, s.first_seen, s.last_seen) for s in spans] == [
        (Status.PASS, T0, T0 + timedelta(minutes=1)),
        (Status.FAIL, T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)),
        (Status.PASS, T0 + timedelta(minutes=5), T0 + timedelta(minutes=5)),
    ]
    assert {s.finding_id for s in spans} == {report(snapshot(0)).findings[0].finding_id}


def test_failed_cycle_is_recorded_without_touching_drift_state(store: StateStore) -> None:
    commit(store, snapshot(0))
    state = store.debounce_state("prod")
    store.record_failure(target="prod", started_at=T0, finished_at=T0 + timedelta(seconds=1), error="ReadTimeout")
    assert [c.outcome for c in store.cycles("prod")] == ["completed", "failed"]
    assert store.cycles("prod")[1].error == "ReadTimeout"
    assert present(store.latest_cycle("prod")).outcome == "completed"
    assert present(store.latest_cycle("prod", completed_only=False)).outcome == "failed"
    assert store.debounce_state("prod") == state


def test_a_cycle_that_fails_to_commit_leaves_nothing_behind(store: StateStore) -> None:
    commit(store, snapshot(0))
    with pytest.raises(ValueError, match="threshold"):
        commit(store, snapshot(1, granted=False), debounce=0)  # fails after the cycle row was inserted
    assert len(store.cycles("prod")) == 1
    assert len(store.finding_history("prod")) == 1
    assert store.finding_history("prod")[0].last_seen == T0


def test_retention_keeps_latest_cycle_and_baseline(store: StateStore) -> None:
    for minute in range(3):
        commit(store, snapshot(minute))
    commit(store, snapshot(0, target="quiet"))
    store.approve_baseline("prod", snapshot(0), approved_by="alice", source="cycle 1")
    later = T0 + timedelta(days=100)
    result = store.apply_retention(90, now=later)
    assert result.cycles == 2
    assert [c.collected_at for c in store.cycles("prod")] == [T0 + timedelta(minutes=2)]
    assert len(store.cycles("quiet")) == 1  # the only, hence latest, cycle of a target stays
    assert store.baseline("prod") is not None
    assert store.apply_retention(90, now=T0 + timedelta(days=1)).cycles == 0


def test_baselines_keep_history_and_return_the_latest(store: StateStore) -> None:
    assert store.baseline("prod") is None
    store.approve_baseline("prod", snapshot(0), approved_by="alice", source="cycle 1", approved_at=T0)
    store.approve_baseline("prod", snapshot(5, granted=False), approved_by="bob", source="snap.json")
    latest = store.baseline("prod")
    assert latest is not None
    assert (latest.approved_by, latest.source, latest.snapshot.grants) == ("bob", "snap.json", ())
    with pytest.raises(ValueError, match="target"):
        store.approve_baseline("other", snapshot(0), approved_by="x", source="y")


def test_concurrent_commits_from_several_threads(store: StateStore) -> None:
    errors: list[BaseException] = []

    def work(target: str) -> None:
        try:
            for minute in range(15):
                commit(store, snapshot(minute, granted=minute < 5, target=target))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for i in range(4):
        assert len(store.cycles(f"t{i}")) == 15
        assert [e.kind for e in store.drift_events(f"t{i}")] == [ChangeKind.GRANT_REMOVED]
    assert store.integrity_check() == "ok"


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.cycles()


def test_a_drift_step_folded_from_a_superseded_state_is_refused(store: StateStore) -> None:
    """Two writers folding from the same state: the second commit is refused and writes nothing."""
    commit(store, snapshot(0))
    checkpoint = store.drift_checkpoint("prod")
    assert checkpoint is not None
    stale = DriftStep(state=checkpoint.state, events=(), after_cycle=checkpoint.cycle_id - 1)
    with pytest.raises(StaleDriftState):
        store.commit_cycle(
            snapshot=snapshot(1),
            report=report(snapshot(1)),
            stats=CollectionStats(),
            started_at=snapshot(1).collected_at,
            finished_at=snapshot(1).collected_at,
            drift=stale,
        )
    assert [c.id for c in store.cycles("prod")] == [checkpoint.cycle_id]
    assert store.drift_checkpoint("prod") == checkpoint
