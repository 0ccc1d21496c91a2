"""Entitlements through the built-in groups, over public SCIM shapes (tests/fixtures/platform/scim_user_groups.json,
provenance inside: UCX unit tests and the Terraform provider's `possibleEntitlements`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.collect.identities import principal_from
from auditor.model.facts import PrincipalKind
from auditor.privileges.databricks import entitlements_through
from auditor.privileges.names import ADMINS_GROUP, USERS_GROUP, WORKSPACE_ENTITLEMENTS

FIXTURE: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "platform" / "scim_user_groups.json").read_text()
)


def test_every_workspace_entitlement_is_known() -> None:
    assert sorted(WORKSPACE_ENTITLEMENTS) == sorted(FIXTURE["entitlement_values"]["values"])


def test_builtin_group_names_match_the_platform() -> None:
    assert {USERS_GROUP, ADMINS_GROUP} <= set(FIXTURE["system_groups"]["SYSTEM_GROUPS"])


def test_admins_hold_every_entitlement_though_scim_lists_none() -> None:
    assert set(entitlements_through("Admins", ())) == set(WORKSPACE_ENTITLEMENTS)
    assert entitlements_through(USERS_GROUP, ()) == ()  # the migrated model: `users` carries nothing
    assert entitlements_through(USERS_GROUP, ("databricks-sql-access",)) == ("databricks-sql-access",)


def test_the_users_group_is_workspace_local() -> None:
    users = principal_from(FIXTURE["users_group"], PrincipalKind.GROUP, USERS_GROUP)
    assert not users.account_level and users.entitlements == ()
