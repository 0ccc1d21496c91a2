"""Writes the schema-version fixtures next to this file: ``python -m tests.drift.versions.write_fixtures``.

Run it only when adding a new schema version, to write that version's files; never rewrite the files
of an earlier version (they are what a user's disk holds, and the tests prove they still load).

- ``snapshot-v1.json``, ``report-v1.json``: a snapshot and its report as this release writes them;
- ``snapshot-unversioned.json``, ``report-unversioned.json``: the same without ``schema_version``,
  as files written before versioning are;
- ``store-v2.sql``: a state store (two cycles, a drift event, an approved baseline) as SQL text, snapshots
  and reports stored as chunk manifests;
- ``store-v1.sql``: the same as store schema version 1 wrote it (whole documents in each cycle);
- ``store-unversioned.sql``: the same store as releases before ``PRAGMA user_version`` wrote it, with
  unversioned documents inside.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import zlib
from datetime import timedelta
from pathlib import Path

from auditor.drift.cycle import record_cycle
from auditor.drift.store import SCHEMA_VERSION, StateStore
from auditor.model.findings import Finding, Report, Severity, Status
from auditor.model.stats import CollectionStats
from tests.drift.drift_builders import BASE_GRANTS, snap, without

HERE = Path(__file__).resolve().parent


def _unversioned(text: str, *, indent: int | None = None) -> str:
    document = json.loads(text)
    document.pop("schema_version")
    return json.dumps(document, indent=indent, separators=None if indent else (",", ":"))


def _report(status: Status, cycle: int) -> Report:
    collected = snap(cycle).collected_at
    finding = Finding(
        rule_id="DL-3",
        pack="delta-lake-destination",
        integration="delta-lake-destination",
        target="prod",
        status=status,
        severity=Severity.HIGH,
        title="ALL PRIVILEGES on the catalog",
        subject="CATALOG:segment_events",
    )
    return Report(target="prod", evaluated_at=collected, snapshot_collected_at=collected, findings=(finding,))


def _write_store(directory: Path) -> Path:
    path = directory / "state.sqlite"
    revoked = without(BASE_GRANTS, BASE_GRANTS[0])
    with StateStore(path) as store:
        for cycle, grants, status in ((0, BASE_GRANTS, Status.PASS), (1, revoked, Status.FAIL)):
            snapshot = snap(cycle, grants=grants)
            record_cycle(
                store,
                snapshot=snapshot,
                report=_report(status, cycle),
                stats=CollectionStats(statements=2, requests={"sql": 2}),
                started_at=snapshot.collected_at,
                finished_at=snapshot.collected_at + timedelta(seconds=1),
                debounce_cycles=1,
            )
        store.approve_baseline(
            "prod", snap(0), approved_by="fixture", source="cycle 1", approved_at=snap(0).collected_at
        )
    return path


def _dump(path: Path, *, user_version: int | None) -> str:
    db = sqlite3.connect(path)
    try:
        lines = list(db.iterdump())
    finally:
        db.close()
    header = [f"PRAGMA user_version = {user_version};"] if user_version is not None else []
    return "\n".join(header + lines) + "\n"


def _strip_versions(path: Path) -> None:
    """Rewrite the store as the release before versioning left it: no user_version, unversioned JSON."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA user_version = 0")
        for row_id, snapshot, report in db.execute("SELECT id, snapshot, report FROM cycles").fetchall():
            db.execute(
                "UPDATE cycles SET snapshot = ?, report = ? WHERE id = ?",
                (
                    zlib.compress(_unversioned(zlib.decompress(snapshot).decode()).encode()),
                    _unversioned(report),
                    row_id,
                ),
            )
        for row_id, snapshot in db.execute("SELECT id, snapshot FROM baselines").fetchall():
            unversioned = _unversioned(zlib.decompress(snapshot).decode())
            db.execute("UPDATE baselines SET snapshot = ? WHERE id = ?", (zlib.compress(unversioned.encode()), row_id))
        db.commit()
    finally:
        db.close()


def _write_new(name: str, text: str) -> None:
    """Files of an earlier version are what users' disks hold: write a file only when it is not there yet."""
    path = HERE / name
    if not path.exists():
        path.write_text(text, encoding="utf-8")


def main() -> None:
    snapshot_json = snap(0).to_json()
    report_json = _report(Status.PASS, 0).model_dump_json(indent=2)
    _write_new("snapshot-v1.json", snapshot_json + "\n")
    _write_new("snapshot-unversioned.json", _unversioned(snapshot_json, indent=2) + "\n")
    _write_new("report-v1.json", report_json + "\n")
    _write_new("report-unversioned.json", _unversioned(report_json, indent=2) + "\n")
    with tempfile.TemporaryDirectory() as scratch:
        path = _write_store(Path(scratch))
        _write_new(f"store-v{SCHEMA_VERSION}.sql", _dump(path, user_version=SCHEMA_VERSION))
    # store-v1.sql and store-unversioned.sql were written by releases with store schema version 1
    # (whole zlib-compressed snapshots, plain-text reports); `_strip_versions` made the latter from the former.


if __name__ == "__main__":
    main()
