"""The Prometheus alert rules: valid, unit-tested with promtool, and consistent with metrics and runbook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from auditor.drift.diff import Change, ChangeKind
from auditor.metrics import AuditMetrics
from auditor.model.findings import Finding, Report, Severity, Status
from auditor.model.stats import CollectionStats

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "config" / "prometheus" / "grants-auditor.rules.yaml"
RULE_TESTS = Path(__file__).with_name("alerts_test.yaml")
RUNBOOK = ROOT / "docs" / "runbook.md"
EXPECTED_ALERTS = {
    "GrantsAuditorRuleFailing",
    "GrantsAuditorDrift",
    "GrantsAuditorSuppressionReview",
    "GrantsAuditorAuditStale",
    "GrantsAuditorCollectionErrors",
    "GrantsAuditorCredentialExpiringSoon",
    "GrantsAuditorCredentialExpired",
    "GrantsAuditorDown",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("promtool is required in CI: apt-get install prometheus")
    pytest.skip("promtool not installed (apt-get install prometheus); with CI set this fails instead")


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_rules_pass_promtool_check_with_every_lint(promtool: str) -> None:
    result = run(promtool, "check", "rules", "--lint=all", "--lint-fatal", str(RULES))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_alert_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", str(RULE_TESTS))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_both_firing_and_quiet() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}

    assert {rule["alert"] for rule in alert_rules()} == EXPECTED_ALERTS
    assert firing == EXPECTED_ALERTS
    assert quiet == EXPECTED_ALERTS


RUNBOOK_BASE = "{{ with $externalLabels.runbook_base }}{{ . }}{{ else }}docs/runbook.md{{ end }}"
ROUTED_SEVERITIES = {s.value for s in Severity}


def test_alerts_have_severity_annotations_and_an_absolute_runbook_link() -> None:
    anchors = {
        _github_anchor(line) for line in RUNBOOK.read_text(encoding="utf-8").splitlines() if line.startswith("#")
    }

    for rule in alert_rules():
        if rule["alert"] == "GrantsAuditorRuleFailing":  # the series carries the rule's own severity
            assert "labels" not in rule and "finding_status" in rule["expr"]
        else:
            assert rule["labels"]["severity"] in ROUTED_SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and "{{ $labels" in annotations["description"], rule["alert"]
        # absolute from Prometheus's external label runbook_base (promtool 2.42 cannot set external labels in
        # unit tests, so alerts_test.yaml sees the repository-path fallback)
        base, _, anchor = annotations["runbook_url"].partition("#")
        assert base == RUNBOOK_BASE and anchor in anchors, rule["alert"]
        assert anchor == rule["alert"].lower()


def test_the_failing_rule_alert_outlasts_the_debounce_and_pages_within_five_minutes() -> None:
    """The arithmetic of docs/runbook.md#time-to-page, from the shipped defaults (alerts_test.yaml proves it)."""
    from auditor.settings import DriftSettings, Schedule

    (rule,) = [r for r in alert_rules() if r["alert"] == "GrantsAuditorRuleFailing"]
    (group,) = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    interval = Schedule().interval_seconds
    assert interval is not None
    debounce = DriftSettings().debounce_cycles * interval
    scrape = evaluation = _seconds(group["interval"])
    for_seconds = _seconds(rule["for"])
    collection, group_wait = 45, 10  # a slow collection; the pager route's group_wait (docs/runbook.md)

    assert for_seconds > debounce + scrape  # a blip seen by fewer cycles than the debounce never fires
    assert interval + collection + scrape + evaluation + for_seconds + group_wait <= 300


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def test_rules_only_use_metrics_the_auditor_exposes() -> None:
    registry = CollectorRegistry()
    metrics = AuditMetrics(registry, version="test")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    finding = Finding(
        rule_id="RETL-1",
        pack="reverse-etl-source",
        integration="reverse-etl-source",
        target="prod",
        status=Status.FAIL,
        severity=Severity.HIGH,
        title="t",
    )
    token = Finding(
        rule_id="RETL-6",
        pack="reverse-etl-source",
        integration="reverse-etl-source",
        target="prod",
        status=Status.PASS,
        severity=Severity.HIGH,
        title="t",
        subject="pat:bot@customer.example",
        expires_at=now.replace(year=2026),
    )
    metrics.publish_cycle(
        "prod",
        Report(target="prod", evaluated_at=now, snapshot_collected_at=now, findings=(finding, token)),
        CollectionStats(duration_seconds=1.0),
        finished_at=now,
        succeeded=True,
    )
    metrics.publish_drift_open(
        "prod", [Change(kind=ChangeKind.GRANT_REMOVED, subject="CATALOG:main", principal="sp", lost=("SELECT",))]
    )
    exposed = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }

    used = {name for rule in alert_rules() for name in re.findall(r"\bgrants_auditor_\w+", rule["expr"])}

    assert used, "the rules should reference the auditor's metrics"
    assert used <= exposed


def _github_anchor(heading: str) -> str:
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
