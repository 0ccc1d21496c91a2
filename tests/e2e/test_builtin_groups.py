"""Issue 9 item 4: entitlements through the built-in `users` and `admins` groups, through the real clients.

Every workspace user and service principal is in `users`, whether or not SCIM lists it in the principal's
`groups` (docs.databricks.com/gcp/en/security/auth/entitlements; listing is undocumented). In the legacy model
`users` carries workspace and Databricks SQL access; after the workspace entitlement migration it carries
none and `admins` carries all (docs.databricks.com/aws/en/security/auth/system-group-entitlements-migration).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import pytest
import yaml

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
PROFILES_SYNC = "5e9e0004-0000-4000-8000-000000000004"
PS3 = ("PS-3", f"principal:{PROFILES_SYNC}")


def _scenario(**changes: Any) -> dict[str, Any]:
    """`healthy`, with the Profiles Sync service principal holding no entitlement of its own nor in any group."""
    spec: dict[str, Any] = yaml.safe_load((files("auditor_sandbox") / "scenarios" / "healthy.yaml").read_text())
    for sp in spec["service_principals"]:
        if sp["application_id"] == PROFILES_SYNC:
            sp["entitlements"] = []
    for group in spec["groups"]:
        group["members"] = [m for m in group.get("members", []) if m != PROFILES_SYNC]
    spec.update(name="builtin-groups", **changes)
    return spec


def _ps3(scenario: dict[str, Any]) -> Status:
    with Sandbox.start(scenario, now=NOW) as sandbox:
        target = Settings.model_validate(sandbox.config_dict()).targets[0]
        report = run_cycle(target, PACKS, now=NOW).report
    [status] = [f.status for f in report.findings if (f.rule_id, f.subject) == PS3]
    return status


@pytest.mark.parametrize("listed", [False, True], ids=["users-not-listed", "users-listed"])
def test_sql_access_only_through_the_legacy_users_group_passes(listed: bool) -> None:
    assert _ps3(_scenario(entitlement_model="legacy", scim_lists_users_group=listed)) is Status.PASS


def test_migrated_users_group_gives_nothing() -> None:
    assert _ps3(_scenario(entitlement_model="migrated")) is Status.FAIL


def test_admins_hold_every_entitlement_though_scim_lists_none() -> None:
    spec = _scenario(entitlement_model="migrated")
    admins = next(g for g in spec["groups"] if g["name"] == "admins")
    admins["members"] = [*admins["members"], PROFILES_SYNC]
    assert _ps3(spec) is Status.PASS
