"""The snapshots shipped in examples/snapshots/ load, are what examples/make_snapshots.py builds, and give, through
the README's `check --snapshot` command, exactly the findings their planted problems imply."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor.loading import load_snapshot
from auditor.model.findings import Status
from tests.golden import DRIFTED, Problem, documented_drifted_rules, non_pass, scenario_drifted_rules, summary

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "examples" / "snapshots"

# Each shipped snapshot: its planted problems, and the packs it binds.
PLANTED: dict[str, tuple[Problem, ...]] = {"healthy": (), "drifted": DRIFTED, "legacy": ()}


def check(path: Path, tmp_path: Path) -> tuple[int, dict[str, object]]:
    out = tmp_path / f"{path.stem}.report.json"
    code = main(["check", "--snapshot", str(path), "--format", "json", "--output", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8"))


def test_every_shipped_snapshot_has_its_expectation() -> None:
    assert sorted(p.stem for p in SNAPSHOTS.glob("*.json")) == sorted(PLANTED)


def test_the_drifted_table_is_the_documented_one() -> None:
    """tests/golden.py's DRIFTED, docs/sandbox-scenarios.md and the scenario file's header name the same problems,
    in the same order, breaking the same rules."""
    table = [{rule for rule, _, _ in problem.breaks} for problem in DRIFTED]
    assert table == documented_drifted_rules()
    assert table == scenario_drifted_rules()


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_shipped_snapshot_gives_its_planted_findings(name: str, tmp_path: Path) -> None:
    code, report = check(SNAPSHOTS / f"{name}.json", tmp_path)
    findings = report["findings"]
    assert isinstance(findings, list)
    found = {(f["rule_id"], f["subject"], Status(f["status"])) for f in findings if f["status"] != "pass"}
    assert found == non_pass(PLANTED[name])
    assert code == (ExitCode.FAILING if any(s is Status.FAIL for _, _, s in found) else ExitCode.OK)


def test_drifted_differs_from_healthy_only_by_its_problems(tmp_path: Path) -> None:
    _, healthy = check(SNAPSHOTS / "healthy.json", tmp_path)
    _, drifted = check(SNAPSHOTS / "drifted.json", tmp_path)
    healthy_findings = healthy["findings"]
    assert isinstance(healthy_findings, list)
    assert drifted["summary"] == summary(DRIFTED, healthy_total=len(healthy_findings))


def test_legacy_binds_only_the_reverse_etl_source_on_hive_metastore(tmp_path: Path) -> None:
    snapshot = load_snapshot(SNAPSHOTS / "legacy.json")
    assert snapshot.metastore is None
    assert [(b.pack, b.params["catalog"]) for b in snapshot.integrations] == [("reverse-etl-source", "hive_metastore")]
    _, report = check(SNAPSHOTS / "legacy.json", tmp_path)
    findings = report["findings"]
    assert isinstance(findings, list) and findings
    assert {f["rule_id"].split("-")[0] for f in findings} == {"RETL"}


def _make_snapshots() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_snapshots", ROOT / "examples" / "make_snapshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_snapshots_are_what_make_snapshots_builds(tmp_path: Path) -> None:
    make = _make_snapshots()
    built = {
        "healthy": make.d.healthy().model_copy(update={"target": "healthy"}),
        "drifted": make.drifted().model_copy(update={"target": "drifted"}),
        "legacy": make.legacy(),
    }
    for name, snapshot in built.items():
        snapshot.dump(tmp_path / f"{name}.json")
        assert load_snapshot(tmp_path / f"{name}.json") == load_snapshot(SNAPSHOTS / f"{name}.json"), name
