"""Grants left behind by a deleted principal (issue 9), through the real SDK and connector.

The Unity Catalog grants API answers them with `principal` empty and `principal_id` set ("For deleted
principals, principal is empty while principal_id is populated", API reference, Grants get-permissions). Nobody
can use such a grant, so it is neither exposure nor excess, and it must not break the read it arrives in.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.sdk import WorkspaceClient

import auditor_sandbox
from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())
FORMER = "former-contractor@example.com"


def with_a_deleted_grantee() -> dict[str, Any]:
    """`healthy`, where a contractor who held SELECT on segment_profiles has since been deleted."""
    folder = Path(auditor_sandbox.__file__).parent / "scenarios"
    scenario: dict[str, Any] = yaml.safe_load((folder / "healthy.yaml").read_text())
    scenario["name"] = "deleted-principal"
    scenario["users"].append({"user_name": FORMER, "display_name": "Former Contractor"})
    profiles = next(c for c in scenario["catalogs"] if c["name"] == "segment_profiles")
    profiles["grants"][FORMER] = ["USE CATALOG", "USE SCHEMA", "SELECT"]
    scenario["deleted_principals"] = [FORMER]
    return scenario


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with Sandbox.start(with_a_deleted_grantee(), now=NOW) as running:
        yield running


def test_the_grants_api_lists_a_deleted_principal_by_id_only(sandbox: Sandbox) -> None:
    client = WorkspaceClient(host=sandbox.host, token=sandbox.auditor_token)
    body = client.api_client.do("GET", "/api/2.1/unity-catalog/permissions/catalog/segment_profiles")
    assert isinstance(body, dict)
    heads = [{k: v for k, v in a.items() if k != "privileges"} for a in body["privilege_assignments"]]
    leftover = [h for h in heads if "principal" not in h]
    assert len(leftover) == 1 and isinstance(leftover[0]["principal_id"], int)
    assert FORMER not in str(body)


def verdicts(sandbox: Sandbox, collection: str) -> dict[tuple[str, str], Status]:
    config = copy.deepcopy(sandbox.config_dict(auth="oauth-m2m"))
    config["targets"][0]["collection"] = collection
    report = run_cycle(Settings.model_validate(config).targets[0], PACKS, now=NOW).report
    return {(f.rule_id, f.subject): f.status for f in report.findings}


@pytest.mark.parametrize("collection", ["sql", "api"])
def test_a_deleted_principals_grant_is_no_exposure_and_breaks_no_read(sandbox: Sandbox, collection: str) -> None:
    with Sandbox.start("healthy", now=NOW) as healthy:
        expected = verdicts(healthy, collection)
    found = verdicts(sandbox, collection)
    assert found == expected  # as if the grant were not there: nobody can use it
    assert found["X-2", "CATALOG:segment_profiles"] is Status.PASS
