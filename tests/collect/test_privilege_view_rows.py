"""information_schema privilege rows in the shape code run against real warehouses shows
(tests/fixtures/platform/info_schema_privilege_rows.json, provenance in its `_provenance`)."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.collect.sql_grants import SWEEP_VIEWS
from auditor.model.facts import SecurableType

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "platform" / "info_schema_privilege_rows.json"


def test_table_privilege_rows_become_grants_with_underscored_privileges() -> None:
    rows = json.loads(FIXTURE.read_text(encoding="utf-8"))["table_privileges_example"]
    view = next(v for v in SWEEP_VIEWS if v.view == "table_privileges")
    direct = [row for row in rows if row["inherited_from"] == "NONE"]  # what the statement's filter keeps
    grants = view.grants(direct)
    assert [(g.privilege, g.securable_type, g.securable_name) for g in grants] == [
        ("MODIFY", SecurableType.TABLE, "<cat>.<schema>.i")
    ]


def test_metastore_rows_are_keyed_by_the_empty_name() -> None:
    view = next(v for v in SWEEP_VIEWS if v.view == "metastore_privileges")
    grants = view.grants([{"grantee": "sp", "metastore_id": "abc", "privilege_type": "CREATE_CATALOG"}])
    assert [(g.securable_type, g.securable_name, g.privilege) for g in grants] == [
        (SecurableType.METASTORE, "", "CREATE_CATALOG")
    ]


def test_every_documented_privilege_view_is_swept() -> None:
    assert {v.view for v in SWEEP_VIEWS} == {
        "catalog_privileges",
        "schema_privileges",
        "table_privileges",
        "volume_privileges",
        "routine_privileges",
        "metastore_privileges",
        "external_location_privileges",
        "credential_privileges",
        "storage_credential_privileges",
        "connection_privileges",
    }
