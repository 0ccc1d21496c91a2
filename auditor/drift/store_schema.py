"""The state store's schema: the tables, and the migration chain that brings any older file up to date.

The file's version is ``PRAGMA user_version``. To change the schema: bump `SCHEMA_VERSION`, add its
steps under the new number, and keep a dump of the previous version under ``tests/drift/versions/``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path


class StoreError(Exception):
    """The state store cannot be opened or is from a newer version."""


SCHEMA_VERSION = 2  # PRAGMA user_version of a file this release writes

# The migration chain: version N's steps bring a version N - 1 file to N. A step is SQL, or a function
# on the open transaction (to rewrite stored JSON, e.g. through `auditor.model.versions`).
MigrationStep = str | Callable[[sqlite3.Connection], None]
_MIGRATIONS: dict[int, Sequence[MigrationStep]] = {
    1: (
        """CREATE TABLE cycles (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            target TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'failed')),
            error TEXT,
            collected_at TEXT,
            snapshot BLOB,
            report TEXT,
            stats TEXT,
            UNIQUE (target, collected_at)
        )""",
        "CREATE INDEX cycles_by_target ON cycles (target, finished_at)",
        """CREATE TABLE finding_spans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            target TEXT NOT NULL,
            finding_id TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            status TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            first_cycle_id INTEGER NOT NULL,
            last_cycle_id INTEGER NOT NULL
        )""",
        "CREATE INDEX finding_spans_by_finding ON finding_spans (target, finding_id, id)",
        """CREATE TABLE drift_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_key TEXT NOT NULL UNIQUE,
            target TEXT NOT NULL,
            cycle_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            principal TEXT NOT NULL,
            gained TEXT NOT NULL,
            lost TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            confirmed_at TEXT NOT NULL,
            cycles INTEGER NOT NULL
        )""",
        "CREATE INDEX drift_events_by_target ON drift_events (target, id)",
        """CREATE TABLE debounce_state (
            target TEXT PRIMARY KEY,
            state BLOB NOT NULL,
            cycle_id INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE baselines (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            target TEXT NOT NULL,
            approved_at TEXT NOT NULL,
            approved_by TEXT NOT NULL,
            source TEXT NOT NULL,
            snapshot BLOB NOT NULL
        )""",
        "CREATE INDEX baselines_by_target ON baselines (target, id)",
    ),
    # 2: snapshots and reports of new cycles are stored as manifests of content-addressed chunks
    # (`auditor.drift.chunks`); ``blob_roots`` names the blobs a cycle's manifests reference, so retention
    # can drop the blobs no cycle needs. Cycles stored by version 1 keep their whole documents and still load.
    2: (
        """CREATE TABLE blobs (
            digest TEXT PRIMARY KEY,
            data BLOB NOT NULL
        )""",
        "ALTER TABLE cycles ADD COLUMN blob_roots TEXT",
    ),
}


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file to `SCHEMA_VERSION` through the migration chain (inside the caller's transaction).

    The version is ``PRAGMA user_version``. A file written before that was used has 0 there and
    its version in ``schema_migrations``, which every migration still records: releases that only
    read that table then refuse a newer file instead of re-creating its tables.
    """
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    recorded = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    current = max(int(db.execute("PRAGMA user_version").fetchone()[0]), int(recorded))
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"state store {path} has schema version {current}, newer than this auditor reads"
            f" (up to {SCHEMA_VERSION}); upgrade grants-auditor or point state.path elsewhere"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for step in _MIGRATIONS[version]:
            if isinstance(step, str):
                db.execute(step)
            else:
                step(db)
        db.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            (version, datetime.now(UTC).isoformat(timespec="microseconds")),
        )
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
