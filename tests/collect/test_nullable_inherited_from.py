"""Issue 9 item 5: INHERITED_FROM is documented nullable in most privilege views; a NULL row is a direct grant.

The sandbox answers NULL for direct rows of external_location_privileges and storage_credential_privileges
(both documented nullable). A sweep filtering ``inherited_from = 'NONE'`` would drop them all.
"""

from __future__ import annotations

from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.clients import Connections
from auditor.collect.sql_grants import DIRECT_ONLY, read_principal_grants
from auditor.collect.sqlconn import open_sql_session
from auditor_sandbox import Sandbox
from tests.collect.conftest import AWS_SP, target_for


def test_principal_sweep_keeps_direct_grants_whose_inherited_from_is_null(healthy: Sandbox) -> None:
    target = target_for(healthy)
    connections = Connections(target, Deadline(30), CostMeter())
    session = open_sql_session(connections, target.databricks.sql_http_path or "")
    try:
        grants = read_principal_grants(session, [AWS_SP]).grants
    finally:
        session.close()

    found = {(g.securable_type.value, g.securable_name, g.privilege) for g in grants}
    for kind, name in (("EXTERNAL_LOCATION", "segment-lake-location"), ("STORAGE_CREDENTIAL", "segment-lake-cred")):
        assert {(kind, name, p) for p in ("CREATE_EXTERNAL_TABLE", "READ_FILES", "WRITE_FILES")} <= found


def test_direct_only_filter_tolerates_null() -> None:
    assert DIRECT_ONLY == "coalesce(inherited_from, 'NONE') = 'NONE'"
