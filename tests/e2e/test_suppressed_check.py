"""`check --config` on the `drifted` sandbox with suppressions: the accepted findings show as `suppressed` in
every format, the rest keep failing, and a suppression of the only failures turns the exit code to 0."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor.outputs.formats import FORMATS
from auditor_sandbox import Sandbox
from tests.golden import DRIFTED, non_pass

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ACCEPT_EXPOSURE = {
    "rule": "X-2",
    "subject": "CATALOG:segment_profiles",
    "reason": "a contractor reads profiles until the migration ends",
    "expires": "2027-01-31",
    "ticket": "SEC-42",
}


@pytest.fixture(scope="module")
def drifted() -> Iterator[Sandbox]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        yield sandbox


def config(sandbox: Sandbox, tmp_path: Path, *suppressions: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**sandbox.config_dict(), "suppressions": list(suppressions)}), encoding="utf-8")
    return path


def check(path: Path, fmt: str, out: Path) -> int:
    return main(["check", "--config", str(path), "--now", NOW.isoformat(), "--format", fmt, "--output", str(out)])


def test_a_suppressed_exposure_is_suppressed_in_every_format(drifted: Sandbox, tmp_path: Path) -> None:
    path = config(drifted, tmp_path, ACCEPT_EXPOSURE)
    outputs: dict[str, str] = {}
    for fmt in sorted(FORMATS):
        out = tmp_path / f"report.{fmt}"
        assert check(path, fmt, out) == ExitCode.FAILING  # the other five problems still fail
        outputs[fmt] = out.read_text(encoding="utf-8")

    report = json.loads(outputs["json"])
    states = {(f["rule_id"], f["subject"]): f for f in report["findings"]}
    x2 = states[("X-2", "CATALOG:segment_profiles")]
    assert x2["status"] == "suppressed" and x2["suppression"]["status"] == "fail"
    assert x2["suppression"]["ticket"] == "SEC-42"
    broken = {(rule, subject, status.value) for rule, subject, status in non_pass(DRIFTED)}
    still = {(f["rule_id"], f["subject"], f["status"]) for f in report["findings"] if f["status"] in ("fail", "warn")}
    assert still == broken - {("X-2", "CATALOG:segment_profiles", "fail")}
    assert [f["status"] for f in report["findings"] if f["rule_id"] == "S-1"] == ["pass"]
    for fmt, text in outputs.items():
        assert "suppressed" in text.lower(), fmt
        if fmt != "json":
            assert "SEC-42" in text, fmt


def test_suppressing_every_failure_passes_the_check(drifted: Sandbox, tmp_path: Path) -> None:
    failing = sorted({(rule, subject) for rule, subject, _ in non_pass(DRIFTED)})
    accepted = [{**ACCEPT_EXPOSURE, "rule": rule, "subject": subject} for rule, subject in failing]
    out = tmp_path / "report.json"

    assert check(config(drifted, tmp_path, *accepted), "json", out) == ExitCode.OK

    summary = json.loads(out.read_text(encoding="utf-8"))["summary"]
    assert summary["fail"] == 0 and summary["suppressed"] == len(failing)
