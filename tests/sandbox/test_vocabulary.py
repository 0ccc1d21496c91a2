"""The sandbox's privilege vocabulary and the auditor's agree.

The two packages stay independent on purpose (an emulator that imported the auditor's privilege model would
agree with it by construction), so only this test imports both: the sandbox's own tables
(`auditor_sandbox.sql_grants`) against the core's (`auditor.privileges.names`; `databricks.canonical` for
legacy names).
"""

from __future__ import annotations

import pytest

from auditor.model.facts import SecurableType
from auditor.privileges import databricks
from auditor.privileges import names as core
from auditor_sandbox import sql_grants as sandbox

SANDBOX_KINDS = sorted(sandbox.UC_PRIVILEGES)
# Wire values the core knows (the SDK's `Privilege` enum) that no securable the sandbox emulates accepts in a
# GRANT: those of securables it does not emulate (service credentials, clean rooms, foreign
# catalogs, feature tables, private files), and CREATE_VIEW, which the enum lists but no securable's documented
# privilege list includes (views are created with CREATE TABLE).
ONLY_ON_SECURABLES_THE_SANDBOX_LACKS = frozenset(
    {
        "ACCESS",
        "CREATE_VIEW",
        "CREATE_FEATURE",
        "CREATE_FOREIGN_SECURABLE",
        "EXECUTE_CLEAN_ROOM_TASK",
        "MODIFY_CLEAN_ROOM",
        "READ_FEATURE",
        "READ_PRIVATE_FILES",
        "WRITE_PRIVATE_FILES",
    }
)


def _sandbox_uc_names() -> frozenset[str]:
    return frozenset().union(*sandbox.UC_PRIVILEGES.values())


def test_the_securable_kinds_the_sandbox_grants_on_are_the_cores() -> None:
    assert set(SANDBOX_KINDS) <= {kind.value for kind in SecurableType}


@pytest.mark.parametrize("kind", SANDBOX_KINDS)
def test_every_privilege_the_sandbox_accepts_is_one_the_core_knows(kind: str) -> None:
    assert sandbox.UC_PRIVILEGES[kind] <= core.UC_PRIVILEGES | core.LEGACY_PRIVILEGES


def test_every_core_privilege_is_accepted_by_the_sandbox_unless_its_securable_is_not_emulated() -> None:
    missing = core.UC_PRIVILEGES - _sandbox_uc_names() - ONLY_ON_SECURABLES_THE_SANDBOX_LACKS
    assert not missing, f"the core knows privileges no sandbox securable accepts: {sorted(missing)}"
    assert not ONLY_ON_SECURABLES_THE_SANDBOX_LACKS & _sandbox_uc_names(), "stale exception list"


def test_the_legacy_names_agree() -> None:
    assert sandbox._LEGACY == core.LEGACY_PRIVILEGES


@pytest.mark.parametrize("kind", SANDBOX_KINDS)
def test_each_securable_accepts_the_same_privileges_in_both(kind: str) -> None:
    """ "Unity Catalog privileges and securable objects": BROWSE is granted on catalogs (and external locations),
    not on schemas, tables or views; legacy names are accepted on every kind the old model had them on ("Upgrade
    to privilege inheritance": old grants are mapped automatically)."""
    assert sandbox.UC_PRIVILEGES[kind] == core.UC_PRIVILEGES_BY_SECURABLE[SecurableType(kind)]


# hive's READ_METADATA "has no equivalent; BROWSE is the closest" (upgrade-privilege-model), and BROWSE is granted at
# catalog level only: below it the legacy name means a BROWSE that the securable itself could not be granted.
READ_METADATA_BELOW_A_CATALOG = frozenset({"SCHEMA", "TABLE", "VIEW"})


@pytest.mark.parametrize("kind", SANDBOX_KINDS)
def test_the_core_maps_each_legacy_name_to_a_privilege_the_securable_accepts(kind: str) -> None:
    """`USAGE` on a catalog is `USE CATALOG`, on a schema `USE SCHEMA`; `CREATE` becomes the kind's creations."""
    for legacy in sorted(core.LEGACY_PRIVILEGES & sandbox.UC_PRIVILEGES[kind]):
        meaning = databricks.canonical(legacy, SecurableType(kind), hive=False)
        if legacy == "READ_METADATA" and kind in READ_METADATA_BELOW_A_CATALOG:
            assert meaning == {"BROWSE"}
            continue
        assert meaning <= sandbox.UC_PRIVILEGES[kind], (legacy, kind, meaning)


def test_the_hive_metastore_vocabularies_agree() -> None:
    """The core also knows `OWN`: hive_metastore's SHOW GRANTS reports the owner as an `OWN` row, never granted."""
    assert sandbox.HIVE_PRIVILEGES | {"OWN"} == core.HIVE_PRIVILEGES


@pytest.mark.parametrize("privilege", sorted(sandbox.HIVE_PRIVILEGES))
def test_the_hive_metastore_sql_spellings_agree(privilege: str) -> None:
    assert sandbox.hive_spelling(privilege) == core.sql_spelling(privilege)


@pytest.mark.parametrize("privilege", sorted(_sandbox_uc_names() - core.LEGACY_PRIVILEGES))
def test_the_unity_catalog_sql_spellings_agree(privilege: str) -> None:
    assert sandbox.uc_spelling(privilege) == core.sql_spelling(privilege)
    assert core.normalize_privilege(sandbox.uc_spelling(privilege)) == privilege
