"""Schema versions: what this release writes, and what releases before versioning wrote, still load;
a newer version is refused with a message naming the file (exit 2), never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from auditor.cli import main as cli_main
from auditor.daemon import Daemon
from auditor.drift.store import SCHEMA_VERSION, StateStore, StoreError
from auditor.errors import InputError
from auditor.model.facts import Snapshot
from auditor.model.findings import Report
from auditor.model.versions import REPORTS, SNAPSHOTS, DocumentVersions, SchemaVersionError
from auditor.settings import load_settings
from tests.drift.drift_builders import snap
from tests.drift.test_drift_cli import run as run_baseline_cli
from tests.drift.test_drift_cli import write_config

VERSIONS = Path(__file__).parent / "versions"


def text(name: str) -> str:
    return (VERSIONS / name).read_text(encoding="utf-8")


def store_from(tmp_path: Path, dump: str) -> Path:
    path = tmp_path / "state" / "auditor.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        db.executescript(text(dump))
    finally:
        db.close()
    return path


def with_version(document_text: str, version: object) -> str:
    document = json.loads(document_text)
    document["schema_version"] = version
    return json.dumps(document)


# ---- documents ----------------------------------------------------------------------------------


def test_this_release_writes_the_committed_current_format() -> None:
    """Fails when the facts change shape: bump the version, add a migration, keep the old fixture."""
    assert SNAPSHOTS.current == REPORTS.current == 1
    assert Snapshot.from_json(text("snapshot-v1.json")).to_json() + "\n" == text("snapshot-v1.json")
    assert Snapshot.from_json(text("snapshot-v1.json")) == snap(0)
    report = Report.model_validate_json(text("report-v1.json"))
    assert report.model_dump_json(indent=2) + "\n" == text("report-v1.json")


def test_documents_written_before_versioning_load_as_version_1() -> None:
    assert Snapshot.from_json(text("snapshot-unversioned.json")) == Snapshot.from_json(text("snapshot-v1.json"))
    old_report = Report.model_validate_json(text("report-unversioned.json"))
    assert old_report == Report.model_validate_json(text("report-v1.json"))
    assert old_report.schema_version == 1


@pytest.mark.parametrize("version", [2, 0, "1", None, True])
def test_a_newer_or_malformed_version_is_refused_with_a_clear_message(version: object) -> None:
    with pytest.raises(ValidationError, match=r"schema.version"):
        Snapshot.from_json(with_version(text("snapshot-v1.json"), version))
    with pytest.raises(ValidationError, match=r"schema.version"):
        Report.model_validate_json(with_version(text("report-v1.json"), version))


def test_migrations_run_in_order_up_to_the_current_version() -> None:
    """The chain a later release adds to: 1 -> 2 renames a field, 2 -> 3 fills a new one."""

    def rename(document: dict[str, Any]) -> dict[str, Any]:
        document = dict(document)
        document["principals"] = document.pop("users", [])
        return document

    def fill(document: dict[str, Any]) -> dict[str, Any]:
        return {**document, "region": document.get("region", "us-east-1")}

    versions = DocumentVersions(kind="example", current=3, migrations={1: rename, 2: fill})
    assert versions.upgrade({"users": ["a"]}) == {"principals": ["a"], "region": "us-east-1", "schema_version": 3}
    assert versions.upgrade({"schema_version": 2, "principals": []}) == {
        "principals": [],
        "region": "us-east-1",
        "schema_version": 3,
    }
    with pytest.raises(SchemaVersionError, match="example schema version 4 is newer"):
        versions.upgrade({"schema_version": 4})
    with pytest.raises(ValueError, match="no migration from schema version"):
        DocumentVersions(kind="gap", current=3, migrations={1: rename})


def test_check_on_a_snapshot_from_a_newer_release_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    future = tmp_path / "future-snapshot.json"
    future.write_text(with_version(text("snapshot-v1.json"), 2), encoding="utf-8")
    assert cli_main(["check", "--snapshot", str(future)]) == 2
    err = capsys.readouterr().err
    assert str(future) in err and "schema version 2 is newer" in err
    assert "Traceback" not in err


def test_approving_a_baseline_from_a_newer_release_exits_2_naming_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "prod")
    future = tmp_path / "future-baseline.json"
    future.write_text(with_version(text("snapshot-v1.json"), 2), encoding="utf-8")
    code, _, err = run_baseline_cli(
        "baseline", "approve", "--config", str(config), "--target", "prod", "--snapshot", str(future)
    )
    assert code == 2
    assert str(future) in err and "schema version 2 is newer" in err
    assert "Traceback" not in err


# ---- the state store ----------------------------------------------------------------------------------


def contents(store: StateStore) -> tuple[object, ...]:
    cycle = store.latest_cycle("prod")
    baseline = store.baseline("prod")
    assert cycle is not None and baseline is not None
    events = [(e.kind, e.subject, e.principal, e.lost, e.cycles) for e in store.drift_events("prod")]
    return (
        [c.outcome for c in store.cycles("prod")],
        store.report(cycle.id),
        store.snapshot(cycle.id),
        (baseline.approved_by, baseline.snapshot),
        events,
        store.debounce_state("prod"),
        [(s.finding_id, s.status) for s in store.finding_history("prod")],
    )


def test_a_store_written_by_this_release_loads(tmp_path: Path) -> None:
    with StateStore(store_from(tmp_path, "store-v2.sql")) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        outcomes, report, snapshot, baseline, events, state, spans = contents(store)
        assert outcomes == ["completed", "completed"]
        assert isinstance(report, Report) and isinstance(snapshot, Snapshot)
        assert baseline == ("fixture", snap(0))
        assert isinstance(events, list) and isinstance(spans, list) and state is not None
        assert (len(events), len(spans)) == (1, 2)


@pytest.mark.parametrize("dump", ["store-v1.sql", "store-unversioned.sql"])
def test_a_store_from_an_earlier_release_is_migrated_and_keeps_everything(tmp_path: Path, dump: str) -> None:
    """Version 1 kept whole documents in each cycle; they load beside the chunked cycles version 2 writes."""
    with StateStore(store_from(tmp_path / "current", "store-v2.sql")) as current:
        expected = contents(current)
    legacy = store_from(tmp_path / "legacy", dump)
    assert sqlite3.connect(legacy).execute("PRAGMA user_version").fetchone()[0] == (1 if "v1" in dump else 0)
    with StateStore(legacy) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert contents(store) == expected
    with StateStore(legacy) as again:  # migrated once, then opened as it is
        assert again.schema_version == SCHEMA_VERSION


def test_a_store_from_a_newer_release_is_refused_naming_the_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "prod")
    path = store_from(config.parent, "store-v2.sql")
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match=f"{path}.*schema version {SCHEMA_VERSION + 1}, newer than"):
        StateStore(path)
    # The daemon turns it into an input error (exit 2) naming the config's state.path.
    with pytest.raises(InputError, match=r"state\.path") as raised:
        Daemon(load_settings(config), config_path=config)
    assert "newer than this auditor reads" in str(raised.value)
