"""Issue 9 item 9: ``X-Databricks-Workspace-Id`` on every raw REST read, whichever way the workspace treats it.

databricks-sdk 0.167's typed methods send the header whenever ``Config.workspace_id`` is known
(``databricks/sdk/service/catalog.py``, GrantsAPI.get: ``if cfg.workspace_id: headers["X-Databricks-Workspace-Id"]
= cfg.workspace_id``); ``ApiClient.do`` (``databricks/sdk/core.py``) merges only the config's custom headers, so the
collectors' raw reads add it themselves. Whether a workspace host checks it is unverified: the sandbox can ignore
it, refuse a wrong one (``validated``) or refuse a request without it (``required``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import yaml
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors.base import DatabricksError

from auditor.collect import collect_target
from auditor.model.facts import FactFamily, ReadState
from auditor_sandbox import Sandbox
from tests.collect.conftest import NOW, full_plan, target_for, unread

WORKSPACE_ID = "1234567890123456"
HEADER = "X-Databricks-Workspace-Id"


def healthy_where_the_header(mode: str) -> dict[str, Any]:
    text = (resources.files("auditor_sandbox") / "scenarios" / "healthy.yaml").read_text()
    scenario: dict[str, Any] = copy.deepcopy(yaml.safe_load(text))
    scenario["name"] = f"healthy-workspace-id-{mode}"
    scenario["workspace"]["workspace_id_header"] = mode
    return scenario


@pytest.fixture
def requiring() -> Iterator[Sandbox]:
    with Sandbox.start(healthy_where_the_header("required"), now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def validating() -> Iterator[Sandbox]:
    with Sandbox.start(healthy_where_the_header("validated"), now=NOW) as sandbox:
        yield sandbox


def test_the_sdk_sends_the_announced_id_on_typed_calls_and_nothing_on_raw_ones(requiring: Sandbox) -> None:
    """The witness: typed methods pass a workspace that requires the header; a bare ``api_client.do`` does not."""
    workspace = WorkspaceClient(config=Config(host=requiring.host, token=requiring.auditor_token))
    assert workspace.config.workspace_id == WORKSPACE_ID  # read from /.well-known/databricks-config

    assert workspace.grants.get("catalog", "main").privilege_assignments
    with pytest.raises(DatabricksError, match="X-Databricks-Workspace-Id"):
        workspace.api_client.do("GET", "/api/2.1/unity-catalog/permissions/catalog/main")
    answer = workspace.api_client.do(
        "GET", "/api/2.1/unity-catalog/permissions/catalog/main", headers={HEADER: WORKSPACE_ID}
    )
    assert isinstance(answer, dict) and answer["privilege_assignments"]


def test_the_collectors_read_everything_where_the_workspace_requires_the_header(requiring: Sandbox) -> None:
    snapshot = collect_target(target_for(requiring), full_plan(), now=NOW).snapshot

    assert unread(snapshot) == {}
    assert snapshot.grants and snapshot.securables and snapshot.principals


def test_a_configured_workspace_id_is_sent_when_the_workspace_does_not_announce_it(requiring: Sandbox) -> None:
    requiring.set_fault("metadata", "server-error", status=500)
    target = target_for(requiring, databricks={"workspace_id": WORKSPACE_ID})

    snapshot = collect_target(target, full_plan(), now=NOW).snapshot

    assert unread(snapshot) == {}


def test_without_any_known_id_a_requiring_workspace_is_an_error_never_a_pass(requiring: Sandbox) -> None:
    requiring.set_fault("metadata", "server-error", status=500)

    snapshot = collect_target(target_for(requiring), full_plan(), now=NOW).snapshot

    failed = unread(snapshot)
    assert (FactFamily.GRANTS, "CATALOG:segment_lake") in failed
    assert all(s.state is ReadState.FAILED and s.reason for s in failed.values())
    assert any("INVALID_PARAMETER_VALUE" in (s.reason or "") for s in failed.values())


def test_the_announced_id_passes_a_validating_workspace(validating: Sandbox) -> None:
    assert unread(collect_target(target_for(validating), full_plan(), now=NOW).snapshot) == {}


def test_a_wrong_configured_id_is_refused_by_a_validating_workspace_and_read_as_an_error(validating: Sandbox) -> None:
    target = target_for(validating, databricks={"workspace_id": "42"})

    failed = unread(collect_target(target, full_plan(), now=NOW).snapshot)

    assert (FactFamily.GRANTS, "CATALOG:segment_lake") in failed
    assert all(s.state is ReadState.FAILED for s in failed.values())


def test_a_workspace_that_ignores_the_header_reads_the_same_whatever_it_says(healthy: Sandbox) -> None:
    wrong = target_for(healthy, databricks={"workspace_id": "42"})

    assert unread(collect_target(wrong, full_plan(), now=NOW).snapshot) == {}
    assert unread(collect_target(target_for(healthy), full_plan(), now=NOW).snapshot) == {}
