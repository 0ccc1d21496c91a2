"""Real response samples from public code that runs against real workspaces; each names its source."""

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.collect.rest_grants import parse_privilege_assignments
from auditor.collect.sql_grants import parse_show_grants
from auditor.collect.warehouses import parse_acl
from auditor.model.facts import SecurableType

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platform"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_platform_fixture_names_its_provenance(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    provenance = body["_provenance"]
    assert provenance["repository"] and provenance["path"]


def _fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return body


def test_uc_grants_get_privilege_assignments_parse_as_direct_grants() -> None:
    body = _fixture("uc_grants_get")["response"]
    result = parse_privilege_assignments(body["privilege_assignments"], SecurableType.TABLE, "foo.bar.baz")
    assert {(g.principal, g.privilege, g.securable_name) for g in result} == {
        ("me", "SELECT", "foo.bar.baz"),
        ("someone-else", "MODIFY", "foo.bar.baz"),
        ("someone-else", "SELECT", "foo.bar.baz"),
    }


def test_uc_effective_permissions_land_on_the_catalog_they_are_inherited_from() -> None:
    body = _fixture("uc_effective_permissions")["response"]
    result = parse_privilege_assignments(body["privilege_assignments"], SecurableType.FUNCTION, "andre.s.model")
    assert {(g.principal, g.securable_type, g.securable_name) for g in result} == {
        ("account users", SecurableType.CATALOG, "andre"),
        ("global_read_test", SecurableType.CATALOG, "andre"),
    }
    assert "EXECUTE" in {g.privilege for g in result}


def test_warehouse_permissions_keep_direct_and_inherited_entries() -> None:
    entries = parse_acl(_fixture("warehouse_permissions")["response"])
    assert {(e.principal, e.permission_level, e.inherited) for e in entries} == {
        ("user@domain.com", "CAN_MANAGE", False),
        ("admins", "CAN_MANAGE", True),
    }


def test_documented_show_grants_row_reads_with_lower_cased_columns() -> None:
    documented = _fixture("uc_show_grants_rows")["example_rows"]
    rows = [{key.lower(): value for key, value in row.items()} for row in documented]
    result = parse_show_grants(rows, SecurableType.SCHEMA, "main.my_schema")
    assert [g.principal for g in result.grants] == ["alf@melmak.et"]
