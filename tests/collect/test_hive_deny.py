"""Issue 9 item 1: hive_metastore DENY, reported by SHOW GRANTS as ActionType ``DENIED_<privilege>``.

Docs, "DENY" (https://docs.databricks.com/sql/language-manual/security-deny.html): "Denying a privilege takes
precedent over any explicit or implicit grant. Denying a privilege on a schema ... has the effect of implicitly
denying that privilege on all objects in that schema"; "To undo a DENY you REVOKE the same privilege".
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.collect import collect_target
from auditor.collect.sql_grants import parse_show_grants
from auditor.model.facts import FactFamily, SecurableType
from auditor.model.plan import CollectionPlan
from auditor.privileges.databricks import PrivilegeModel, describe_denial
from auditor_sandbox import Sandbox
from tests.collect.conftest import NOW, ref, target_for

FIXTURE = Path(__file__).parent.parent / "fixtures" / "platform" / "hive_show_grants_rows.json"
RETL = "5e9e0001-0000-4000-8000-000000000001"
TABLE = "hive_metastore.sales.orders"
COLUMNS = ("principal", "actiontype", "objecttype", "objectkey")


def test_real_denied_rows_parse_as_denies_not_as_unknown_privileges() -> None:
    fixture = json.loads(FIXTURE.read_text())
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in fixture["rows"]]

    grants = parse_show_grants(rows, SecurableType.TABLE, "hive_metastore.default.foo").grants

    denies = [g for g in grants if g.denied]
    assert [(g.principal, g.privilege, g.securable_type, g.securable_name) for g in denies] == [
        ("interns", "SELECT", SecurableType.TABLE, "hive_metastore.default.foo")
    ]
    assert all(not g.privilege.startswith("DENIED_") for g in grants)
    for action in fixture["observed_denied_action_types"]["values"]:
        row = {"principal": "p", "actiontype": action, "objecttype": "DATABASE", "objectkey": "db"}
        (parsed,) = parse_show_grants([row], SecurableType.SCHEMA, "hive_metastore.db").grants
        assert parsed.denied and parsed.privilege == action.removeprefix("DENIED_")


def legacy_with_a_deny() -> dict[str, Any]:
    """The `legacy` scenario plus ``DENY SELECT ON SCHEMA sales TO <Reverse ETL SP>``; its schema grant stays."""
    text = (resources.files("auditor_sandbox") / "scenarios" / "legacy.yaml").read_text()
    scenario: dict[str, Any] = copy.deepcopy(yaml.safe_load(text))
    scenario["name"] = "legacy-deny"
    hive = next(c for c in scenario["catalogs"] if c["name"] == "hive_metastore")
    sales = next(s for s in hive["schemas"] if s["name"] == "sales")
    sales["grants"][RETL] = [*sales["grants"][RETL], "DENIED_SELECT"]
    return scenario


@pytest.fixture(scope="module")
def deny_sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(legacy_with_a_deny(), now=NOW) as sandbox:
        yield sandbox


def test_a_schema_deny_read_over_sql_cancels_the_grant_on_its_tables(deny_sandbox: Sandbox) -> None:
    plan = CollectionPlan(
        families=frozenset({FactFamily.GRANTS, FactFamily.SECURABLES}),
        securables=frozenset({ref(SecurableType.TABLE, TABLE)}),
        needs_hive_metastore=True,
    )
    snapshot = collect_target(target_for(deny_sandbox), plan, now=NOW).snapshot
    model = PrivilegeModel(snapshot)

    assert model.explain(RETL, "SELECT", SecurableType.TABLE, TABLE) is None
    deny = model.denial(RETL, "SELECT", SecurableType.TABLE, TABLE)
    assert deny is not None
    assert describe_denial(deny) == f"denied by DENY SELECT on SCHEMA hive_metastore.sales to {RETL}"
    assert model.explain(RETL, "READ_METADATA", SecurableType.TABLE, TABLE) is not None
