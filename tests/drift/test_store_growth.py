"""The state store grows with changes, not with cycles; retention bounds it by size as well as by age."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from auditor.drift import chunks
from auditor.drift.cycle import record_cycle
from auditor.drift.store import StateStore
from auditor.model.facts import Grant, SecurableType, Snapshot
from auditor.model.findings import Report
from auditor.model.stats import CollectionStats
from tests.drift.drift_builders import BASE_GRANTS, snap

MANY = tuple(
    Grant(principal=f"user-{i % 37}@example.com", privilege="SELECT", securable_type=SecurableType.TABLE,
          securable_name=f"main.sales.table_{i}")
    for i in range(3000)
)  # fmt: skip


def commit(store: StateStore, cycle: int, grants: tuple[Grant, ...]) -> None:
    snapshot = snap(cycle, grants=grants)
    report = Report(target="prod", evaluated_at=snapshot.collected_at, snapshot_collected_at=snapshot.collected_at)
    record_cycle(
        store,
        snapshot=snapshot,
        report=report,
        stats=CollectionStats(statements=1, requests={"sql": 1}),
        started_at=snapshot.collected_at,
        finished_at=snapshot.collected_at + timedelta(seconds=1),
        debounce_cycles=1,
    )


def blob_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
        return count


def test_one_changed_item_rewrites_the_chunk_around_it_not_the_list() -> None:
    items = [{"principal": f"p{i}", "securable_name": f"main.s.t{i}"} for i in range(5000)]
    first = chunks.encode({"grants": items})
    changed = [*items[:2500], {"principal": "new", "securable_name": "main.s.new"}, *items[2500:]]
    second = chunks.encode({"grants": changed}, known=lambda digest: digest in first.referenced)
    assert len(first.blobs) > 10
    assert len(second.blobs) <= 3  # the chunk with the new item (maybe split in two) and the list of chunks
    stored = {**first.blobs, **second.blobs}
    assert chunks.decode(second.manifest, stored.__getitem__) == {"grants": changed}


def test_a_steady_state_cycle_stores_no_new_chunk_and_everything_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with StateStore(path) as store:
        commit(store, 0, MANY)
        after_first = blob_count(path)
        size = store.used_bytes()
        for cycle in range(1, 6):
            commit(store, cycle, MANY)
        assert blob_count(path) == after_first
        assert store.used_bytes() - size < 5 * 8192  # a manifest and a few rows a cycle
        latest = store.latest_cycle("prod")
        assert latest is not None
        assert store.snapshot(latest.id) == snap(5, grants=MANY)
        assert isinstance(store.report(latest.id), Report)


def test_retention_by_size_drops_the_oldest_cycles_and_their_chunks_keeping_the_latest(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with StateStore(path) as store:
        for cycle in range(8):  # every cycle different: its own chunks
            grants = tuple(g for i, g in enumerate(MANY) if i % 8 != cycle)
            commit(store, cycle, grants)
        full = store.used_bytes()
        blobs = blob_count(path)
        removed = store.apply_retention(3650, max_bytes=full // 3, now=snap(8).collected_at)
        assert removed.cycles == removed.cycles_over_size > 0 and removed.blobs > 0
        assert blob_count(path) < blobs
        remaining = store.cycles("prod")
        assert remaining and remaining[-1].collected_at == snap(7).collected_at
        for kept in remaining:  # whatever is kept still reads back whole
            assert isinstance(store.snapshot(kept.id), Snapshot)
        assert store.integrity_check() == "ok"
        # a limit nothing can meet still keeps the latest cycle
        store.apply_retention(3650, max_bytes=1, now=snap(8).collected_at)
        assert [c.collected_at for c in store.cycles("prod")] == [snap(7).collected_at]
        assert store.snapshot(store.cycles("prod")[0].id).grants == tuple(g for i, g in enumerate(MANY) if i % 8 != 7)


def test_retention_by_age_also_drops_the_chunks_only_old_cycles_used(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with StateStore(path) as store:
        commit(store, 0, MANY)
        commit(store, 1, BASE_GRANTS)
        removed = store.apply_retention(1, now=snap(1).collected_at + timedelta(days=2))
        assert removed.cycles == 1 and removed.blobs > 0
        latest = store.latest_cycle("prod")
        assert latest is not None and store.snapshot(latest.id).grants == BASE_GRANTS
