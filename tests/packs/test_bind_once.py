"""Bind once: what an integration audits is resolved from its pack's parameter types, carried with the
report, and read from there by drift, metrics and the least-privilege checks, never by parameter name."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from auditor.drift.diff import ChangeKind, diff
from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.metrics import AuditMetrics
from auditor.model.facts import Binding, Grant, SecurableType, Snapshot, Watch
from auditor.model.findings import Report
from auditor.model.stats import CollectionStats
from auditor.packs.loader import PackSet, bundled_rules, load_packs
from tests.rules.documented import DL, NOW, WAREHOUSE, change, healthy

RENAMED = "renamed-destination"


@pytest.fixture
def packs(tmp_path: Path) -> PackSet:
    """The Delta Lake destination pack, its principal parameter called ``writer`` instead of ``client_id``."""
    original = bundled_rules() / "delta-lake-destination.yaml"
    text = original.read_text(encoding="utf-8").replace("client_id", "writer")
    text = text.replace("pack: delta-lake-destination", f"pack: {RENAMED}", 1)
    (tmp_path / f"{RENAMED}.yaml").write_text(text, encoding="utf-8")
    return load_packs([tmp_path], kinds=builtin_kind_args())


@pytest.fixture
def snapshot() -> Snapshot:
    """The documented workspace audited only through the renamed pack (and the least-privilege pack)."""
    binding = Binding(pack=RENAMED, params={"writer": DL, "warehouse_id": WAREHOUSE, "catalog": "segment_events"})
    least = Binding(pack="segment-least-privilege", params={})
    return change(healthy(), integrations=(binding, least), watch=Watch())


@pytest.fixture
def report(snapshot: Snapshot, packs: PackSet) -> Report:
    return evaluate(snapshot, packs, now=NOW)


def test_the_report_carries_what_each_binding_audits(report: Report) -> None:
    (audited,) = [a for a in report.audited if a.instance == RENAMED]

    assert audited.principals == (DL,)
    assert "CATALOG:segment_events" in audited.securables
    assert audited.warehouses == (WAREHOUSE,)
    assert report.audited_principals() == (DL,)


def test_least_privilege_checks_audit_the_renamed_principal(report: Report) -> None:
    assert [f.subject for f in report.findings if f.rule_id == "X-1"] == [f"principal:{DL}"]


def test_the_renamed_principal_is_exported(report: Report) -> None:
    registry = CollectorRegistry()
    AuditMetrics(registry, version="test").publish_cycle(
        report.target, report, CollectionStats(), finished_at=NOW, succeeded=True
    )
    labels = {"target": report.target, "pack": RENAMED, "credential": "oauth_secret"}

    assert registry.get_sample_value("grants_auditor_credential_expiry_timestamp_seconds", labels) is not None


def test_the_renamed_principal_is_watched_for_drift(snapshot: Snapshot, report: Report) -> None:
    leak = Grant(principal=DL, privilege="SELECT", securable_type=SecurableType.CATALOG, securable_name="elsewhere")
    leaked = change(snapshot, grants=(*snapshot.grants, leak), collected_at=NOW)

    changes = diff(snapshot, leaked, report.audited)

    assert [(c.kind, c.principal, c.subject) for c in changes] == [(ChangeKind.GRANT_ADDED, DL, "CATALOG:elsewhere")]


def test_without_what_the_report_carries_the_grant_is_not_watched(snapshot: Snapshot) -> None:
    """The control: drift does not find the renamed principal by itself (no parameter-name guessing)."""
    leak = Grant(principal=DL, privilege="SELECT", securable_type=SecurableType.CATALOG, securable_name="elsewhere")

    assert diff(snapshot, change(snapshot, grants=(*snapshot.grants, leak))) == []
