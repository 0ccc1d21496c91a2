"""The state store: one SQLite file holding completed cycles, finding history, drift and baselines.

Durability: the file is in WAL mode with ``synchronous=FULL``. WAL makes a commit one append to the
log, and SQLite's journal recovery makes a transaction all-or-nothing whatever kills the process;
FULL also syncs the log on every commit, so a completed cycle survives a power loss, not only a
SIGKILL. A cycle commits once every few minutes, so the extra fsync costs nothing that matters.

Every completed cycle is committed in ONE transaction: its snapshot and report (each a manifest of content-
addressed, zlib-compressed chunks that are stored once however many cycles share them:
`auditor.drift.chunks`), collection stats, the finding history update, the drift events and the new debounce
state. The store does not decide drift: it persists what the pure fold (`auditor.drift.debounce.advance`,
joined to the store by `auditor.drift.cycle.record_cycle`) computed, refusing a fold made from a superseded
state. Killing the process at any point therefore leaves either the whole cycle or none of it, and a restart
resumes from the debounce state that matches the last committed cycle, so no drift event is emitted twice.
Committing the same snapshot twice (same target and collection time) is a no-op, and drift events also carry a
unique key.

Finding history: one row per *span*, a run of cycles in which a finding kept one status
(``first_seen`` .. ``last_seen``). A status change closes the span and starts a new row, so the
table answers both "since when has this failed?" and "what were its transitions?".

Retention is by age and by size: `apply_retention` deletes cycles older than the retention period,
then the oldest cycles while the file's live pages exceed the size limit (each target's latest cycle is
always kept), and then the chunks no remaining cycle references.

The connection is shared by the daemon's threads behind a lock; writes are serialised anyway.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.drift import chunks
from auditor.drift.debounce import DebounceState, DriftEvent
from auditor.drift.diff import ChangeKind
from auditor.drift.store_schema import SCHEMA_VERSION as SCHEMA_VERSION
from auditor.drift.store_schema import StoreError as StoreError
from auditor.drift.store_schema import migrate
from auditor.model.facts import Snapshot
from auditor.model.findings import Report, Status
from auditor.model.stats import CollectionStats
from auditor.settings import Settings


def state_path(settings: Settings) -> Path:
    """Where the state store lives: ``state.path``, relative to the config file's directory."""
    path = Path(settings.state.path).expanduser()
    if path.is_absolute() or not settings.source_path:
        return path
    return Path(settings.source_path).parent / path


class StaleDriftState(StoreError):
    """A cycle's drift step was folded from a state that another commit has replaced since."""


@dataclass(frozen=True)
class CycleRecord:
    """One cycle as stored (without its snapshot and report, which are loaded on demand)."""

    id: int
    target: str
    started_at: datetime
    finished_at: datetime
    outcome: str  # "completed" | "failed"
    error: str | None
    collected_at: datetime | None


@dataclass(frozen=True)
class DriftCheckpoint:
    """A target's stored drift state and the cycle that produced it."""

    state: DebounceState
    cycle_id: int


@dataclass(frozen=True)
class DriftStep:
    """What the drift fold made of one cycle: the new state and the events, folded after ``after_cycle``."""

    state: DebounceState
    events: tuple[DriftEvent, ...]
    after_cycle: int | None  # the cycle of the state it was folded from; None: folded from no state


@dataclass(frozen=True)
class CommitResult:
    """What committing one completed cycle did."""

    cycle_id: int
    events: tuple[DriftEvent, ...]
    replayed: bool  # the cycle was already stored: nothing was written


@dataclass(frozen=True)
class StoredDriftEvent:
    id: int
    event_key: str
    target: str
    cycle_id: int
    kind: ChangeKind
    subject: str
    principal: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]
    first_seen: datetime
    confirmed_at: datetime
    cycles: int


@dataclass(frozen=True)
class FindingSpan:
    """A run of cycles in which one finding kept one status."""

    target: str
    finding_id: str
    rule_id: str
    status: Status
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Baseline:
    """The approved state of a target that drift is also measured against."""

    id: int
    target: str
    approved_at: datetime
    approved_by: str
    source: str  # "cycle <id>" or the snapshot file it came from
    snapshot: Snapshot


@dataclass(frozen=True)
class RetentionResult:
    cycles: int
    finding_spans: int
    drift_events: int
    blobs: int = 0
    cycles_over_size: int = 0  # of ``cycles``: deleted to keep the store under its size limit


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("state store times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _pack(text: str) -> bytes:
    return zlib.compress(text.encode(), 6)


def _unpack(blob: bytes) -> str:
    return zlib.decompress(blob).decode()


def _document(stored: bytes | str) -> Any:
    """A stored snapshot or report as a JSON value: compressed (manifests, version-1 snapshots) or plain text
    (version-1 reports)."""
    return json.loads(_unpack(stored) if isinstance(stored, bytes) else stored)


class StateStore:
    """The SQLite state store. Thread-safe; open one per process and `close` it on shutdown."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 10000")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open state store {self.path}: {exc}") from exc
        if str(mode).lower() != "wal":
            raise StoreError(f"state store {self.path}: WAL mode is not available (got {mode})")
        self._closed = False
        self._migrate()

    # ---- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError("the state store is closed")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._closed:
                raise StoreError("the state store is closed")
            cursor = self._db.execute(sql, tuple(params))
            cursor.row_factory = sqlite3.Row
            return list(cursor.fetchall())

    def _migrate(self) -> None:
        with self._transaction() as db:
            migrate(db, self.path)

    @property
    def schema_version(self) -> int:
        """The file's ``PRAGMA user_version`` (`SCHEMA_VERSION` once opened)."""
        return int(self._query("PRAGMA user_version")[0][0])

    def close(self) -> None:
        """Close the connection (waits for a commit in progress). Further calls raise `StoreError`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing cycles -------------------------------------------------------------------------

    def commit_cycle(
        self,
        *,
        snapshot: Snapshot,
        report: Report,
        stats: CollectionStats,
        started_at: datetime,
        finished_at: datetime,
        drift: DriftStep,
    ) -> CommitResult:
        """Store one completed cycle and the drift state and events folded from it, in one transaction.

        The fold happened before (`auditor.drift.cycle.record_cycle`); ``drift.after_cycle`` names the
        cycle whose drift state it was folded from, and the write is refused (`StaleDriftState`) when
        the stored state has moved on since.
        """
        target = snapshot.target
        collected = _ts(snapshot.collected_at)
        # Split outside the write transaction (it is the slow part); blobs stored already are not compressed again.
        documents = [json.loads(snapshot.model_dump_json()), json.loads(report.model_dump_json())]
        encoded = [chunks.encode(d, known=self._has_blob) for d in documents]
        with self._transaction() as db:
            existing = db.execute(
                "SELECT id FROM cycles WHERE target = ? AND collected_at = ?", (target, collected)
            ).fetchone()
            if existing is not None:
                return CommitResult(cycle_id=int(existing[0]), events=(), replayed=True)
            stored = db.execute("SELECT cycle_id FROM debounce_state WHERE target = ?", (target,)).fetchone()
            if (int(stored[0]) if stored else None) != drift.after_cycle:
                raise StaleDriftState(
                    f"state store {self.path}: the drift state of {target!r} moved on (cycle"
                    f" {stored[0] if stored else None}) since it was read (cycle {drift.after_cycle})"
                )
            encoded = [self._store_blobs(db, e, d) for e, d in zip(encoded, documents, strict=True)]
            cursor = db.execute(
                "INSERT INTO cycles (target, started_at, finished_at, outcome, collected_at, snapshot,"
                " report, stats, blob_roots) VALUES (?, ?, ?, 'completed', ?, ?, ?, ?, ?)",
                (
                    target,
                    _ts(started_at),
                    _ts(finished_at),
                    collected,
                    *(_pack(json.dumps(e.manifest, separators=(",", ":"))) for e in encoded),
                    stats.model_dump_json(),
                    " ".join(root for e in encoded for root in e.roots),
                ),
            )
            cycle_id = int(cursor.lastrowid or 0)
            self._update_findings(db, target, report, cycle_id, snapshot.collected_at)
            stored_events = tuple(e for e in drift.events if self._insert_event(db, e, cycle_id))
            db.execute(
                "INSERT INTO debounce_state (target, state, cycle_id, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (target) DO UPDATE SET state = excluded.state, cycle_id = excluded.cycle_id,"
                " updated_at = excluded.updated_at",
                (target, _pack(drift.state.model_dump_json()), cycle_id, _ts(finished_at)),
            )
        return CommitResult(cycle_id=cycle_id, events=stored_events, replayed=False)

    def _has_blob(self, digest: str) -> bool:
        return bool(self._query("SELECT 1 FROM blobs WHERE digest = ?", (digest,)))

    @staticmethod
    def _store_blobs(db: sqlite3.Connection, encoded: chunks.Encoded, document: dict[str, Any]) -> chunks.Encoded:
        """Insert the new blobs; if a blob taken as stored is gone (retention ran since), store everything."""
        vouched = encoded.referenced - set(encoded.blobs)
        if any(db.execute("SELECT 1 FROM blobs WHERE digest = ?", (d,)).fetchone() is None for d in vouched):
            encoded = chunks.encode(document)
        db.executemany("INSERT OR IGNORE INTO blobs (digest, data) VALUES (?, ?)", encoded.blobs.items())
        return encoded

    def _blob(self, digest: str) -> bytes:
        rows = self._query("SELECT data FROM blobs WHERE digest = ?", (digest,))
        if not rows:
            raise StoreError(f"state store {self.path}: stored chunk {digest} is missing")
        data: bytes = rows[0][0]
        return data

    def _load(self, stored: bytes | str) -> Any:
        return chunks.decode(_document(stored), self._blob)

    def record_failure(self, *, target: str, started_at: datetime, finished_at: datetime, error: str) -> int:
        """Record a cycle that did not complete. Drift state and finding history are untouched."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO cycles (target, started_at, finished_at, outcome, error) VALUES (?, ?, ?, 'failed', ?)",
                (target, _ts(started_at), _ts(finished_at), error),
            )
            return int(cursor.lastrowid or 0)

    @staticmethod
    def _update_findings(db: sqlite3.Connection, target: str, report: Report, cycle_id: int, seen_at: datetime) -> None:
        current = {
            row[0]: (int(row[1]), row[2])
            for row in db.execute(
                "SELECT finding_id, id, status FROM finding_spans WHERE id IN"
                " (SELECT MAX(id) FROM finding_spans WHERE target = ? GROUP BY finding_id)",
                (target,),
            )
        }
        seen = _ts(seen_at)
        for finding in report.findings:
            span = current.get(finding.finding_id)
            if span is not None and span[1] == finding.status.value:
                db.execute(
                    "UPDATE finding_spans SET last_seen = ?, last_cycle_id = ? WHERE id = ?",
                    (seen, cycle_id, span[0]),
                )
            else:
                db.execute(
                    "INSERT INTO finding_spans (target, finding_id, rule_id, status, first_seen, last_seen,"
                    " first_cycle_id, last_cycle_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        target,
                        finding.finding_id,
                        finding.rule_id,
                        finding.status.value,
                        seen,
                        seen,
                        cycle_id,
                        cycle_id,
                    ),
                )

    @staticmethod
    def _insert_event(db: sqlite3.Connection, event: DriftEvent, cycle_id: int) -> bool:
        change = event.change
        cursor = db.execute(
            "INSERT OR IGNORE INTO drift_events (event_key, target, cycle_id, kind, subject, principal,"
            " gained, lost, first_seen, confirmed_at, cycles) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.event_key,
                event.target,
                cycle_id,
                change.kind.value,
                change.subject,
                change.principal,
                json.dumps(list(change.gained)),
                json.dumps(list(change.lost)),
                _ts(event.first_seen),
                _ts(event.confirmed_at),
                event.cycles,
            ),
        )
        return cursor.rowcount == 1

    # ---- reading cycles --------------------------------------------------------------------------

    @staticmethod
    def _cycle(row: sqlite3.Row) -> CycleRecord:
        return CycleRecord(
            id=int(row["id"]),
            target=row["target"],
            started_at=_dt(row["started_at"]),
            finished_at=_dt(row["finished_at"]),
            outcome=row["outcome"],
            error=row["error"],
            collected_at=_dt(row["collected_at"]) if row["collected_at"] else None,
        )

    _CYCLE_COLUMNS = "id, target, started_at, finished_at, outcome, error, collected_at"

    def cycles(self, target: str | None = None) -> list[CycleRecord]:
        """Every stored cycle (of ``target``), oldest first."""
        where, params = ("WHERE target = ?", (target,)) if target else ("", ())
        rows = self._query(f"SELECT {self._CYCLE_COLUMNS} FROM cycles {where} ORDER BY id", params)
        return [self._cycle(r) for r in rows]

    def latest_cycle(self, target: str, *, completed_only: bool = True) -> CycleRecord | None:
        only = "AND outcome = 'completed'" if completed_only else ""
        rows = self._query(
            f"SELECT {self._CYCLE_COLUMNS} FROM cycles WHERE target = ? {only} ORDER BY id DESC LIMIT 1",
            (target,),
        )
        return self._cycle(rows[0]) if rows else None

    def targets(self) -> list[str]:
        """Targets that have at least one stored cycle."""
        return [r[0] for r in self._query("SELECT DISTINCT target FROM cycles ORDER BY target")]

    def snapshot(self, cycle_id: int) -> Snapshot:
        rows = self._query("SELECT snapshot FROM cycles WHERE id = ? AND snapshot IS NOT NULL", (cycle_id,))
        if not rows:
            raise KeyError(f"no completed cycle {cycle_id}")
        return Snapshot.model_validate(self._load(rows[0][0]))

    def report(self, cycle_id: int) -> Report:
        rows = self._query("SELECT report FROM cycles WHERE id = ? AND report IS NOT NULL", (cycle_id,))
        if not rows:
            raise KeyError(f"no completed cycle {cycle_id}")
        return Report.model_validate(self._load(rows[0][0]))

    def stats(self, cycle_id: int) -> CollectionStats:
        rows = self._query("SELECT stats FROM cycles WHERE id = ? AND stats IS NOT NULL", (cycle_id,))
        if not rows:
            raise KeyError(f"no completed cycle {cycle_id}")
        return CollectionStats.model_validate_json(rows[0][0])

    def latest_snapshot(self, target: str) -> Snapshot | None:
        cycle = self.latest_cycle(target)
        return self.snapshot(cycle.id) if cycle else None

    def latest_report(self, target: str) -> Report | None:
        cycle = self.latest_cycle(target)
        return self.report(cycle.id) if cycle else None

    # ---- drift, findings -----------------------------------------------------------------------------

    def drift_events(self, target: str | None = None, *, limit: int | None = None) -> list[StoredDriftEvent]:
        """Drift events (of ``target``), oldest first; ``limit`` keeps the newest ones."""
        where, params = ("WHERE target = ?", [target]) if target else ("", [])
        params_list: list[object] = list(params)
        sql = f"SELECT * FROM drift_events {where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params_list.append(limit)
        rows = self._query(sql, params_list)
        return [
            StoredDriftEvent(
                id=int(r["id"]),
                event_key=r["event_key"],
                target=r["target"],
                cycle_id=int(r["cycle_id"]),
                kind=ChangeKind(r["kind"]),
                subject=r["subject"],
                principal=r["principal"],
                gained=tuple(json.loads(r["gained"])),
                lost=tuple(json.loads(r["lost"])),
                first_seen=_dt(r["first_seen"]),
                confirmed_at=_dt(r["confirmed_at"]),
                cycles=int(r["cycles"]),
            )
            for r in reversed(rows)
        ]

    def drift_checkpoint(self, target: str) -> DriftCheckpoint | None:
        """The drift state of ``target`` and the cycle it was folded up to (None before any cycle)."""
        rows = self._query("SELECT state, cycle_id FROM debounce_state WHERE target = ?", (target,))
        if not rows:
            return None
        return DriftCheckpoint(state=DebounceState.model_validate_json(_unpack(rows[0][0])), cycle_id=int(rows[0][1]))

    def debounce_state(self, target: str) -> DebounceState | None:
        checkpoint = self.drift_checkpoint(target)
        return checkpoint.state if checkpoint else None

    def finding_history(self, target: str, finding_id: str | None = None) -> list[FindingSpan]:
        """Finding spans of ``target`` (optionally one finding), oldest first."""
        sql = "SELECT * FROM finding_spans WHERE target = ?"
        params: list[object] = [target]
        if finding_id is not None:
            sql += " AND finding_id = ?"
            params.append(finding_id)
        rows = self._query(sql + " ORDER BY id", params)
        return [
            FindingSpan(
                target=r["target"],
                finding_id=r["finding_id"],
                rule_id=r["rule_id"],
                status=Status(r["status"]),
                first_seen=_dt(r["first_seen"]),
                last_seen=_dt(r["last_seen"]),
            )
            for r in rows
        ]

    # ---- baselines --------------------------------------------------------------------------------

    def approve_baseline(
        self,
        target: str,
        snapshot: Snapshot,
        *,
        approved_by: str,
        source: str,
        approved_at: datetime | None = None,
    ) -> Baseline:
        """Record ``snapshot`` as the approved baseline of ``target`` (earlier ones are kept as history)."""
        if snapshot.target != target:
            raise ValueError(f"the snapshot is of target {snapshot.target!r}, not {target!r}")
        when = approved_at or datetime.now(UTC)
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO baselines (target, approved_at, approved_by, source, snapshot) VALUES (?, ?, ?, ?, ?)",
                (target, _ts(when), approved_by, source, _pack(snapshot.model_dump_json())),
            )
            baseline_id = int(cursor.lastrowid or 0)
        return Baseline(
            id=baseline_id,
            target=target,
            approved_at=when,
            approved_by=approved_by,
            source=source,
            snapshot=snapshot,
        )

    def baseline(self, target: str) -> Baseline | None:
        """The latest approved baseline of ``target``."""
        rows = self._query("SELECT * FROM baselines WHERE target = ? ORDER BY id DESC LIMIT 1", (target,))
        if not rows:
            return None
        row = rows[0]
        return Baseline(
            id=int(row["id"]),
            target=row["target"],
            approved_at=_dt(row["approved_at"]),
            approved_by=row["approved_by"],
            source=row["source"],
            snapshot=Snapshot.from_json(_unpack(row["snapshot"])),
        )

    # ---- retention ----------------------------------------------------------------------------------

    def apply_retention(
        self, retention_days: int, *, max_bytes: int | None = None, now: datetime | None = None
    ) -> RetentionResult:
        """Delete what is older than ``retention_days``, then the oldest cycles while the store holds more
        than ``max_bytes``; each target's latest cycle (and latest completed cycle) is always kept.

        Baselines are never deleted (they hold their own copy of the snapshot); finding spans are
        deleted only once closed (a newer span exists) and old; drift events once old. Chunks that no
        remaining cycle references go last. The file does not shrink (SQLite reuses the freed pages), so
        it stays within the limit plus about one cycle.
        """
        cutoff = _ts((now or datetime.now(UTC)) - timedelta(days=retention_days))
        with self._transaction() as db:
            cycles = db.execute(
                f"DELETE FROM cycles WHERE finished_at < ? AND id NOT IN ({self._KEPT})", (cutoff,)
            ).rowcount
            spans = db.execute(
                "DELETE FROM finding_spans WHERE last_seen < ? AND id NOT IN"
                " (SELECT MAX(id) FROM finding_spans GROUP BY target, finding_id)",
                (cutoff,),
            ).rowcount
            events = db.execute("DELETE FROM drift_events WHERE confirmed_at < ?", (cutoff,)).rowcount
            blobs = self._collect_garbage(db)
            over_size = 0
            while max_bytes is not None and self._used_bytes(db) > max_bytes:
                # the oldest tenth of what may go (at least one cycle) per round, then the chunks it freed
                deletable = db.execute(f"SELECT COUNT(*) FROM cycles WHERE id NOT IN ({self._KEPT})").fetchone()[0]
                if not deletable:
                    break
                over_size += db.execute(
                    f"DELETE FROM cycles WHERE id IN (SELECT id FROM cycles WHERE id NOT IN ({self._KEPT})"
                    " ORDER BY id LIMIT ?)",
                    (max(1, deletable // 10),),
                ).rowcount
                blobs += self._collect_garbage(db)
        return RetentionResult(
            cycles=cycles + over_size,
            finding_spans=spans,
            drift_events=events,
            blobs=blobs,
            cycles_over_size=over_size,
        )

    _KEPT = (
        "SELECT MAX(id) FROM cycles GROUP BY target"
        " UNION SELECT MAX(id) FROM cycles WHERE outcome = 'completed' GROUP BY target"
    )

    @staticmethod
    def _collect_garbage(db: sqlite3.Connection) -> int:
        """Delete the blobs no stored cycle references (directly, or as a chunk of a referenced list)."""
        live: set[str] = set()
        for (roots,) in db.execute("SELECT DISTINCT blob_roots FROM cycles WHERE blob_roots IS NOT NULL"):
            live.update(str(roots).split())
        for root in list(live):
            row = db.execute("SELECT data FROM blobs WHERE digest = ?", (root,)).fetchone()
            if row is not None:
                live.update(chunks.chunk_digests(row[0]))
        stored = [d for (d,) in db.execute("SELECT digest FROM blobs")]
        dead = [(d,) for d in stored if d not in live]
        db.executemany("DELETE FROM blobs WHERE digest = ?", dead)
        return len(dead)

    @staticmethod
    def _used_bytes(db: sqlite3.Connection) -> int:
        """What the file holds: its pages less the free ones (SQLite reuses those before growing)."""
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
        return (pages - free) * int(db.execute("PRAGMA page_size").fetchone()[0])

    def used_bytes(self) -> int:
        with self._lock:
            return self._used_bytes(self._db)

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` when sound)."""
        return str(self._query("PRAGMA integrity_check")[0][0])

    def journal_mode(self) -> str:
        return str(self._query("PRAGMA journal_mode")[0][0])
