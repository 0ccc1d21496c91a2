"""What the daemon exports for alerting: suppressed findings never feed the paging series, and drift that is
undone closes instead of opening a second change. Real daemon, store, metrics; the cycle runner is local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.daemon import Daemon
from auditor.model.findings import Status
from auditor.settings import TargetSettings
from auditor.web import findings_document
from tests.daemon.test_daemon import Result, daemons, make, result_for, target_dict, write_config

__all__ = ["daemons"]  # the fixture, shared with test_daemon.py


def series(daemon: Daemon, name: str) -> list[dict[str, str]]:
    return [
        dict(sample.labels)
        for family in daemon.registry.collect()
        for sample in family.samples
        if sample.name == name and sample.value == 1
    ]


def test_a_suppressed_failure_is_exported_as_suppressed_and_never_as_failing(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    config = write_config(
        tmp_path,
        target_dict("prod"),
        suppressions=[
            {
                "rule": "DL-3",
                "subject": "CATALOG:segment_*",
                "reason": "migration in progress",
                "expires": "2100-01-01",
                "ticket": "SEC-9",
            }
        ],
    )

    def runner(target: TargetSettings, packs: Any) -> Result:
        return result_for(target, granted=False, status=Status.FAIL)

    daemon = make(daemons, config, runner)
    assert daemon.run_target_cycle("prod") == "completed"

    report = daemon.views["prod"].report
    assert report is not None
    (dl3,) = [f for f in report.findings if f.rule_id == "DL-3"]
    assert dl3.status is Status.SUPPRESSED and dl3.suppression is not None and dl3.suppression.ticket == "SEC-9"
    assert [f.status for f in report.findings if f.rule_id == "S-1"] == [Status.PASS]
    (served,) = [f for f in findings_document(daemon.views)["targets"]["prod"]["findings"] if f["rule"] == "DL-3"]
    assert served["status"] == "suppressed" and served["suppression"]["reason"] == "migration in progress"
    assert daemon.store.report(daemon.store.latest_cycle("prod").id).findings == report.findings  # type: ignore[union-attr]

    failing = series(daemon, "grants_auditor_finding_status")
    assert [(s["rule"], s["state"], s["severity"], s["subject"]) for s in failing] == [
        ("DL-3", "suppressed", "high", "CATALOG:segment_events")
    ]
    assert {(s["rule"], s["state"], s["severity"]) for s in series(daemon, "grants_auditor_rule_status")} == {
        ("DL-3", "suppressed", "high"),
        ("S-1", "pass", "low"),
    }


def test_drift_that_is_undone_closes_instead_of_opening_another_change(tmp_path: Path, daemons: list[Daemon]) -> None:
    config = write_config(tmp_path, target_dict("prod"), drift={"debounce_cycles": 2})
    granted = {"value": True}
    daemon = make(daemons, config, lambda target, packs: result_for(target, granted=granted["value"]))

    def cycles(n: int) -> None:
        for _ in range(n):
            assert daemon.run_target_cycle("prod") == "completed"

    cycles(2)  # the scope's baseline is established once read in debounce_cycles cycles
    granted["value"] = False  # revoked
    cycles(1)
    assert series(daemon, "grants_auditor_drift_open") == []  # one cycle is a blip so far
    cycles(1)
    (opened,) = series(daemon, "grants_auditor_drift_open")
    assert (opened["kind"], opened["subject"], opened["lost"]) == (
        "grant_removed",
        "CATALOG:segment_events",
        "ALL_PRIVILEGES",
    )
    assert opened["principal"] == "5e9e0003-0000-4000-8000-000000000003"

    granted["value"] = True  # granted back: the state is the first confirmed one again
    cycles(2)

    assert series(daemon, "grants_auditor_drift_open") == []
    counted = {
        kind: daemon.registry.get_sample_value("grants_auditor_drift_events_total", {"target": "prod", "kind": kind})
        for kind in ("grant_removed", "exposure")  # the fake report audits no one: a re-grant counts as exposure
    }
    assert counted == {"grant_removed": 1.0, "exposure": 1.0}  # both events are still counted
    assert (
        daemon.registry.get_sample_value("grants_auditor_drift_open_changes", {"target": "prod", "kind": "exposure"})
        == 0.0
    )


def test_with_an_approved_baseline_drift_is_measured_from_it(tmp_path: Path, daemons: list[Daemon]) -> None:
    config = write_config(tmp_path, target_dict("prod"), drift={"debounce_cycles": 1})
    granted = {"value": False}
    daemon = make(daemons, config, lambda target, packs: result_for(target, granted=granted["value"]))
    assert daemon.run_target_cycle("prod") == "completed"
    latest = daemon.store.latest_snapshot("prod")
    assert latest is not None
    daemon.store.approve_baseline("prod", latest, approved_by="alice", source="latest")  # approved without the grant

    granted["value"] = True
    assert daemon.run_target_cycle("prod") == "completed"
    (opened,) = series(daemon, "grants_auditor_drift_open")
    assert (opened["kind"], opened["gained"]) == ("exposure", "ALL_PRIVILEGES")  # the fake report audits no one

    granted["value"] = False  # back to the approved state
    assert daemon.run_target_cycle("prod") == "completed"
    assert series(daemon, "grants_auditor_drift_open") == []


def test_a_restart_keeps_exporting_what_fails_and_what_drifted_until_its_first_cycle(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    config = write_config(tmp_path, target_dict("prod", interval=3600), drift={"debounce_cycles": 1})
    granted = {"value": True}

    def runner(target: TargetSettings, packs: Any) -> Result:
        return result_for(target, granted=granted["value"], status=Status.PASS if granted["value"] else Status.FAIL)

    first = make(daemons, config, runner)
    assert first.run_target_cycle("prod") == "completed"
    granted["value"] = False
    assert first.run_target_cycle("prod") == "completed"
    before = (series(first, "grants_auditor_finding_status"), series(first, "grants_auditor_drift_open"))
    first.stop(grace_seconds=0)

    second = make(daemons, config, runner)  # not started: no cycle has run in this process

    assert before[0] and before[1]
    assert (series(second, "grants_auditor_finding_status"), series(second, "grants_auditor_drift_open")) == before
    cycles = second.registry.get_sample_value("grants_auditor_cycles_total", {"target": "prod", "outcome": "success"})
    assert cycles == 0.0
