"""`grants-auditor baseline approve|show|diff` against a real state store."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from auditor.cli import build_parser
from auditor.cli.baseline import run_baseline
from auditor.cli.exit_codes import ExitCode
from auditor.drift.cycle import record_cycle
from auditor.drift.store import StateStore
from auditor.model.facts import Snapshot
from auditor.model.findings import Report
from auditor.model.stats import CollectionStats
from tests.drift.drift_builders import BASE_GRANTS, DELTA_SP, snap, without

SP_PARAMS = {"client_id": DELTA_SP, "warehouse_id": "8a6f3d2c1b0e9f47", "catalog": "segment_events"}


def write_config(tmp_path: Path, *names: str) -> Path:
    targets = [
        {
            "name": name,
            "databricks": {"host": "http://127.0.0.1:9", "auth": {"type": "pat", "token": "dapi-x-123456"}},
            "integrations": [{"pack": "delta-lake-destination", "params": SP_PARAMS}],
        }
        for name in names
    ]
    path = tmp_path / "conf" / "auditor.yaml"
    path.parent.mkdir()
    # A relative state path is relative to the config file's directory.
    path.write_text(yaml.safe_dump({"state": {"path": "state/auditor.sqlite"}, "targets": targets}))
    return path


def store_for(config: Path) -> StateStore:
    return StateStore(config.parent / "state" / "auditor.sqlite")


def commit(store: StateStore, snapshot: Snapshot) -> None:
    report = Report(
        target=snapshot.target,
        evaluated_at=snapshot.collected_at,
        snapshot_collected_at=snapshot.collected_at,
    )
    record_cycle(
        store,
        snapshot=snapshot,
        report=report,
        stats=CollectionStats(),
        started_at=snapshot.collected_at,
        finished_at=snapshot.collected_at + timedelta(seconds=1),
        debounce_cycles=2,
    )


def run(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    code = run_baseline(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_approve_show_and_diff(tmp_path: Path) -> None:
    config = write_config(tmp_path, "prod")
    with store_for(config) as store:
        commit(store, snap(0, target="prod"))

    code, out, _ = run("baseline", "approve", "--config", str(config), "--by", "alice")
    assert code == ExitCode.OK and "approved" in out and "by alice" in out

    code, out, _ = run("baseline", "show", "--config", str(config), "--format", "json")
    shown = json.loads(out)["targets"][0]
    assert code == ExitCode.OK
    assert (shown["target"], shown["approved_by"], shown["source"]) == ("prod", "alice", "cycle 1")
    assert shown["counts"]["grants"] == len(BASE_GRANTS)

    code, out, _ = run("baseline", "diff", "--config", str(config))
    assert code == ExitCode.OK and "no changes" in out

    with store_for(config) as store:
        commit(store, snap(1, target="prod", grants=without(BASE_GRANTS, BASE_GRANTS[0])))
    code, out, _ = run("baseline", "diff", "--config", str(config))
    assert code == ExitCode.FAILING
    assert f"grant_removed CATALOG:segment_events: {DELTA_SP} lost ALL_PRIVILEGES" in out

    code, out, _ = run("baseline", "diff", "--config", str(config), "--target", "prod", "--format", "json")
    (result,) = json.loads(out)["targets"]
    assert code == ExitCode.FAILING
    assert result["changes"] == [
        {
            "kind": "grant_removed",
            "subject": "CATALOG:segment_events",
            "principal": DELTA_SP,
            "gained": [],
            "lost": ["ALL_PRIVILEGES"],
        }
    ]


def test_approve_a_snapshot_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "prod", "stage")
    snapshot_file = tmp_path / "approved.json"
    snap(0, target="prod").dump(snapshot_file)
    code, _, err = run("baseline", "approve", "--config", str(config), "--snapshot", str(snapshot_file))
    assert code == ExitCode.BAD_INPUT and "--target" in err  # several targets: which one?
    code, out, _ = run(
        "baseline", "approve", "--config", str(config), "--target", "prod", "--snapshot", str(snapshot_file)
    )
    assert code == ExitCode.OK and str(snapshot_file) in out
    code, _, err = run(
        "baseline", "approve", "--config", str(config), "--target", "stage", "--snapshot", str(snapshot_file)
    )
    assert code == ExitCode.BAD_INPUT and "not 'stage'" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"target": 1}')
    code, _, err = run("baseline", "approve", "--config", str(config), "--target", "prod", "--snapshot", str(bad))
    assert code == ExitCode.BAD_INPUT and "not a valid snapshot" in err


@pytest.mark.parametrize("command", ["approve", "show", "diff"])
def test_nothing_to_work_on_is_an_input_error(tmp_path: Path, command: str) -> None:
    config = write_config(tmp_path, "prod")
    code, out, err = run("baseline", command, "--config", str(config))
    assert code == ExitCode.BAD_INPUT and out == ""
    assert "prod" in err


def test_unknown_target_and_bad_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, "prod")
    code, _, err = run("baseline", "show", "--config", str(config), "--target", "nope")
    assert code == ExitCode.BAD_INPUT and "no target 'nope'" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("targets: [")
    code, _, err = run("baseline", "show", "--config", str(broken))
    assert code == ExitCode.BAD_INPUT and "broken.yaml" in err
