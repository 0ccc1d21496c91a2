"""The large-metastore generator: deterministic, the requested shape, 100,000 tables."""

from __future__ import annotations

import pytest

from auditor_sandbox.generate import MetastoreShape, populate
from auditor_sandbox.state import WorkspaceState


def _state(shape: MetastoreShape) -> WorkspaceState:
    state = WorkspaceState()
    populate(state, shape)
    return state


def test_shape_is_honoured() -> None:
    shape = MetastoreShape(
        catalogs=3,
        schemas_per_catalog=4,
        tables_per_schema=5,
        principals=10,
        groups=6,
        group_depth=3,
        grants_per_object=2,
        seed=1,
    )
    state = WorkspaceState()
    stats = populate(state, shape)
    assert (stats.catalogs, stats.schemas, stats.tables, stats.principals, stats.groups) == (3, 12, 60, 10, 6)
    assert stats.grants == (3 + 12 + 60) * 2
    assert state.catalog.table_count() == 60
    assert len(state.directory.list_users()) == 5 and len(state.directory.list_service_principals()) == 5
    assert [s.full_name for s in state.catalog.children("CATALOG", "gen_catalog_2")][-1] == "gen_catalog_2.schema_3"
    assert len(state.catalog.direct_grants("TABLE", "gen_catalog_1.schema_2.table_4")) == 2
    # chains of `group_depth`: 0 <- 1 <- 2, 3 <- 4 <- 5
    assert state.directory.groups_of("gen-group-2") == ["gen-group-1", "gen-group-0"]
    assert state.directory.groups_of("gen-group-3") == []
    for user in state.directory.list_users():
        assert len(state.directory.groups_of(user.user_name, transitive=False)) == 1


def test_same_seed_same_metastore() -> None:
    shape = MetastoreShape(catalogs=2, schemas_per_catalog=2, tables_per_schema=3, principals=8, groups=4, seed=5)
    assert sorted(_state(shape).catalog.all_grants()) == sorted(_state(shape).catalog.all_grants())
    other = MetastoreShape(catalogs=2, schemas_per_catalog=2, tables_per_schema=3, principals=8, groups=4, seed=6)
    assert sorted(_state(shape).catalog.all_grants()) != sorted(_state(other).catalog.all_grants())


def test_one_hundred_thousand_tables() -> None:
    shape = MetastoreShape(
        catalogs=10,
        schemas_per_catalog=100,
        tables_per_schema=100,
        principals=1000,
        groups=100,
        group_depth=5,
        grants_per_object=2,
    )
    state = WorkspaceState()
    stats = populate(state, shape)
    assert stats.tables == state.catalog.table_count() == 100_000
    assert stats.grants == 2 * (10 + 1_000 + 100_000)
    assert len(state.catalog.effective_grants("TABLE", "gen_catalog_9.schema_99.table_99")) >= 2


@pytest.mark.parametrize(
    "bad",
    [
        {"catalogs": -1},
        {"group_depth": 0},
        {"group_depth": 11},
        {"principals": 0, "groups": 0},
        {"tables": 1},
    ],
)
def test_bad_shapes_are_rejected(bad: dict[str, int]) -> None:
    with pytest.raises((ValueError, TypeError)):
        MetastoreShape.from_dict(bad)
