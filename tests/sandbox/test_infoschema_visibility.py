"""information_schema as the platform serves it, through the real databricks-sql-connector.

Rows are filtered, with no error, to what the caller may see ("Both types of information schemas automatically
filter results to include only the objects you have Unity Catalog privileges to access", docs:
sql-ref-information-schema): a metastore admin sees every row, a workspace admin is not thereby one. Every
privilege view of the docs exists (information-schema/*_privileges); a runtime may lack one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor_sandbox import Sandbox
from tests.sandbox.test_sql_grants import error_of, rows

RETL = "5e9e0001-0000-4000-8000-000000000001"
METASTORE = "11111111-2222-4333-8444-555555555555"
EXPOSURE = (
    "SELECT grantee, table_name FROM system.information_schema.table_privileges "
    "WHERE table_catalog = 'segment_profiles' AND inherited_from = 'NONE'"
)


@pytest.fixture(scope="module")
def nonadmin() -> Iterator[Sandbox]:
    with Sandbox.start(scenario="nonadmin-auditor", port=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def metastore_excess() -> Iterator[Sandbox]:
    with Sandbox.start(scenario="metastore-excess", port=0) as sandbox:
        yield sandbox


def test_a_workspace_admin_that_is_not_metastore_admin_does_not_see_others_grants(nonadmin: Sandbox) -> None:
    seen = rows(nonadmin, EXPOSURE)
    assert ("contractor@example.com", "audience_exports") not in seen


def test_the_metastore_admin_sees_every_row() -> None:
    with Sandbox.start(scenario="nonadmin-auditor", port=0) as sandbox:
        sandbox.state.directory.add_group_member("metastore-admins", sandbox.auditor_client_id)
        assert ("contractor@example.com", "audience_exports") in rows(sandbox, EXPOSURE)


def test_metastore_privileges_lists_create_catalog(metastore_excess: Sandbox) -> None:
    found = rows(
        metastore_excess,
        "SELECT grantee, metastore_id, privilege_type FROM system.information_schema.metastore_privileges "
        "WHERE inherited_from = 'NONE'",
    )
    assert (RETL, METASTORE, "CREATE_CATALOG") in found


@pytest.mark.parametrize("view", ["volume_privileges", "routine_privileges", "connection_privileges"])
def test_views_over_securables_the_sandbox_lacks_exist_and_are_empty(metastore_excess: Sandbox, view: str) -> None:
    assert rows(metastore_excess, f"SELECT * FROM system.information_schema.{view}") == []


def test_credential_privileges_lists_storage_credentials(metastore_excess: Sandbox) -> None:
    names = {
        r[0]
        for r in rows(metastore_excess, "SELECT credential_name FROM system.information_schema.credential_privileges")
    }
    assert names


def test_a_dropped_view_is_table_or_view_not_found(metastore_excess: Sandbox) -> None:
    message = error_of(metastore_excess, "SELECT * FROM system.information_schema.storage_credential_privileges")
    assert "TABLE_OR_VIEW_NOT_FOUND" in message
