"""A generator of large metastores for the benchmark: catalogs x schemas x tables, generated principals and
nested groups, and a fixed number of grants per object. Deterministic for a given `seed`.

Used from a scenario's `generate:` section (on top of what the scenario lists) or directly:
`populate(state, MetastoreShape(catalogs=10, schemas_per_catalog=100, tables_per_schema=100))`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, fields
from typing import Any

from auditor_sandbox.entities import Column
from auditor_sandbox.state import WorkspaceState

_PRIVILEGES = {
    "CATALOG": ("USE_CATALOG", "USE_SCHEMA", "SELECT", "CREATE_SCHEMA", "MODIFY", "ALL_PRIVILEGES"),
    "SCHEMA": ("USE_SCHEMA", "SELECT", "CREATE_TABLE", "MODIFY"),
    "TABLE": ("SELECT", "MODIFY"),
}
_COLUMNS = (Column("id", "BIGINT"), Column("name", "STRING"), Column("updated_at", "TIMESTAMP"))
_NAMESPACE = uuid.UUID("5a9d0b0c-0000-4000-8000-0000000000a1")


@dataclass(frozen=True, slots=True)
class MetastoreShape:
    """How big a generated metastore is."""

    catalogs: int = 10
    schemas_per_catalog: int = 10
    tables_per_schema: int = 100
    principals: int = 100  # half users, half service principals
    groups: int = 20
    group_depth: int = 3  # groups nest in chains this deep
    grants_per_object: int = 2
    seed: int = 0
    prefix: str = "gen"

    def __post_init__(self) -> None:
        counts = (
            self.catalogs,
            self.schemas_per_catalog,
            self.tables_per_schema,
            self.principals,
            self.groups,
        )
        if min(counts) < 0 or self.grants_per_object < 0:
            raise ValueError("generator sizes must be >= 0")
        if self.group_depth < 1 or self.group_depth > 10:
            raise ValueError("group_depth must be between 1 and 10 (the platform's nesting limit)")
        if self.grants_per_object and not (self.principals or self.groups):
            raise ValueError("grants need principals or groups to grant to")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetastoreShape:
        """Build from a scenario's `generate:` section; unknown keys are an error."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown generator parameter(s): {', '.join(unknown)}")
        return cls(**data)

    @property
    def table_count(self) -> int:
        """Tables the shape produces."""
        return self.catalogs * self.schemas_per_catalog * self.tables_per_schema


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """What `populate` added."""

    catalogs: int
    schemas: int
    tables: int
    grants: int
    principals: int
    groups: int


def _principals(state: WorkspaceState, shape: MetastoreShape) -> tuple[list[str], list[str]]:
    names: list[str] = []
    for i in range(shape.principals):
        if i % 2:
            app_id = str(uuid.uuid5(_NAMESPACE, f"{shape.prefix}-sp-{i}"))
            state.directory.add_service_principal(app_id, f"{shape.prefix}-sp-{i}", entitlements=["workspace-access"])
            names.append(app_id)
        else:
            user_name = f"{shape.prefix}-user-{i}@example.com"
            state.directory.add_user(user_name, entitlements=["workspace-access"])
            names.append(user_name)
    groups = [f"{shape.prefix}-group-{i}" for i in range(shape.groups)]
    for i, group in enumerate(groups):
        state.directory.add_group(group)
        if i % shape.group_depth:  # nest in the previous group of its chain
            state.directory.add_group_member(groups[i - 1], group)
    rng = random.Random(shape.seed)
    if groups:
        for name in names:
            state.directory.add_group_member(rng.choice(groups), name)
    return names, groups


def populate(state: WorkspaceState, shape: MetastoreShape) -> GenerationStats:
    """Add the shape's principals, groups, catalogs, schemas, tables and grants to `state`."""
    rng = random.Random(shape.seed + 1)
    grants = 0
    with state.lock:
        names, groups = _principals(state, shape)
        grantees = names + groups
        owner = groups[0] if groups else None

        def grant(kind: str, full_name: str) -> None:
            nonlocal grants
            for grantee in rng.sample(grantees, min(shape.grants_per_object, len(grantees))):
                state.catalog.grant(kind, full_name, grantee, [rng.choice(_PRIVILEGES[kind])])
                grants += 1

        for c in range(shape.catalogs):
            catalog = f"{shape.prefix}_catalog_{c}"
            state.catalog.add_catalog(catalog, owner=owner, storage_location=f"s3://{shape.prefix}-bucket/{catalog}")
            grant("CATALOG", catalog)
            for s in range(shape.schemas_per_catalog):
                schema = f"{catalog}.schema_{s}"
                state.catalog.add_schema(schema)
                grant("SCHEMA", schema)
                for t in range(shape.tables_per_schema):
                    table = f"{schema}.table_{t}"
                    state.catalog.add_table(table, columns=_COLUMNS)
                    grant("TABLE", table)
    return GenerationStats(
        catalogs=shape.catalogs,
        schemas=shape.catalogs * shape.schemas_per_catalog,
        tables=shape.table_count,
        grants=grants,
        principals=len(names),
        groups=len(groups),
    )
