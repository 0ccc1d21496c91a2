"""Regenerate the example snapshots from the documented workspace (tests/rules/documented.py).

.venv/bin/python examples/make_snapshots.py
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.model.facts import Binding, Grant, SecurableType, TrustPolicy
from tests.rules import documented as d

OUT = Path(__file__).resolve().parent / "snapshots"


def drifted() -> d.Snapshot:
    """The six problems of the sandbox's `drifted` scenario (docs/sandbox-scenarios.md)."""
    s = d.without_grants(
        d.healthy(),
        lambda g: not (g.principal == d.DG and g.privilege == "USE_SCHEMA" and g.securable_name == "segment_profiles"),
    )
    warehouse = s.warehouses[0]
    acl = tuple(
        e.model_copy(update={"permission_level": "CAN_VIEW"}) if e.principal == d.DL else e for e in warehouse.acl
    )
    s = d.change(
        s,
        warehouses=(warehouse.model_copy(update={"acl": acl}),),
        tokens=(s.tokens[0], s.tokens[1].model_copy(update={"expiry_time": d.NOW + timedelta(days=5)})),
        trust_policies=(TrustPolicy(role_arn=d.ROLE_ARN, document=d.trust_document([d.ACCOUNT_ID])),),
    )
    return d.plus_grants(
        s,
        f"GRANT ALL PRIVILEGES ON CATALOG main TO `{d.PS}`;\n"
        "GRANT SELECT ON CATALOG segment_profiles TO `contractor@example.com`;",
    )


def legacy() -> d.Snapshot:
    """A Reverse ETL source on hive_metastore, no Unity Catalog metastore."""
    base = d.healthy()
    grants = (
        Grant(
            principal=d.RETL,
            privilege="USAGE",
            securable_type=SecurableType.SCHEMA,
            securable_name="hive_metastore.sales",
        ),
        Grant(
            principal=d.RETL,
            privilege="SELECT",
            securable_type=SecurableType.SCHEMA,
            securable_name="hive_metastore.sales",
        ),
        Grant(
            principal=d.RETL,
            privilege="READ_METADATA",
            securable_type=SecurableType.SCHEMA,
            securable_name="hive_metastore.sales",
        ),
        Grant(
            principal=d.RETL,
            privilege="CREATE",
            securable_type=SecurableType.CATALOG,
            securable_name="hive_metastore",
        ),
    )
    securables = (
        *(x for x in base.securables if x.full_name.startswith("hive_metastore")),
        d.Securable(type=SecurableType.SCHEMA, full_name="hive_metastore.sales"),
    )
    binding = Binding(
        pack="reverse-etl-source",
        params={
            "principal": d.RETL,
            "warehouse_id": d.WAREHOUSE,
            "catalog": "hive_metastore",
            "model_schemas": ["hive_metastore.sales"],
        },
    )
    return d.change(
        base,
        target="legacy",
        metastore=None,
        securables=securables,
        grants=grants,
        integrations=(binding,),
        watch=d.Watch(),
        storage_credentials=(),
        external_locations=(),
        trust_policies=(),
        oauth_secrets=(),
    )


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    d.healthy().model_copy(update={"target": "healthy"}).dump(OUT / "healthy.json")
    drifted().model_copy(update={"target": "drifted"}).dump(OUT / "drifted.json")
    legacy().dump(OUT / "legacy.json")
    print("wrote", *sorted(p.name for p in OUT.glob("*.json")))
