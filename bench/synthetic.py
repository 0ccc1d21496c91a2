"""Synthetic facts snapshots at metastore scale, for the evaluation and state-store benchmarks.

    from bench.synthetic import synthetic_snapshot, synthetic_document
    snapshot = synthetic_snapshot(tables=100_000, principals=1_000, grants=1_000_000, group_depth=3)

The snapshot starts from the shipped ``drifted`` example (its integrations, watched catalogs and planted
problems, so every bundled pack has work) and adds generated catalogs ``gen_<n>`` (100 tables a schema,
100 schemas a catalog) that are watched, ``principals`` users and groups, nested ``group_depth`` deep, and
``grants`` grant rows spread over every generated securable and principal. A slice of the grants goes to the
integrations' own service principals (so the excess sweeps have work) and the integrations' principals sit at
the bottom of a nested group chain (so group closure walks the whole depth). Everything is deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "examples" / "snapshots" / "drifted.json"

TABLES_PER_SCHEMA = 100
SCHEMAS_PER_CATALOG = 100
PRIVILEGES = {
    "CATALOG": ("USE_CATALOG", "USE_SCHEMA", "SELECT", "BROWSE", "CREATE_SCHEMA"),
    "SCHEMA": ("USE_SCHEMA", "SELECT", "CREATE_TABLE", "MODIFY", "BROWSE"),
    "TABLE": ("SELECT", "MODIFY", "ALL_PRIVILEGES", "APPLY_TAG", "MANAGE"),
}
INTEGRATION_SHARE = 50  # one grant in this many goes to an integration's service principal


def synthetic_document(
    tables: int,
    principals: int,
    grants: int,
    group_depth: int,
    *,
    base: Path = BASE,
) -> dict[str, Any]:
    """The snapshot as a JSON document (what a snapshot file holds)."""
    document: dict[str, Any] = json.loads(base.read_text(encoding="utf-8"))
    document["target"] = f"synthetic-{tables}t-{principals}p-{grants}g-{group_depth}d"

    securables: list[tuple[str, str]] = []
    catalogs: list[str] = []
    schemas_needed = max(1, -(-tables // TABLES_PER_SCHEMA))
    for schema_index in range(schemas_needed):
        catalog = f"gen_{schema_index // SCHEMAS_PER_CATALOG}"
        if not catalogs or catalogs[-1] != catalog:
            catalogs.append(catalog)
            securables.append(("CATALOG", catalog))
        schema = f"{catalog}.schema_{schema_index % SCHEMAS_PER_CATALOG}"
        securables.append(("SCHEMA", schema))
        first = schema_index * TABLES_PER_SCHEMA
        securables += [("TABLE", f"{schema}.table_{t}") for t in range(first, min(tables, first + TABLES_PER_SCHEMA))]
    document["securables"] += [
        {"type": kind, "full_name": name, "owner": "admins"}
        | ({"catalog_type": "MANAGED_CATALOG", "isolation_mode": "OPEN"} if kind == "CATALOG" else {})
        for kind, name in securables
    ]
    document["watch"]["catalogs"] += catalogs

    depth = max(1, group_depth)
    group_count = max(depth, principals // 10)
    groups = [f"gen-group-{g}" for g in range(group_count)]
    users = [f"gen-user-{u}@example.com" for u in range(max(1, principals - group_count))]
    document["principals"] += [{"name": g, "kind": "group", "scim_id": f"g{i}"} for i, g in enumerate(groups)]
    document["principals"] += [{"name": u, "kind": "user", "scim_id": f"u{i}"} for i, u in enumerate(users)]
    # chains of `depth` groups: gen-group-0 in gen-group-1 in ... ; every user in the first group of a chain
    memberships = [
        {"member": groups[g], "group": groups[g + 1]} for g in range(group_count - 1) if (g + 1) % depth != 0
    ]
    chain_starts = list(range(0, group_count, depth))
    memberships += [{"member": u, "group": groups[chain_starts[i % len(chain_starts)]]} for i, u in enumerate(users)]
    integrations = list(document["watch"]["principals"])
    memberships += [{"member": p, "group": groups[0]} for p in integrations]
    document["memberships"] += memberships

    holders = groups + users
    rows: list[dict[str, str]] = []
    for index in range(grants):
        kind, name = securables[index % len(securables)]
        round_ = index // len(securables)
        if index % INTEGRATION_SHARE == 0:
            principal = integrations[(index // INTEGRATION_SHARE) % len(integrations)]
        else:
            principal = holders[(index * 7919 + round_) % len(holders)]
        privileges = PRIVILEGES[kind]
        rows.append(
            {
                "principal": principal,
                "privilege": privileges[round_ % len(privileges)],
                "securable_type": kind,
                "securable_name": name,
                "source": "sql",
            }
        )
    document["grants"] += rows
    return document


def synthetic_snapshot(tables: int, principals: int, grants: int, group_depth: int) -> Any:
    """The same document as a validated `auditor.model.facts.Snapshot`."""
    from auditor.model.facts import Snapshot

    return Snapshot.model_validate(synthetic_document(tables, principals, grants, group_depth))


def write_snapshot(path: Path, tables: int, principals: int, grants: int, group_depth: int) -> Path:
    """Write the document as a snapshot file (compact JSON) and return its path."""
    document = synthetic_document(tables, principals, grants, group_depth)
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write a synthetic snapshot file")
    parser.add_argument("out", type=Path)
    parser.add_argument("--tables", type=int, default=100_000)
    parser.add_argument("--principals", type=int, default=1_000)
    parser.add_argument("--grants", type=int, default=1_000_000)
    parser.add_argument("--group-depth", type=int, default=3)
    args = parser.parse_args()
    write_snapshot(args.out, args.tables, args.principals, args.grants, args.group_depth)
