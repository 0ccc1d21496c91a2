"""Issue 9 item 11 end to end: ownership, through the real clients against the sandbox.

Databricks, "Manage Unity Catalog object ownership" (https://docs.databricks.com/data/manage-ownership.html): an owner
holds all privileges on the object it owns, write privileges included, so an owned catalog is not read-only for its
owner; "owners of a schema do not automatically have all privileges on the tables in the schema", so ownership of a
catalog or schema gives nothing on the objects inside it owned by someone else.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import yaml

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import SecurableType
from auditor.model.findings import Finding, Status
from auditor.packs.loader import load_packs
from auditor.privileges.databricks import PrivilegeModel
from auditor.settings import Settings
from auditor_sandbox import Sandbox
from tests.e2e.test_information_schema_visibility import NOW
from tests.rules.documented import DG, RETL

PACKS = load_packs(kinds=builtin_kind_args())


def healthy_where(name: str, change: Any) -> dict[str, Any]:
    text = (resources.files("auditor_sandbox") / "scenarios" / "healthy.yaml").read_text()
    scenario: dict[str, Any] = copy.deepcopy(yaml.safe_load(text))
    scenario["name"] = name
    change(scenario)
    return scenario


def _catalog(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in scenario["catalogs"] if c["name"] == name)


def _findings(scenario: dict[str, Any]) -> dict[tuple[str, str], Finding]:
    with Sandbox.start(scenario, now=NOW) as sandbox:
        target = Settings.model_validate(sandbox.config_dict(auth="pat")).targets[0]
        report = run_cycle(target, PACKS, now=NOW).report
    return {(f.rule_id, f.subject): f for f in report.findings}


def _non_pass(findings: dict[tuple[str, str], Finding]) -> set[tuple[str, str, Status]]:
    return {(rule, subject, f.status) for (rule, subject), f in findings.items() if f.status is not Status.PASS}


def test_a_read_only_catalog_owned_by_the_data_graph_sp_is_not_read_only() -> None:
    """segment_profiles owned by the Data Graph SP: it holds CREATE SCHEMA, MANAGE, APPLY TAG there as owner."""

    def owned_by_data_graph(scenario: dict[str, Any]) -> None:
        _catalog(scenario, "segment_profiles")["owner"] = DG

    findings = _findings(healthy_where("healthy-dg-owns-profiles", owned_by_data_graph))

    assert _non_pass(findings) == {("DG-6", "CATALOG:segment_profiles", Status.FAIL)}
    finding = findings[("DG-6", "CATALOG:segment_profiles")]
    assert "as owner of CATALOG segment_profiles" in finding.message
    assert "CREATE_SCHEMA" in finding.message and "MANAGE" in finding.message
    assert "manage-ownership" in finding.remediation.summary


def test_owning_a_catalog_is_not_read_access_to_what_is_inside_it() -> None:
    """crm owned by the Data Graph SP with its grants gone: USE CATALOG is held as owner, USE SCHEMA and SELECT on the
    catalog act on the schemas and tables inside (owned by admins), which ownership does not reach. And it is not
    read-only either."""

    def owned_without_grants(scenario: dict[str, Any]) -> None:
        crm = _catalog(scenario, "crm")
        crm["owner"] = DG
        crm["grants"].pop(DG)

    findings = _findings(healthy_where("healthy-dg-owns-crm", owned_without_grants))

    assert findings[("DG-4", "CATALOG:crm")].status is Status.FAIL
    assert findings[("DG-4", "CATALOG:crm")].message.endswith("lacks USE SCHEMA, SELECT on CATALOG crm")
    assert any("ownership reaches neither the objects inside" in e for e in findings[("DG-4", "CATALOG:crm")].evidence)
    assert findings[("DG-6B", "CATALOG:crm")].status is Status.FAIL


def test_a_schema_owner_holds_the_schema_itself_but_not_its_tables_nor_external_use_schema() -> None:
    """The collected snapshot (SHOW GRANTS and the catalog APIs over the real clients) through the privilege model."""

    def retl_owns_analytics(scenario: dict[str, Any]) -> None:
        analytics = next(s for s in _catalog(scenario, "main")["schemas"] if s["name"] == "analytics")
        analytics["owner"] = RETL
        analytics["grants"].pop(RETL)
        _catalog(scenario, "main")["grants"].pop(RETL)

    with Sandbox.start(healthy_where("healthy-retl-owns-analytics", retl_owns_analytics), now=NOW) as sandbox:
        target = Settings.model_validate(sandbox.config_dict(auth="pat")).targets[0]
        snapshot = run_cycle(target, PACKS, now=NOW).snapshot
    schema = snapshot.securable(SecurableType.SCHEMA, "main.analytics")
    assert schema is not None and schema.owner == RETL

    model = PrivilegeModel(snapshot)
    held = model.explain(RETL, "USE SCHEMA", SecurableType.SCHEMA, "main.analytics")
    assert held is not None and held.granted == "OWNER"
    assert model.explain(RETL, "CREATE TABLE", SecurableType.SCHEMA, "main.analytics") is not None
    assert model.explain(RETL, "EXTERNAL USE SCHEMA", SecurableType.SCHEMA, "main.analytics") is None
    assert model.explain(RETL, "SELECT", SecurableType.SCHEMA, "main.analytics") is None
