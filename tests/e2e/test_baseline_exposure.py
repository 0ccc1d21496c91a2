"""Approved baseline exposure never pages: the daemon on the `drifted` sandbox, real clients and packs.

X-2 (critical) fails for the contractor's SELECT on segment_profiles. Once an operator approves the baseline
that holds it, the finding is `suppressed` (reason: the approval), so no `fail` series feeds the paging
alert; a new outsider's grant afterwards fails again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from auditor.daemon import Daemon
from auditor.drift.baseline import approve_baseline
from auditor.model.findings import Finding, Status
from auditor.settings import load_settings
from auditor_sandbox import Sandbox
from auditor_sandbox.demo import execute_sql

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TARGET = "sandbox"
EXPOSED = "CATALOG:segment_profiles"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, Sandbox]]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        config = tmp_path / "config.yaml"
        settings = {
            **sandbox.config_dict(),
            "state": {"path": str(tmp_path / "state.sqlite")},
            "server": {"bind": "127.0.0.1", "port": 0},
        }
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        daemon = Daemon(load_settings(config), config_path=config, grace_seconds=5)
        try:
            yield daemon, sandbox
        finally:
            daemon.stop(grace_seconds=0)


def x2(daemon: Daemon) -> Finding:
    assert daemon.run_target_cycle(TARGET) == "completed"
    report = daemon.views[TARGET].report
    assert report is not None
    (finding,) = [f for f in report.findings if f.rule_id == "X-2" and f.subject == EXPOSED]
    return finding


def failing_series(daemon: Daemon) -> set[tuple[str, str]]:
    return {
        (sample.labels["rule"], sample.labels["subject"])
        for family in daemon.registry.collect()
        for sample in family.samples
        if sample.name == "grants_auditor_finding_status" and sample.labels["state"] == "fail"
    }


def test_exposure_in_the_approved_baseline_is_suppressed_and_new_exposure_fails(
    daemon: tuple[Daemon, Sandbox],
) -> None:
    auditor, sandbox = daemon
    assert x2(auditor).status is Status.FAIL
    assert ("X-2", EXPOSED) in failing_series(auditor)

    approve_baseline(auditor.store, TARGET, approved_by="security-lead")
    accepted = x2(auditor)

    assert accepted.status is Status.SUPPRESSED and accepted.suppression is not None
    assert "security-lead" in accepted.suppression.reason and accepted.suppression.status is Status.FAIL
    assert ("X-2", EXPOSED) not in failing_series(auditor)
    assert "DL-5" in {rule for rule, _ in failing_series(auditor)}  # a missing permission still pages

    execute_sql(
        sandbox.host,
        sandbox.http_path or "",
        sandbox.auditor_token,
        "GRANT SELECT ON CATALOG segment_profiles TO `analyst@example.com`",
    )

    assert x2(auditor).status is Status.FAIL
