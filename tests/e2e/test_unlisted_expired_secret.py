"""Issue 9 item 8: the service-principal secrets listing may leave expired secrets out (Terraform provider,
`tokens/resource_service_principal_secret.go:124`: "in practice API just doesn't return expired tokens").

When the only secret has expired the listing is empty: the rule fails with "no active secret" and the expiry
metric is exported as 0 (no active credential), which the `GrantsAuditorCredentialExpired` alert pages on
(tests/daemon/alerts_test.yaml).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import yaml

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.metrics import NO_ACTIVE_CREDENTIAL, credential_expiries
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
PROFILES_SYNC = "5e9e0004-0000-4000-8000-000000000004"


def _scenario() -> dict[str, Any]:
    """`healthy`, with the Profiles Sync service principal's only OAuth secret expired yesterday."""
    spec: dict[str, Any] = yaml.safe_load((files("auditor_sandbox") / "scenarios" / "healthy.yaml").read_text())
    for secret in spec["oauth_secrets"]:
        if secret["owner"] == PROFILES_SYNC:
            secret["expires_in_days"] = -1
    spec["name"] = "expired-secret-unlisted"
    return spec


def test_the_only_secret_expired_and_unlisted_fails_and_exports_an_expiry_that_pages() -> None:
    with Sandbox.start(_scenario(), now=NOW) as sandbox:
        listed = sandbox.state.credentials.listed_oauth_secrets(PROFILES_SYNC)
        target = Settings.model_validate(sandbox.config_dict()).targets[0]
        report = run_cycle(target, PACKS, now=NOW).report
    assert listed == []
    [finding] = [f for f in report.findings if (f.rule_id, f.subject) == ("PS-5", f"oauth_secret:{PROFILES_SYNC}")]
    assert finding.status is Status.FAIL
    assert "no active OAuth secret" in finding.message
    expiries, unread = credential_expiries(report)
    profiles_sync = {key: at for key, at in expiries.items() if key[1] == "oauth_secret" and at == NO_ACTIVE_CREDENTIAL}
    assert len(profiles_sync) == 1 and not unread
