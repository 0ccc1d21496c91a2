"""A planted secret never reaches a snapshot, a finding, a report in any format, or the metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.metrics import AuditMetrics
from auditor.outputs.formats import FORMATS, render
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
AWS_CANARY = "aws-canary-0123456789-never-print-me"


def test_no_output_carries_a_credential() -> None:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        config = sandbox.config_dict(auth="oauth-m2m")
        config["targets"][0]["aws"]["secret_access_key"] = AWS_CANARY  # moto accepts any secret
        target = Settings.model_validate(config).targets[0]
        result = run_cycle(target, load_packs(kinds=builtin_kind_args()), now=NOW)
        secrets = [AWS_CANARY, sandbox.auditor_client_secret, sandbox.auditor_token]

    registry = CollectorRegistry()
    AuditMetrics(registry, version="test").publish_cycle(
        target.name, result.report, result.stats, finished_at=NOW, succeeded=True
    )
    outputs = {
        "snapshot": result.snapshot.to_json(),
        "stats": result.stats.model_dump_json(),
        "metrics": generate_latest(registry).decode(),
        **{f"report:{name}": render(result.report, name) for name in FORMATS},
    }
    assert result.report.findings  # the cycle really ran
    for name, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"{name} contains a secret"
