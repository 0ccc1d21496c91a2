"""Issue 9 item 2: a view's grants are found whichever way the platform names the view.

hive_metastore SHOW GRANTS reports a view's grants with ObjectType TABLE (UCX ``_grants_reported_as``
maps VIEW -> TABLE; dbt-spark: "view or table both appear as 'TABLE'"); Unity Catalog REST has no VIEW
securable (views go as ``table``). The rule names a VIEW; the model must still find the grant.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import yaml

from auditor.collect import collect_target
from auditor.model.facts import FactFamily, SecurableType
from auditor.model.plan import CollectionPlan
from auditor.privileges.databricks import PrivilegeModel
from auditor_sandbox import Sandbox
from tests.collect.conftest import NOW, ref, target_for

VIEW = "hive_metastore.sales.recent_orders"
ANALYST = "analyst@example.com"


def legacy_with_a_view() -> dict[str, Any]:
    """The `legacy` scenario plus a hive view on which the analyst alone holds SELECT, directly."""
    text = (resources.files("auditor_sandbox") / "scenarios" / "legacy.yaml").read_text()
    scenario: dict[str, Any] = copy.deepcopy(yaml.safe_load(text))
    scenario["name"] = "legacy-view"
    hive = next(c for c in scenario["catalogs"] if c["name"] == "hive_metastore")
    sales = next(s for s in hive["schemas"] if s["name"] == "sales")
    sales["tables"].append(
        {
            "name": "recent_orders",
            "table_type": "VIEW",
            "view_definition": "SELECT * FROM hive_metastore.sales.orders",
            "columns": {"order_id": "BIGINT"},
            "grants": {ANALYST: ["SELECT"]},
        }
    )
    return scenario


@pytest.fixture(scope="module")
def view_sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(legacy_with_a_view(), now=NOW) as sandbox:
        yield sandbox


def test_a_grant_on_a_hive_view_read_over_sql_is_found_for_the_view(view_sandbox: Sandbox) -> None:
    plan = CollectionPlan(
        families=frozenset({FactFamily.GRANTS, FactFamily.SECURABLES}),
        securables=frozenset({ref(SecurableType.VIEW, VIEW)}),
        needs_hive_metastore=True,
    )
    snapshot = collect_target(target_for(view_sandbox), plan, now=NOW).snapshot

    explanation = PrivilegeModel(snapshot).explain(ANALYST, "SELECT", SecurableType.VIEW, VIEW)

    assert explanation is not None, [g for g in snapshot.grants if g.principal == ANALYST]
    assert explanation.granted == "SELECT"
