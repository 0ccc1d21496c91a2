"""Issue 9 item 10: "not found" can hide, through the real clients against the sandbox.

Docs, TABLE_OR_VIEW_NOT_FOUND error class (https://docs.databricks.com/error-messages/table-or-view-not-found-error-class.html):
among the most common reasons, "The user has no access to the object and therefore cannot see it". The sandbox's
``metastore.hides_objects`` answers not-found (SHOW GRANTS and the REST catalog APIs) for a catalog, schema, table or
view the caller holds nothing on, workspace admins included. A not-found proves absence only to an auditor that
provably sees everything in the catalog (a metastore admin, or the catalog's owner, as for information_schema);
otherwise what rests on it is `error` with the reason, never "absent".
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import yaml

from auditor.collect import collect_target
from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import FactFamily, ReadState, SecurableType
from auditor.model.findings import Status
from auditor.model.plan import CollectionPlan, SecurableRef
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox
from tests.collect.conftest import target_for
from tests.e2e.test_information_schema_visibility import NOW

PACKS = load_packs(kinds=builtin_kind_args())
HIDDEN = "segment_profiles"  # in nonadmin-auditor: owned by admin@example.com, nothing granted to the auditor
GHOST_TABLE = "main.analytics.ghost"  # does not exist; main is owned by `admins`, which the auditor is in
GHOST_CATALOG = "ghost_catalog"  # does not exist


def hiding(name: str) -> dict[str, Any]:
    text = (resources.files("auditor_sandbox") / "scenarios" / f"{name}.yaml").read_text()
    scenario: dict[str, Any] = copy.deepcopy(yaml.safe_load(text))
    scenario["name"] = f"{name}-hiding"
    scenario["metastore"]["hides_objects"] = True
    return scenario


@pytest.fixture
def nonadmin_hiding() -> Iterator[Sandbox]:
    with Sandbox.start(hiding("nonadmin-auditor"), now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def healthy_hiding() -> Iterator[Sandbox]:
    with Sandbox.start(hiding("healthy"), now=NOW) as sandbox:
        yield sandbox


def _plan(*refs: tuple[SecurableType, str]) -> CollectionPlan:
    return CollectionPlan(
        families=frozenset({FactFamily.SECURABLES, FactFamily.GRANTS}),
        securables=frozenset(SecurableRef(type=t, full_name=n) for t, n in refs),
    )


def test_findings_on_a_hidden_catalog_are_errors_never_a_false_absence(nonadmin_hiding: Sandbox) -> None:
    target = Settings.model_validate(nonadmin_hiding.config_dict(auth="pat")).targets[0]
    report = run_cycle(target, PACKS, now=NOW).report

    on_hidden = {f.rule_id: f for f in report.findings if f.subject.partition(":")[2].split(".")[0] == HIDDEN}
    assert {"DG-3", "DG-6", "DG-8", "PS-2", "PS-7", "PS-8", "X-2"} <= set(on_hidden)
    assert {rule: f.status for rule, f in on_hidden.items()} == dict.fromkeys(on_hidden, Status.ERROR)
    assert (
        "was not found, and Unity Catalog answers not-found for what the caller cannot see" in on_hidden["PS-2"].message
    )
    auditor = next(f for f in report.findings if f.rule_id == "X-3")
    assert auditor.status is Status.FAIL and f"CATALOG:{HIDDEN}" in auditor.message


@pytest.mark.parametrize("collection", ["sql", "api"])
def test_a_not_found_the_auditor_cannot_prove_is_not_visible_with_the_reason(
    nonadmin_hiding: Sandbox, collection: str
) -> None:
    target = target_for(nonadmin_hiding, collection=collection)
    plan = _plan((SecurableType.SCHEMA, f"{HIDDEN}.profiles"), (SecurableType.CATALOG, GHOST_CATALOG))

    snapshot = collect_target(target, plan, now=NOW).snapshot

    for family in (FactFamily.GRANTS, FactFamily.SECURABLES):
        for scope in (f"SCHEMA:{HIDDEN}.profiles", f"CATALOG:{HIDDEN}", f"CATALOG:{GHOST_CATALOG}"):
            status = snapshot.read_status(family, scope)
            assert status.state is ReadState.NOT_VISIBLE, (family, scope, status)
            assert status.reason is not None and "not a metastore admin" in status.reason


def test_the_owner_of_the_catalog_takes_not_found_as_absent(nonadmin_hiding: Sandbox) -> None:
    plan = _plan((SecurableType.TABLE, GHOST_TABLE))

    snapshot = collect_target(target_for(nonadmin_hiding), plan, now=NOW).snapshot

    for family in (FactFamily.GRANTS, FactFamily.SECURABLES):
        assert snapshot.read_status(family, f"TABLE:{GHOST_TABLE}").state is ReadState.READ
    assert snapshot.securable(SecurableType.TABLE, GHOST_TABLE) is None
    assert snapshot.securable(SecurableType.CATALOG, "main") is not None


@pytest.mark.parametrize("collection", ["sql", "api"])
def test_a_metastore_admin_takes_not_found_as_absent(healthy_hiding: Sandbox, collection: str) -> None:
    plan = _plan((SecurableType.TABLE, GHOST_TABLE), (SecurableType.CATALOG, GHOST_CATALOG))

    snapshot = collect_target(target_for(healthy_hiding, collection=collection), plan, now=NOW).snapshot

    assert {s.scope: s.state for s in snapshot.reads if s.state is not ReadState.READ} == {}
    assert snapshot.securable(SecurableType.CATALOG, GHOST_CATALOG) is None
    assert not [g for g in snapshot.grants if g.securable_name.lower() in (GHOST_TABLE, GHOST_CATALOG)]


def test_the_healthy_scenario_gives_its_documented_findings_where_objects_hide(healthy_hiding: Sandbox) -> None:
    target = Settings.model_validate(healthy_hiding.config_dict(auth="pat")).targets[0]
    report = run_cycle(target, PACKS, now=NOW).report
    assert {(f.rule_id, f.subject) for f in report.findings if f.status is not Status.PASS} == set()


def test_the_witness_answers_not_found_for_what_the_caller_holds_nothing_on(nonadmin_hiding: Sandbox) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config
    from databricks.sdk.errors.platform import NotFound

    workspace = WorkspaceClient(config=Config(host=nonadmin_hiding.host, token=nonadmin_hiding.auditor_token))
    with pytest.raises(NotFound):
        workspace.catalogs.get(HIDDEN)
    assert workspace.catalogs.get("main").owner == "admins"  # owned through `admins`: visible
    assert HIDDEN not in {c.name for c in workspace.catalogs.list()}
