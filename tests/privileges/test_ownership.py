"""Issue 9 item 11: the one ownership rule (`auditor.privileges.databricks.owner_holds`).

Databricks, "Manage Unity Catalog object ownership" (https://docs.databricks.com/data/manage-ownership.html): "Owners
of an object are automatically granted all privileges on that object. ... owners of a schema do not automatically
have all privileges on the tables in the schema, but they can grant themselves privileges on the tables in the
schema. To avoid accidental data exfiltration, schema owners do not have the EXTERNAL USE SCHEMA privilege by default
and external location owners do not have the EXTERNAL USE LOCATION privilege by default."
"""

from __future__ import annotations

import pytest

from auditor.model.facts import SecurableType
from auditor.privileges.databricks import OWNERSHIP_DOC, held_as_owner, owner_holds
from tests.privileges.test_databricks_model import CATALOG, SCHEMA, TABLE, P, holds, world

LOCATION = SecurableType.EXTERNAL_LOCATION


def test_the_rule_cites_the_ownership_documentation() -> None:
    assert OWNERSHIP_DOC == "https://docs.databricks.com/data/manage-ownership.html"


@pytest.mark.parametrize("privilege", ["SELECT", "MODIFY", "APPLY_TAG", "MANAGE", "ALL_PRIVILEGES"])
def test_a_table_owner_holds_every_privilege_on_it_write_privileges_included(privilege: str) -> None:
    assert owner_holds(privilege, TABLE, hive=False)
    assert holds(world([], owners={"main.s.t": P}), privilege, TABLE, "main.s.t")


def test_a_schema_owner_does_not_hold_external_use_schema() -> None:
    assert not owner_holds("EXTERNAL USE SCHEMA", SCHEMA, hive=False)
    assert not holds(world([], owners={"main.s": P}), "EXTERNAL_USE_SCHEMA", SCHEMA, "main.s")
    assert holds(world([], owners={"main.s": P}), "USE_SCHEMA", SCHEMA, "main.s")


def test_an_external_location_owner_does_not_hold_external_use_location() -> None:
    assert not owner_holds("EXTERNAL_USE_LOCATION", LOCATION, hive=False)
    assert owner_holds("WRITE_FILES", LOCATION, hive=False) and owner_holds("READ_FILES", LOCATION, hive=False)
    assert "EXTERNAL_USE_LOCATION" not in held_as_owner(LOCATION, hive=False)


def test_an_owned_catalog_is_not_read_only_for_its_owner() -> None:
    writes = held_as_owner(CATALOG, hive=False)
    assert {"CREATE_SCHEMA", "MANAGE", "APPLY_TAG"} <= writes
    assert holds(world([], owners={"main": P}), "CREATE_SCHEMA", CATALOG, "main")


@pytest.mark.parametrize("privilege", ["SELECT", "MODIFY", "ALL_PRIVILEGES", "USE_SCHEMA"])
def test_owning_a_catalog_gives_nothing_on_the_objects_inside_owned_by_someone_else(privilege: str) -> None:
    """A catalog-level SELECT (or USE SCHEMA, ALL PRIVILEGES) is about the objects inside: ownership does not reach."""
    assert not owner_holds(privilege, CATALOG, hive=False)
    model = world([], owners={"main": P})
    assert not holds(model, privilege, CATALOG, "main")
    assert not holds(model, "SELECT", TABLE, "main.s.t")


def test_owning_a_schema_gives_nothing_on_its_tables_but_owning_the_table_does() -> None:
    assert not holds(world([], owners={"main.s": P}), "SELECT", SCHEMA, "main.s")
    assert not holds(world([], owners={"main.s": P}), "SELECT", TABLE, "main.s.t")
    assert holds(world([], owners={"main.s": P, "main.s.t": P}), "SELECT", TABLE, "main.s.t")


def test_held_as_owner_and_owner_holds_are_the_same_rule() -> None:
    for kind in (CATALOG, SCHEMA, TABLE, LOCATION, SecurableType.STORAGE_CREDENTIAL, SecurableType.VOLUME):
        for privilege in held_as_owner(kind, hive=False):
            assert owner_holds(privilege, kind, hive=False), (kind, privilege)
