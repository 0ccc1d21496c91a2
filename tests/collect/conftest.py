"""Collector fixtures: sandboxes (workspace emulator + moto IAM, over HTTP), targets for them, plans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from auditor.model.facts import FactFamily, ReadState, ReadStatus, SecurableType, Snapshot
from auditor.model.plan import CollectionPlan, SecurableRef
from auditor.settings import Settings, TargetSettings
from auditor_sandbox import Sandbox

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
AUDITOR = "a0d1703e-0000-4000-8000-000000000001"
RETL = "5e9e0001-0000-4000-8000-000000000001"
DATA_GRAPH = "5e9e0002-0000-4000-8000-000000000002"
DELTA_LAKE = "5e9e0003-0000-4000-8000-000000000003"
PROFILES_SYNC = "5e9e0004-0000-4000-8000-000000000004"
AWS_SP = "5e9e0005-0000-4000-8000-000000000005"
WAREHOUSE = "8a6f3d2c1b0e9f47"
ROLE = "arn:aws:iam::123456789012:role/segment-lake-role"
PAT = "dapi-sandbox-auditor-0001"
CLIENT_SECRET = "dose-sandbox-auditor-secret"


@pytest.fixture(scope="module")
def healthy() -> Iterator[Sandbox]:
    """The `healthy` scenario shared by a module: tests must not change its state or faults."""
    with Sandbox.start("healthy", now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A `healthy` sandbox of the test's own, free to change."""
    with Sandbox.start("healthy", now=NOW) as sandbox:
        yield sandbox


def target_for(sandbox: Sandbox, *, auth: str = "pat", **overrides: Any) -> TargetSettings:
    """The sandbox's auditor config with sections overridden (``databricks={...}``, ``schedule={...}``)."""
    config = sandbox.config_dict(auth=auth)  # type: ignore[arg-type]
    target = config["targets"][0]
    for key, value in overrides.items():
        if isinstance(value, dict):
            target[key] = {**target.get(key, {}), **value}
        else:
            target[key] = value
    return Settings.model_validate(config).targets[0]


def ref(securable_type: SecurableType, name: str) -> SecurableRef:
    return SecurableRef(type=securable_type, full_name=name)


def full_plan(**changes: Any) -> CollectionPlan:
    """A plan touching every family, on objects of the `healthy` scenario."""
    plan: dict[str, Any] = {
        "families": frozenset(FactFamily),
        "securables": frozenset(
            {
                ref(SecurableType.TABLE, "main.analytics.orders"),
                ref(SecurableType.CATALOG, "segment_lake"),
                ref(SecurableType.SCHEMA, "hive_metastore.default"),
                ref(SecurableType.EXTERNAL_LOCATION, "segment-lake-location"),
                ref(SecurableType.STORAGE_CREDENTIAL, "segment-lake-cred"),
            }
        ),
        "watched_catalogs": frozenset({"segment_profiles", "SEGMENT_LINKED_PROFILES_DB"}),
        "warehouses": frozenset({WAREHOUSE}),
        "principals": frozenset({RETL, PROFILES_SYNC, AWS_SP, "admin@example.com", "segment-readers"}),
        "storage_credentials": frozenset({"segment-lake-cred"}),
        "external_locations": frozenset({"segment-lake-location"}),
        "workspace_conf_keys": frozenset({"enableTokensConfig"}),
        "needs_hive_metastore": True,
    }
    plan.update(changes)
    return CollectionPlan(**plan)


def statuses(snapshot: Snapshot) -> dict[tuple[FactFamily, str], ReadStatus]:
    return {(s.family, s.scope): s for s in snapshot.reads}


def unread(snapshot: Snapshot) -> dict[tuple[FactFamily, str], ReadStatus]:
    """Every status that is not READ."""
    return {key: s for key, s in statuses(snapshot).items() if s.state is not ReadState.READ}


def families_unread(snapshot: Snapshot) -> set[FactFamily]:
    return {family for family, _ in unread(snapshot)}


def grant_set(snapshot: Snapshot, *, catalog: str | None = None) -> set[tuple[str, str, str, str]]:
    """Grants as (type, lower-cased name, principal, privilege), optionally of one catalog."""
    return {
        (g.securable_type.value, g.securable_name.lower(), g.principal, g.privilege)
        for g in snapshot.grants
        if catalog is None or g.securable_name.split(".")[0].lower() == catalog.lower()
    }
