"""The metrics collector: data in (reports, snapshots, stats), exposition out."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.parser import text_string_to_metric_families

from auditor.drift.diff import CHANGE_KINDS, Change, ChangeKind
from auditor.evaluate.engine import evaluate
from auditor.evaluate.kinds.credentials import relevant_expiry
from auditor.evaluate.registry import builtin_kind_args
from auditor.metrics import (
    CYCLE_OUTCOMES,
    DRIFT_KINDS,
    MAX_DRIFT_SERIES,
    AuditMetrics,
    credential_expiries,
    rule_states,
)
from auditor.model.facts import (
    Binding,
    FactFamily,
    OAuthSecret,
    ReadState,
    ReadStatus,
    Snapshot,
    Token,
)
from auditor.model.findings import STATUSES, AuditedBinding, Finding, FindingSuppression, Report, Severity, Status
from auditor.model.stats import API_FAMILIES, CollectionStats
from auditor.packs.loader import load_packs

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
USER_EMAIL = "retl-bot@customer.example"
CLIENT_ID = "6f1c2a3b-0d4e-4f5a-9b8c-7d6e5f4a3b2c"
TABLE = "main.sales.orders"
PAT_VALUE = "dapi0123456789abcdef0123456789abcdef"
SECRET_ID = "secret-4242"
TOKEN_ID = "token-777"
RETL = Binding(pack="reverse-etl-source", name="retl", params={"principal": USER_EMAIL, "warehouse_id": "wh1"})
GRAPH = Binding(pack="data-graph", params={"client_id": CLIENT_ID})
ALL_READ = tuple(ReadStatus(family=family, state=ReadState.READ) for family in FactFamily)


def finding(
    rule: str,
    status: Status,
    *,
    integration: str = "retl",
    severity: Severity = Severity.HIGH,
    subject: str = f"TABLE:{TABLE}",
) -> Finding:
    return Finding(
        rule_id=rule,
        pack="reverse-etl-source" if integration == "retl" else integration,
        integration=integration,
        target="prod",
        status=status,
        severity=severity,
        title=f"{rule} title",
        subject=subject,
        message=f"{USER_EMAIL} lacks SELECT on {TABLE}",
        found=PAT_VALUE,
        suppression=FindingSuppression(reason=PAT_VALUE, expires=date(2030, 1, 1), pattern="rule=*", status=Status.FAIL)
        if status is Status.SUPPRESSED
        else None,
    )


def credential(
    kind: str,
    expires_at: datetime | None,
    *,
    integration: str = "retl",
    principal: str = USER_EMAIL,
    status: Status = Status.PASS,
) -> Finding:
    """A credential-expiry finding as the credential kinds state it."""
    return finding(
        "RETL-6" if kind == "pat" else "DG-9", status, integration=integration, subject=f"{kind}:{principal}"
    ).model_copy(update={"expires_at": expires_at})


def report(*findings: Finding, target: str = "prod") -> Report:
    return Report(target=target, evaluated_at=NOW, snapshot_collected_at=NOW, findings=findings)


def snapshot(target: str = "prod", **facts: Any) -> Snapshot:
    facts.setdefault("reads", ALL_READ)
    return Snapshot(target=target, collected_at=NOW, integrations=(RETL, GRAPH), **facts)


def stats(**values: Any) -> CollectionStats:
    return CollectionStats(**values)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> AuditMetrics:
    return AuditMetrics(registry, version="9.9.9", clock=lambda: 1000.0)


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called ``name``, keyed by its sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def rule_status(registry: CollectorRegistry) -> dict[tuple[str, str, str], dict[str, float]]:
    """``{(target, pack, rule): {state: value}}`` from the state set."""
    grouped: dict[tuple[str, str, str], dict[str, float]] = {}
    for labels, value in samples(registry, "grants_auditor_rule_status").items():
        label = dict(labels)
        grouped.setdefault((label["target"], label["pack"], label["rule"]), {})[label["state"]] = value
    return grouped


def publish(metrics: AuditMetrics, rep: Report, **kwargs: Any) -> None:
    kwargs.setdefault("finished_at", NOW)
    kwargs.setdefault("succeeded", True)
    metrics.publish_cycle(rep.target, rep, kwargs.pop("stats", stats()), **kwargs)


# ---- rule status -------------------------------------------------------------------------------


def test_state_set_emits_every_state_with_exactly_one_set(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    publish(
        metrics,
        report(
            finding("RETL-1", Status.PASS, subject="SCHEMA:main.a"),
            finding("RETL-1", Status.FAIL, subject="SCHEMA:main.b"),
            finding("RETL-2", Status.WARN),
            finding("RETL-3", Status.ERROR),
            finding("DG-1", Status.PASS, integration="data-graph"),
        ),
    )

    states = rule_status(registry)
    assert set(states) == {
        ("prod", "retl", "RETL-1"),
        ("prod", "retl", "RETL-2"),
        ("prod", "retl", "RETL-3"),
        ("prod", "data-graph", "DG-1"),
    }
    for values in states.values():
        assert set(values) == {s.value for s in STATUSES}
        assert sorted(values.values()) == [0] * (len(STATUSES) - 1) + [1]
    current = {key: next(s for s, v in values.items() if v == 1) for key, values in states.items()}
    assert current == {
        ("prod", "retl", "RETL-1"): "fail",
        ("prod", "retl", "RETL-2"): "warn",
        ("prod", "retl", "RETL-3"): "error",
        ("prod", "data-graph", "DG-1"): "pass",
    }


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=6))
def test_a_rule_takes_its_worst_status(statuses: list[Status]) -> None:
    findings = [finding("RETL-1", status, subject=f"SCHEMA:main.s{i}") for i, status in enumerate(statuses)]
    expected = next(
        s for s in (Status.FAIL, Status.ERROR, Status.WARN, Status.SUPPRESSED, Status.PASS) if s in statuses
    )

    (state,) = rule_states(report(*findings))

    assert (state.pack, state.rule, state.status) == ("retl", "RETL-1", expected)


def test_rule_status_carries_the_rule_severity(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    publish(
        metrics,
        report(
            finding("RETL-1", Status.FAIL, severity=Severity.CRITICAL),
            finding("RETL-2", Status.PASS, severity=Severity.LOW),
        ),
    )

    severities = {
        (dict(labels)["rule"], dict(labels)["state"]): dict(labels)["severity"]
        for labels in samples(registry, "grants_auditor_rule_status")
    }

    assert {rule: sev for (rule, _), sev in severities.items()} == {"RETL-1": "critical", "RETL-2": "low"}
    assert {state for _, state in severities} == {s.value for s in STATUSES}


def test_finding_status_names_each_finding_that_does_not_pass(
    metrics: AuditMetrics, registry: CollectorRegistry
) -> None:
    rep = report(
        finding("RETL-1", Status.FAIL, subject="CATALOG:main", severity=Severity.CRITICAL),
        finding("RETL-1", Status.PASS, subject="CATALOG:other"),
        finding("RETL-2", Status.SUPPRESSED, subject=f"principal:{CLIENT_ID}"),
    )
    rep = rep.model_copy(
        update={
            "findings": tuple(f.model_copy(update={"requirements": ("RETL-1",)}) for f in rep.findings),
            "audited": (AuditedBinding(instance="retl", pack="reverse-etl-source", principals=(USER_EMAIL,)),),
        }
    )
    publish(metrics, rep)

    found = {
        tuple(sorted(dict(labels).items())): value
        for labels, value in samples(registry, "grants_auditor_finding_status").items()
    }

    assert found == {
        tuple(
            sorted(
                {
                    "target": "prod",
                    "pack": "retl",
                    "rule": "RETL-1",
                    "severity": "critical",
                    "requirement": "RETL-1",
                    "subject": "CATALOG:main",
                    "principal": USER_EMAIL,
                    "state": "fail",
                }.items()
            )
        ): 1,
        tuple(
            sorted(
                {
                    "target": "prod",
                    "pack": "retl",
                    "rule": "RETL-2",
                    "severity": "high",
                    "requirement": "RETL-1",
                    "subject": f"principal:{CLIENT_ID}",
                    "principal": CLIENT_ID,
                    "state": "suppressed",
                }.items()
            )
        ): 1,
    }


def test_open_drift_is_replaced_each_cycle_and_bounded(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    many = [
        Change(kind=ChangeKind.EXPOSURE, subject=f"TABLE:main.s.t{i}", principal="outsider", gained=("SELECT",))
        for i in range(MAX_DRIFT_SERIES + 5)
    ]
    metrics.publish_drift_open("prod", many)
    assert len(samples(registry, "grants_auditor_drift_open")) == MAX_DRIFT_SERIES
    counts = {dict(k)["kind"]: v for k, v in samples(registry, "grants_auditor_drift_open_changes").items()}
    assert counts["exposure"] == MAX_DRIFT_SERIES + 5 and counts["grant_removed"] == 0

    metrics.publish_drift_open("prod", [])  # the change was undone: its series goes

    assert samples(registry, "grants_auditor_drift_open") == {}


def test_a_new_report_replaces_the_previous_rule_states(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    publish(metrics, report(finding("RETL-1", Status.FAIL), finding("RETL-9", Status.PASS)))
    publish(metrics, report(finding("RETL-1", Status.PASS)))

    states = rule_status(registry)
    assert set(states) == {("prod", "retl", "RETL-1")}
    assert states[("prod", "retl", "RETL-1")]["pass"] == 1


def test_rules_per_severity_and_status_are_all_present_and_count_rules(
    metrics: AuditMetrics, registry: CollectorRegistry
) -> None:
    publish(
        metrics,
        report(
            finding("RETL-1", Status.FAIL, severity=Severity.CRITICAL, subject="a"),
            finding("RETL-1", Status.FAIL, severity=Severity.CRITICAL, subject="b"),  # one rule, two findings
            finding("RETL-2", Status.ERROR, severity=Severity.HIGH),
            finding("RETL-3", Status.PASS, severity=Severity.HIGH),
            finding("DG-1", Status.FAIL, integration="data-graph", severity=Severity.LOW),
        ),
    )

    counts = {
        (dict(labels)["severity"], dict(labels)["status"]): value
        for labels, value in samples(registry, "grants_auditor_rules").items()
    }
    assert len(counts) == len(Severity) * len(STATUSES)
    nonzero = {key: value for key, value in counts.items() if value}
    assert nonzero == {("critical", "fail"): 1, ("high", "error"): 1, ("high", "pass"): 1, ("low", "fail"): 1}


# ---- cycles, timings, counters -----------------------------------------------------------------


def test_cycles_counters_and_last_success(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    later = NOW + timedelta(minutes=5)
    publish(
        metrics,
        report(),
        stats=stats(requests={"scim": 3, "sql": 2}, statements=4, errors={"iam": 1}, duration_seconds=2.5),
    )
    publish(
        metrics,
        report(),
        finished_at=later,
        succeeded=False,
        stats=stats(requests={"scim": 1, "future-api": 2}, statements=1, duration_seconds=7.0),
    )
    publish(metrics, report(), succeeded=False, stats=stats(deadline_exceeded=True, duration_seconds=120.0))
    metrics.record_cycle_failure("prod", "deadline")
    metrics.record_cycle_failure("prod", "RuntimeError: anything at all")

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"target": "prod", **labels})

    assert value("grants_auditor_last_success_timestamp_seconds") == NOW.timestamp()  # the failed cycle
    assert value("grants_auditor_cycle_duration_seconds") == 120.0
    outcomes = {o: value("grants_auditor_cycles_total", outcome=o) for o in CYCLE_OUTCOMES}
    assert outcomes == {"success": 1, "failed": 1, "error": 1, "timeout": 2}
    assert value("grants_auditor_api_requests_total", api="scim") == 4
    assert value("grants_auditor_api_requests_total", api="sql") == 2
    assert value("grants_auditor_api_requests_total", api="other") == 2  # unknown families are folded
    assert value("grants_auditor_api_requests_total", api="future-api") is None
    assert value("grants_auditor_api_errors_total", api="iam") == 1
    assert value("grants_auditor_sql_statements_total") == 5
    for api in API_FAMILIES:
        assert value("grants_auditor_api_requests_total", api=api) is not None
        assert value("grants_auditor_api_errors_total", api=api) is not None


def test_a_target_that_never_published_only_has_its_failure_counts(
    metrics: AuditMetrics, registry: CollectorRegistry
) -> None:
    metrics.record_cycle_failure("stage", "timeout")

    assert registry.get_sample_value("grants_auditor_cycles_total", {"target": "stage", "outcome": "timeout"}) == 1
    assert registry.get_sample_value("grants_auditor_target_configured_timestamp_seconds", {"target": "stage"}) == 1000
    assert registry.get_sample_value("grants_auditor_last_success_timestamp_seconds", {"target": "stage"}) is None
    assert registry.get_sample_value("grants_auditor_cycle_duration_seconds", {"target": "stage"}) is None
    assert rule_status(registry) == {}


def test_drift_kinds_are_precreated_and_counted(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    publish(metrics, report())
    metrics.record_drift("prod", "grant_added")
    metrics.record_drift("prod", "exposure", count=3)

    drift = {
        dict(labels)["kind"]: value for labels, value in samples(registry, "grants_auditor_drift_events_total").items()
    }
    assert drift == {**dict.fromkeys(DRIFT_KINDS, 0.0), "grant_added": 1, "exposure": 3}
    with pytest.raises(ValueError, match="unknown drift kind"):
        metrics.record_drift("prod", "someone-was-here")


def test_drift_kinds_match_the_drift_detector(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    for kind in CHANGE_KINDS:
        metrics.record_drift("prod", kind)  # the detector's enum members are accepted as they are

    assert set(DRIFT_KINDS) == {kind.value for kind in CHANGE_KINDS}
    assert {
        dict(labels)["kind"]: v for labels, v in samples(registry, "grants_auditor_drift_events_total").items()
    } == (dict.fromkeys(DRIFT_KINDS, 1.0))


def test_forget_target_drops_only_that_target(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    publish(metrics, report(finding("RETL-1", Status.FAIL)))
    publish(metrics, report(finding("RETL-1", Status.PASS, subject="x"), target="stage"))
    metrics.record_drift("stage", "grant_removed")

    metrics.forget_target("stage")
    metrics.forget_target("never-known")

    text = generate_latest(registry).decode()
    assert 'target="stage"' not in text
    assert set(rule_status(registry)) == {("prod", "retl", "RETL-1")}


def test_declare_targets_precreates_series_and_prunes_removed_bindings(
    metrics: AuditMetrics, registry: CollectorRegistry
) -> None:
    publish(
        metrics,
        report(
            finding("RETL-1", Status.FAIL),
            finding("DG-1", Status.PASS, integration="data-graph"),
            credential("pat", NOW + timedelta(days=3)),
        ),
    )

    metrics.declare_targets(
        {
            "prod": [("data-graph", [("DG-1", "high")])],  # the retl binding was removed on reload
            "new": [("retl", [("RETL-1", "high")])],
        }
    )

    assert set(rule_status(registry)) == {("prod", "data-graph", "DG-1")}
    assert samples(registry, "grants_auditor_credential_expiry_timestamp_seconds") == {}
    new = {"target": "new"}
    assert registry.get_sample_value("grants_auditor_target_configured_timestamp_seconds", new) == 1000
    assert registry.get_sample_value("grants_auditor_cycles_total", {**new, "outcome": "error"}) == 0
    assert registry.get_sample_value("grants_auditor_drift_events_total", {**new, "kind": "exposure"}) == 0
    assert registry.get_sample_value("grants_auditor_rules", {**new, "severity": "high", "status": "fail"}) == 0
    assert registry.get_sample_value("grants_auditor_last_success_timestamp_seconds", new) is None


# ---- credential expiry -------------------------------------------------------------------------


def test_credential_expiry_is_read_from_the_report() -> None:
    rep = report(
        credential("pat", NOW + timedelta(days=10)),
        credential("oauth_secret", NOW + timedelta(days=20), integration="data-graph", principal=CLIENT_ID),
        credential("oauth_secret", None, integration="profiles-sync"),  # never expires: absent
        credential("pat", None, integration="stale", status=Status.ERROR),  # unread: kept from before
        finding("RETL-1", Status.FAIL),
    )

    assert credential_expiries(rep) == (
        {("retl", "pat"): NOW + timedelta(days=10), ("data-graph", "oauth_secret"): NOW + timedelta(days=20)},
        frozenset({("stale", "pat")}),
    )


def test_the_credential_kind_states_the_expiry_that_matters() -> None:
    snap = snapshot(
        tokens=(
            Token(token_id="t1", owner=USER_EMAIL.upper(), expiry_time=NOW + timedelta(days=30)),
            Token(token_id="t2", owner=USER_EMAIL, expiry_time=NOW + timedelta(days=10)),
            Token(token_id="t3", owner=USER_EMAIL, expiry_time=NOW - timedelta(days=100)),  # old leftover
            Token(token_id="t5", owner="someone-else@customer.example", expiry_time=NOW + timedelta(days=1)),
        ),
        oauth_secrets=(
            OAuthSecret(application_id=CLIENT_ID, secret_id="s1", status="ACTIVE", expire_time=NOW + timedelta(20)),
            OAuthSecret(application_id=CLIENT_ID, secret_id="s2", status="REVOKED", expire_time=NOW + timedelta(2)),
        ),
    )
    bindings = (
        RETL.model_copy(update={"params": {**RETL.params, "model_schemas": ["main.sales"]}}),
        GRAPH.model_copy(update={"params": {**GRAPH.params, "warehouse_id": "wh1", "profiles_sync_catalog": "p"}}),
    )
    rep = evaluate(snap, load_packs(kinds=builtin_kind_args()), now=NOW, bindings=bindings)

    assert credential_expiries(rep)[0] == {
        ("retl", "pat"): NOW + timedelta(days=10),
        ("data-graph", "oauth_secret"): NOW + timedelta(days=20),
    }


@pytest.mark.parametrize(
    ("expiries", "expected"),
    [
        ((NOW + timedelta(days=30), NOW + timedelta(days=10), NOW - timedelta(days=100)), NOW + timedelta(days=10)),
        ((NOW - timedelta(days=9), NOW - timedelta(days=2)), NOW - timedelta(days=2)),  # all expired: the latest
        ((NOW - timedelta(days=2), None), None),  # a never-expiring one is still valid
        ((), None),
    ],
)
def test_relevant_expiry(expiries: tuple[datetime | None, ...], expected: datetime | None) -> None:
    assert relevant_expiry(expiries, NOW) == expected


def test_an_unreadable_credential_keeps_the_last_known_expiry(
    metrics: AuditMetrics, registry: CollectorRegistry
) -> None:
    publish(metrics, report(credential("pat", NOW + timedelta(days=3))))
    publish(metrics, report(credential("pat", None, status=Status.ERROR)))
    labels = {"target": "prod", "pack": "retl", "credential": "pat"}

    assert (
        registry.get_sample_value("grants_auditor_credential_expiry_timestamp_seconds", labels)
        == (NOW + timedelta(days=3)).timestamp()
    )

    publish(metrics, report(credential("pat", None)))  # read again: no expiring token any more
    assert registry.get_sample_value("grants_auditor_credential_expiry_timestamp_seconds", labels) is None


# ---- exposition --------------------------------------------------------------------------------


def populated(metrics: AuditMetrics) -> None:
    """Publish a realistic cycle whose inputs are full of values that must never become labels."""
    rep = report(
        finding("RETL-1", Status.FAIL),
        finding("RETL-2", Status.WARN, subject=f"principal:{USER_EMAIL}"),
        finding("DG-9", Status.ERROR, integration="data-graph", subject=f"sp:{CLIENT_ID}"),
        credential("pat", NOW + timedelta(days=9)),
        credential("oauth_secret", NOW + timedelta(1), integration="data-graph", principal=CLIENT_ID),
    )
    publish(metrics, rep, stats=stats(requests={"sql": 3, "tokens": 1}, statements=3, duration_seconds=1.5))
    metrics.record_drift("prod", "exposure")


NAMING_FAMILIES = {"grants_auditor_finding_status", "grants_auditor_drift_open"}
"""The two families whose labels name subjects and principals (what an alert must say), bounded per target."""


def test_no_label_or_sample_carries_a_secret_and_only_the_naming_series_carry_names(
    metrics: AuditMetrics, registry: CollectorRegistry
) -> None:
    populated(metrics)
    metrics.publish_drift_open(
        "prod",
        [
            Change(kind=ChangeKind.CREDENTIAL_CHANGED, subject=f"credential:pat/{TOKEN_ID}", principal=USER_EMAIL),
            Change(kind=ChangeKind.GRANT_REMOVED, subject=f"TABLE:{TABLE}", principal=USER_EMAIL, lost=("SELECT",)),
        ],
    )
    secrets = {PAT_VALUE, SECRET_ID, TOKEN_ID}
    names = {USER_EMAIL, CLIENT_ID, TABLE, f"TABLE:{TABLE}", "SELECT"}

    families = list(registry.collect())
    label_values = {value for family in families for s in family.samples for value in s.labels.values()}
    plain = {
        value
        for family in families
        if family.name not in NAMING_FAMILIES
        for s in family.samples
        for value in s.labels.values()
    }
    text = generate_latest(registry).decode()

    assert not [value for value in secrets if value.lower() in text.lower()]
    assert not plain & names
    assert {"retl", "data-graph", "RETL-1", "DG-9", "prod", "pat", "oauth_secret"} <= label_values
    assert {USER_EMAIL, f"TABLE:{TABLE}", "credential:pat"} <= label_values  # what the alerts name


def test_build_info_and_no_created_series(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    populated(metrics)
    text = generate_latest(registry).decode()

    assert "_created" not in text
    (build,) = samples(registry, "grants_auditor_build_info").items()
    assert dict(build[0])["version"] == "9.9.9" and build[1] == 1
    names = {family.name for family in text_string_to_metric_families(text)}
    assert all(name.startswith("grants_auditor_") for name in names)


def test_registering_twice_is_rejected(registry: CollectorRegistry) -> None:
    AuditMetrics(registry, version="1")
    with pytest.raises(ValueError, match="Duplicated"):
        AuditMetrics(registry, version="1")


def test_scrapes_always_see_whole_cycles_while_publishing(metrics: AuditMetrics, registry: CollectorRegistry) -> None:
    all_fail = report(*(finding(f"R-{i}", Status.FAIL) for i in range(20)))
    all_pass = report(*(finding(f"R-{i}", Status.PASS) for i in range(20)))
    publish(metrics, all_pass)
    stop = threading.Event()

    def publisher() -> None:
        while not stop.is_set():
            for rep in (all_fail, all_pass):
                publish(metrics, rep)

    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        for _ in range(50):
            states = rule_status(registry)
            current = {next(s for s, v in values.items() if v == 1) for values in states.values()}
            assert len(states) == 20
            assert len(current) == 1  # never half of one cycle and half of another
    finally:
        stop.set()
        thread.join()


# ---- live scrape -------------------------------------------------------------------------------


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def metrics_url(registry: CollectorRegistry) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, make_wsgi_app(registry), _Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("promtool is required in CI: apt-get install prometheus")
    pytest.skip("promtool not installed (apt-get install prometheus); with CI set this fails instead")


def test_live_scrape_passes_promtool_check_metrics(metrics: AuditMetrics, metrics_url: str, promtool: str) -> None:
    populated(metrics)
    metrics.declare_targets({"stage": [("retl", [("RETL-1", "high")])]})

    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        content_type = response.headers["Content-Type"]
        body = response.read()
    lint = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)

    assert content_type.startswith("text/plain; version=0.0.4")
    assert b"grants_auditor_rule_status{" in body
    assert b'target="stage"' in body
    assert (lint.returncode, lint.stdout, lint.stderr) == (0, b"", b"")
