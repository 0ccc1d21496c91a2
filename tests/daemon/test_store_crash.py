"""SIGKILL in the middle of writing cycles: the store stays consistent and restart duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.drift.cycle import record_cycle
from auditor.drift.store import StateStore
from auditor.model.facts import FactFamily, Grant, ReadState, ReadStatus, SecurableType, Snapshot, Watch
from auditor.model.findings import Finding, Report, Severity, Status
from auditor.model.stats import CollectionStats

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SP = "5e9e0003-0000-4000-8000-000000000003"
DEBOUNCE = 2
HERE = Path(__file__).resolve().parent


def cycle_snapshot(index: int) -> Snapshot:
    """Cycle ``index`` of a deterministic history: the grant flips every 5 cycles, plus some bulk."""
    granted = (index // 5) % 2 == 0
    bulk = tuple(
        Grant(
            principal=f"reader-{n}@example.com",
            privilege="SELECT",
            securable_type=SecurableType.TABLE,
            securable_name=f"lake.s.t{n}",
        )
        for n in range(200)
    )
    own = (
        Grant(
            principal=SP,
            privilege="ALL_PRIVILEGES",
            securable_type=SecurableType.CATALOG,
            securable_name="lake",
        ),
    )
    return Snapshot(
        target="prod",
        collected_at=T0 + timedelta(minutes=index),
        watch=Watch(catalogs=("lake",), principals=(SP,)),
        reads=tuple(ReadStatus(family=f, state=ReadState.READ) for f in FactFamily),
        grants=bulk + (own if granted else ()),
    )


def commit_index(store: StateStore, index: int) -> bool:
    """Commit cycle ``index``; True when it was a replay."""
    snap = cycle_snapshot(index)
    status = Status.PASS if (index // 5) % 2 == 0 else Status.FAIL
    finding = Finding(
        rule_id="DL-3",
        pack="dl",
        integration="dl",
        target="prod",
        status=status,
        severity=Severity.HIGH,
        title="t",
        subject="CATALOG:lake",
    )
    result = record_cycle(
        store,
        snapshot=snap,
        report=Report(
            target="prod",
            evaluated_at=snap.collected_at,
            snapshot_collected_at=snap.collected_at,
            findings=(finding,),
        ),
        stats=CollectionStats(),
        started_at=snap.collected_at,
        finished_at=snap.collected_at,
        debounce_cycles=DEBOUNCE,
    )
    return result.replayed


def write_forever(path: str) -> None:
    """The child process: commit cycles 0, 1, 2, ... and say so after each commit returns."""
    store = StateStore(path)
    index = 0
    while True:
        commit_index(store, index)
        sys.stdout.write(f"committed {index}\n")
        sys.stdout.flush()
        index += 1


def _run_and_kill(path: Path, commits_before_kill: int, extra_delay: float) -> int:
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_store_crash as crash;"
        f" crash.write_forever({str(path)!r})"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    confirmed = -1
    try:
        while confirmed < commits_before_kill:
            line = child.stdout.readline()
            assert line, "the writer died on its own"
            confirmed = int(line.split()[1])
        time.sleep(extra_delay)  # land somewhere inside a later transaction
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        for line in child.stdout:  # commits reported between our last read and the kill
            confirmed = int(line.split()[1])
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return confirmed


def _events(store: StateStore) -> list[tuple[str, str, datetime]]:
    return [(e.kind.value, e.subject, e.confirmed_at) for e in store.drift_events("prod")]


@pytest.mark.parametrize(("commits_before_kill", "extra_delay"), [(12, 0.0), (23, 0.013), (31, 0.027)])
def test_sigkill_mid_write_loses_no_committed_cycle_and_restart_adds_no_duplicate(
    tmp_path: Path, commits_before_kill: int, extra_delay: float
) -> None:
    path = tmp_path / "crash.sqlite"
    confirmed = _run_and_kill(path, commits_before_kill, extra_delay)

    with StateStore(path) as store:
        assert store.integrity_check() == "ok"
        stored = [c.collected_at for c in store.cycles("prod")]
        # Every cycle the writer saw committed is there, and what is there is a gap-free prefix.
        assert stored == [T0 + timedelta(minutes=i) for i in range(len(stored))]
        assert len(stored) - 1 >= confirmed
        last = len(stored) - 1
        # Restart: the daemon may replay the last cycle it was unsure about, then carries on.
        assert commit_index(store, last) is True
        for index in range(last + 1, last + 12):
            assert commit_index(store, index) is False
        events = _events(store)
        keys = [e.event_key for e in store.drift_events("prod")]
        end = last + 11

    with StateStore(tmp_path / "reference.sqlite") as reference:
        for index in range(end + 1):
            commit_index(reference, index)
        expected = _events(reference)

    assert len(keys) == len(set(keys))
    assert events == expected
    assert len(expected) >= 3
