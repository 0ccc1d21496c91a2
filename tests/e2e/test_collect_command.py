"""`grants-auditor collect` against the sandbox writes a snapshot that `check --snapshot` judges exactly as
`check --config` judges the live workspace: collecting and evaluating apart gives the same findings as together."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor.loading import load_snapshot
from auditor.model.findings import Status
from auditor_sandbox import Sandbox
from tests.golden import DRIFTED, non_pass
from tests.rules.documented import NOW

AS_OF = NOW.isoformat()


@pytest.fixture
def drifted() -> Iterator[Sandbox]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        yield sandbox


def findings(report_path: Path) -> set[tuple[str, str, Status]]:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return {(f["rule_id"], f["subject"], Status(f["status"])) for f in report["findings"]}


def test_collect_then_check_snapshot_equals_check_config(drifted: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "sandbox.yaml"
    drifted.write_config(config)
    snapshot = tmp_path / "snapshot.json"

    assert main(["collect", "--config", str(config), "--out", str(snapshot), "--now", AS_OF]) == ExitCode.OK
    collected = load_snapshot(snapshot)
    assert collected.grants and all(r.state.value == "read" for r in collected.reads)

    offline, live = tmp_path / "offline.json", tmp_path / "live.json"
    check = ["check", "--format", "json", "--now", AS_OF, "--output"]
    assert main([*check, str(offline), "--snapshot", str(snapshot)]) == ExitCode.FAILING
    assert main([*check, str(live), "--config", str(config)]) == ExitCode.FAILING

    assert findings(offline) == findings(live)
    assert {f for f in findings(offline) if f[2] is not Status.PASS} == non_pass(DRIFTED)
