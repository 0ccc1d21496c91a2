"""Databricks names: hierarchy, splitting and quoting, privilege vocabularies, principal kinds (one home)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.evaluate.context import RequiredGrant
from auditor.evaluate.engine import bind_all
from auditor.evaluate.registry import KINDS, builtin_kind_args
from auditor.model.facts import PrincipalKind, SecurableType, Snapshot
from auditor.packs.loader import load_packs
from auditor.privileges.databricks import canonical
from auditor.privileges.names import (
    ACL_PRINCIPAL_KEYS,
    CATALOG_OBJECTS,
    HIVE_PRIVILEGES,
    HIVE_PRIVILEGES_BY_SECURABLE,
    KNOWN_PRIVILEGES,
    NAME_PART_COUNTS,
    NAMELESS,
    PARENT_TYPE,
    SCIM_NAME_ATTRIBUTES,
    SCIM_RESOURCES,
    SECURABLE_KEYWORDS,
    UC_PRIVILEGES,
    UC_PRIVILEGES_BY_SECURABLE,
    applies_to,
    catalog_of,
    is_hive,
    lineage,
    name_parts,
    principal_kind_of,
    quote_identifier_if_needed,
    split_full_name,
    split_quoted_name,
)

T = SecurableType
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "snapshots"


def test_every_securable_kind_has_a_keyword_and_a_name_shape() -> None:
    assert set(SECURABLE_KEYWORDS) == set(T) == set(NAME_PART_COUNTS)
    assert {T.METASTORE, T.ANY_FILE} == NAMELESS
    for child, parent in PARENT_TYPE.items():
        assert NAME_PART_COUNTS[child] == NAME_PART_COUNTS[parent] + 1


def test_lineage_follows_the_three_level_namespace() -> None:
    assert lineage(T.VOLUME, "c.s.v") == [(T.VOLUME, "c.s.v"), (T.SCHEMA, "c.s"), (T.CATALOG, "c")]
    assert lineage(T.FUNCTION, "c.s.f") == [(T.FUNCTION, "c.s.f"), (T.SCHEMA, "c.s"), (T.CATALOG, "c")]
    assert lineage(T.CATALOG, "c") == [(T.CATALOG, "c")]
    assert lineage(T.METASTORE, "") == [(T.METASTORE, "")]
    # metastore privileges are not inherited; locations and credentials stand alone
    assert lineage(T.STORAGE_CREDENTIAL, "a.b") == [(T.STORAGE_CREDENTIAL, "a.b")]
    # a name too short for its kind names no catalog: no ancestors are invented
    assert lineage(T.TABLE, "sales.orders") == [(T.TABLE, "sales.orders")]


def test_catalog_of() -> None:
    assert catalog_of(T.TABLE, "Main.s.t") == "Main"
    assert catalog_of(T.CATALOG, "main") == "main"
    assert catalog_of(T.EXTERNAL_LOCATION, "main.x") is None
    assert catalog_of(T.METASTORE, "") is None
    assert all(catalog_of(t, "c.s.t") == "c" for t in CATALOG_OBJECTS)


def test_hive_metastore_is_recognised_in_any_case_and_quoting() -> None:
    for name in ("hive_metastore", "HIVE_METASTORE.s", "`hive_metastore`.`s`.`t`"):
        assert is_hive(name)
    for name in ("main", "hive_metastore_copy.s", ""):
        assert not is_hive(name)


def test_splitting_and_quoting() -> None:
    assert name_parts("") == () and name_parts("a..b") == ("a", "", "b")
    assert split_full_name("main.sales.orders") == ("main", "sales", "orders")
    with pytest.raises(ValueError):
        split_full_name("a..b")
    assert split_quoted_name("`a`.`b.c`.d") == ["a", "b.c", "d"]
    assert split_quoted_name("`we``ird`") == ["we`ird"]
    assert quote_identifier_if_needed("main_1") == "main_1"
    assert quote_identifier_if_needed("my schema") == "`my schema`"
    assert quote_identifier_if_needed("t`1") == "`t``1`"


def test_principal_kinds() -> None:
    assert set(ACL_PRINCIPAL_KEYS) == set(SCIM_RESOURCES) == set(SCIM_NAME_ATTRIBUTES) == set(PrincipalKind)
    assert principal_kind_of("5e9e0000-0000-4000-8000-000000000001") is PrincipalKind.SERVICE_PRINCIPAL
    assert principal_kind_of("ana@example.com") is PrincipalKind.USER
    assert principal_kind_of("segment-readers") is PrincipalKind.GROUP


def test_the_per_securable_tables_use_the_vocabularies() -> None:
    for privileges in UC_PRIVILEGES_BY_SECURABLE.values():
        assert privileges <= KNOWN_PRIVILEGES
    for privileges in HIVE_PRIVILEGES_BY_SECURABLE.values():
        assert privileges <= HIVE_PRIVILEGES
    used = set().union(*UC_PRIVILEGES_BY_SECURABLE.values())
    assert "OWN" not in used
    assert applies_to("use catalog", T.CATALOG, hive=False)
    assert not applies_to("USE_CATALOG", T.TABLE, hive=False)
    assert applies_to("USAGE", T.SCHEMA, hive=True)
    assert not applies_to("OWN", T.TABLE, hive=True)
    # every Unity Catalog privilege a securable accepts is either in the SDK's vocabulary or a legacy name
    assert used - UC_PRIVILEGES <= {"USAGE", "CREATE"}


def _required_grants() -> list[RequiredGrant]:
    packs = load_packs(kinds=builtin_kind_args())
    required: list[RequiredGrant] = []
    for name in ("healthy.json", "legacy.json"):
        snapshot = Snapshot.model_validate(json.loads((EXAMPLES / name).read_text(encoding="utf-8")))
        for rule in bind_all(packs, snapshot.integrations):
            kind = KINDS.get(rule.rule.check.kind)
            assert kind is not None
            required += [r for r in kind.required(rule.args) if isinstance(r, RequiredGrant)]
    return required


def test_every_privilege_a_bundled_rule_requires_can_be_granted_where_it_is_required() -> None:
    required = _required_grants()
    assert required
    for grant in required:
        hive = is_hive(grant.full_name)
        for privilege in grant.privileges:
            meant = canonical(privilege, grant.securable_type, hive=hive) | {privilege}
            assert any(applies_to(p, grant.securable_type, hive=hive) for p in meant), (
                f"{privilege} on {grant.securable_type.value} {grant.full_name}"
            )
