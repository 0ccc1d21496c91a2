"""SHOW GRANTS, GRANT/REVOKE and information_schema through the real databricks-sql-connector (Thrift).

Read-only tests share one sandbox per module; tests that change grants only touch objects they create.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from databricks import sql
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sql.exc import ServerOperationError

from auditor_sandbox import Sandbox

RETL = "5e9e0001-0000-4000-8000-000000000001"
DATA_GRAPH = "5e9e0002-0000-4000-8000-000000000002"
AWS_SP = "5e9e0005-0000-4000-8000-000000000005"
RETL_TOKEN = "dapi-sandbox-reverse-etl-0001"

Rows = list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def healthy_sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(scenario="healthy", port=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def legacy_sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(scenario="legacy", port=0) as sandbox:
        yield sandbox


def connect(sandbox: Sandbox, token: str | None = None, **options: Any) -> Any:
    assert sandbox.http_path is not None
    return sql.connect(
        server_hostname="127.0.0.1",
        http_path=sandbox.http_path,
        _connection_uri=f"{sandbox.host}{sandbox.http_path}",
        access_token=token or sandbox.auditor_token,
        enable_telemetry=False,
        use_cloud_fetch=False,
        _retry_stop_after_attempts_count=2,
        _retry_delay_max=5,
        **options,
    )


def run(sandbox: Sandbox, *statements: str, token: str | None = None) -> tuple[list[str], Rows]:
    """Run statements in one session; the column names and rows of the last one."""
    with connect(sandbox, token) as connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        names = [column[0] for column in cursor.description or ()]
        return names, [tuple(row) for row in cursor.fetchall()]


def rows(sandbox: Sandbox, *statements: str, token: str | None = None) -> Rows:
    return run(sandbox, *statements, token=token)[1]


def error_of(sandbox: Sandbox, *statements: str, token: str | None = None) -> str:
    with pytest.raises(ServerOperationError) as caught:
        run(sandbox, *statements, token=token)
    return str(caught.value)


def rest(sandbox: Sandbox) -> WorkspaceClient:
    return WorkspaceClient(config=Config(host=sandbox.host, token=sandbox.auditor_token, retry_timeout_seconds=10))


# -- SHOW GRANTS, Unity Catalog form -----------------------------------------------------------------------


def test_uc_show_grants_on_table_includes_rows_inherited_from_schema_and_catalog(
    healthy_sandbox: Sandbox,
) -> None:
    names, found = run(healthy_sandbox, "SHOW GRANTS ON TABLE main.analytics.orders")
    assert names == ["principal", "actionType", "objectType", "objectKey"]
    assert found == [
        (RETL, "USAGE", "SCHEMA", "main.analytics"),
        (RETL, "SELECT", "SCHEMA", "main.analytics"),
        (RETL, "READ METADATA", "SCHEMA", "main.analytics"),
        ("data-engineers", "USE CATALOG", "CATALOG", "main"),
        ("data-engineers", "USE SCHEMA", "CATALOG", "main"),
        ("data-engineers", "SELECT", "CATALOG", "main"),
        (RETL, "CREATE", "CATALOG", "main"),
    ]


def test_uc_show_grants_for_one_principal(healthy_sandbox: Sandbox) -> None:
    found = rows(healthy_sandbox, "SHOW GRANTS `DATA-ENGINEERS` ON SCHEMA `main`.`analytics`")
    assert found == [
        ("data-engineers", "USE CATALOG", "CATALOG", "main"),
        ("data-engineers", "USE SCHEMA", "CATALOG", "main"),
        ("data-engineers", "SELECT", "CATALOG", "main"),
    ]
    assert "[PRINCIPAL_DOES_NOT_EXIST]" in error_of(healthy_sandbox, "SHOW GRANTS `nobody@example.com` ON CATALOG main")


def test_uc_show_grants_on_other_securables(healthy_sandbox: Sandbox) -> None:
    assert rows(healthy_sandbox, "SHOW GRANTS ON CATALOG segment_linked_profiles_db") == [
        (DATA_GRAPH, "USAGE", "CATALOG", "segment_linked_profiles_db"),
        (DATA_GRAPH, "CREATE", "CATALOG", "segment_linked_profiles_db"),
        (DATA_GRAPH, "SELECT", "CATALOG", "segment_linked_profiles_db"),
    ]
    expected = ["CREATE EXTERNAL TABLE", "READ FILES", "WRITE FILES"]
    location = rows(healthy_sandbox, "SHOW GRANTS ON EXTERNAL LOCATION `segment-lake-location`")
    assert location == [(AWS_SP, p, "EXTERNAL LOCATION", "segment-lake-location") for p in expected]
    credential = rows(healthy_sandbox, "SHOW GRANTS ON STORAGE CREDENTIAL `segment-lake-cred`")
    assert credential == [(AWS_SP, p, "STORAGE CREDENTIAL", "segment-lake-cred") for p in expected]
    assert rows(healthy_sandbox, "SHOW GRANTS ON METASTORE") == []


@pytest.mark.parametrize(
    ("statement", "error_class"),
    [
        ("SHOW GRANTS ON CATALOG nope", "NO_SUCH_CATALOG_EXCEPTION"),
        ("SHOW GRANTS ON SCHEMA main.nope", "SCHEMA_NOT_FOUND"),
        ("SHOW GRANTS ON TABLE main.analytics.nope", "TABLE_OR_VIEW_NOT_FOUND"),
        ("SHOW GRANTS ON main.nope.orders", "TABLE_OR_VIEW_NOT_FOUND"),
        ("SHOW GRANTS ON VIEW main.analytics.orders", "EXPECT_VIEW_NOT_TABLE.NO_ALTERNATIVE"),
        ("SHOW GRANTS ON EXTERNAL LOCATION nope", "EXTERNAL_LOCATION_DOES_NOT_EXIST"),
        ("SHOW GRANTS ON VOLUME main.analytics.v", "UNSUPPORTED_FEATURE"),
    ],
)
def test_show_grants_on_missing_or_unsupported_securables(
    healthy_sandbox: Sandbox, statement: str, error_class: str
) -> None:
    assert f"[{error_class}]" in error_of(healthy_sandbox, statement)


# -- SHOW GRANTS, hive_metastore form ----------------------------------------------------------------------


def test_hive_show_grants_relative_and_qualified_names_agree(legacy_sandbox: Sandbox) -> None:
    names, relative = run(legacy_sandbox, "USE CATALOG hive_metastore", "SHOW GRANTS ON SCHEMA sales")
    assert names == ["Principal", "ActionType", "ObjectType", "ObjectKey"]
    assert relative == rows(legacy_sandbox, "SHOW GRANTS ON DATABASE hive_metastore.sales")
    owner = legacy_sandbox.state.catalog.get_securable("SCHEMA", "hive_metastore.sales")
    assert owner is not None
    assert relative == [
        (owner.owner, "OWN", "DATABASE", "sales"),
        (RETL, "USAGE", "DATABASE", "sales"),
        (RETL, "SELECT", "DATABASE", "sales"),
        (RETL, "READ_METADATA", "DATABASE", "sales"),
        ("admins", "OWN", "CATALOG$", None),
        (RETL, "CREATE", "CATALOG$", None),
    ]


def test_hive_show_grants_on_table_lists_table_then_parents(legacy_sandbox: Sandbox) -> None:
    legacy_sandbox.state.catalog.add_schema("hive_metastore.s_table_form", owner="admins")
    legacy_sandbox.state.catalog.add_table("hive_metastore.s_table_form.t", owner="analyst@example.com")
    found = rows(
        legacy_sandbox,
        "GRANT ALL PRIVILEGES ON TABLE hive_metastore.s_table_form.t TO `data-engineers`",
        "GRANT USAGE ON SCHEMA hive_metastore.s_table_form TO `data-engineers`",
        "SHOW GRANTS ON s_table_form.t",
    )
    assert found == [
        ("analyst@example.com", "OWN", "TABLE", "`s_table_form`.`t`"),
        ("data-engineers", "ALL PRIVILEGES", "TABLE", "`s_table_form`.`t`"),
        ("admins", "OWN", "DATABASE", "s_table_form"),
        ("data-engineers", "USAGE", "DATABASE", "s_table_form"),
        ("admins", "OWN", "CATALOG$", None),
        (RETL, "CREATE", "CATALOG$", None),
    ]
    only_owner = rows(legacy_sandbox, "SHOW GRANTS `analyst@example.com` ON TABLE hive_metastore.s_table_form.t")
    assert only_owner == [("analyst@example.com", "OWN", "TABLE", "`s_table_form`.`t`")]


def test_hostile_names_round_trip_through_backticks(healthy_sandbox: Sandbox, legacy_sandbox: Sandbox) -> None:
    healthy_sandbox.state.catalog.add_catalog("we`ird cat", owner="admins")
    healthy_sandbox.state.catalog.add_schema("we`ird cat.sch ema")
    healthy_sandbox.state.catalog.add_table("we`ird cat.sch ema.tä'ble")
    healthy_sandbox.state.directory.add_group("gr`p one")
    found = rows(
        healthy_sandbox,
        "GRANT SELECT ON TABLE `we``ird cat`.`sch ema`.`tä'ble` TO `gr``p one`",
        "GRANT USE CATALOG ON CATALOG `we``ird cat` TO `gr``p one`",
        "SHOW GRANTS `gr``p one` ON `we``ird cat`.`sch ema`.`tä'ble`",
    )
    assert found == [
        ("gr`p one", "SELECT", "TABLE", "`we``ird cat`.`sch ema`.`tä'ble`"),
        ("gr`p one", "USE CATALOG", "CATALOG", "`we``ird cat`"),
    ]
    legacy_sandbox.state.catalog.add_schema("hive_metastore.s`x", owner="admins")
    legacy_sandbox.state.catalog.add_table("hive_metastore.s`x.t y", owner="admins")
    hive = rows(legacy_sandbox, "SHOW GRANTS `admins` ON TABLE hive_metastore.`s``x`.`t y`")
    assert hive == [
        ("admins", "OWN", "TABLE", "`s``x`.`t y`"),
        ("admins", "OWN", "DATABASE", "`s``x`"),
        ("admins", "OWN", "CATALOG$", None),
    ]


# -- GRANT / REVOKE ----------------------------------------------------------------------------------------


def test_grant_and_revoke_change_show_grants_and_the_rest_api(healthy_sandbox: Sandbox) -> None:
    healthy_sandbox.state.catalog.add_catalog("drift_cat", owner="admins")
    after_grant = rows(
        healthy_sandbox,
        "GRANT USE CATALOG, select ON CATALOG drift_cat TO `Analyst@Example.com`",
        "GRANT ALL PRIVILEGES ON CATALOG drift_cat TO `data-engineers`",
        "SHOW GRANTS ON CATALOG drift_cat",
    )
    assert after_grant == [
        ("analyst@example.com", "USE CATALOG", "CATALOG", "drift_cat"),
        ("analyst@example.com", "SELECT", "CATALOG", "drift_cat"),
        ("data-engineers", "ALL PRIVILEGES", "CATALOG", "drift_cat"),
    ]
    assignments = rest(healthy_sandbox).grants.get("catalog", "drift_cat").privilege_assignments or []
    assert {(a.principal, tuple(p.value for p in a.privileges or ())) for a in assignments} == {
        ("analyst@example.com", ("USE_CATALOG", "SELECT")),
        ("data-engineers", ("ALL_PRIVILEGES",)),
    }
    after_revoke = rows(
        healthy_sandbox,
        "REVOKE SELECT ON CATALOG drift_cat FROM `analyst@example.com`",
        "REVOKE ALL PRIVILEGES ON CATALOG drift_cat FROM `data-engineers`",
        "SHOW GRANTS ON CATALOG drift_cat",
    )
    assert after_revoke == [("analyst@example.com", "USE CATALOG", "CATALOG", "drift_cat")]
    assignments = rest(healthy_sandbox).grants.get("catalog", "drift_cat").privilege_assignments or []
    assert [(a.principal, [p.value for p in a.privileges or ()]) for a in assignments] == [
        ("analyst@example.com", ["USE_CATALOG"])
    ]


def test_grant_on_hive_schema_uses_legacy_privileges(legacy_sandbox: Sandbox) -> None:
    legacy_sandbox.state.catalog.add_schema("hive_metastore.s_grant", owner="admins")
    found = rows(
        legacy_sandbox,
        "USE CATALOG hive_metastore",
        "GRANT USAGE, READ_METADATA, SELECT ON SCHEMA s_grant TO `data-engineers`",
        "REVOKE SELECT ON DATABASE s_grant FROM `data-engineers`",
        "SHOW GRANTS `data-engineers` ON SCHEMA s_grant",
    )
    assert found == [
        ("data-engineers", "USAGE", "DATABASE", "s_grant"),
        ("data-engineers", "READ_METADATA", "DATABASE", "s_grant"),
    ]
    assert "[INVALID_PARAMETER_VALUE]" in error_of(
        legacy_sandbox, "GRANT USE SCHEMA ON SCHEMA hive_metastore.s_grant TO `data-engineers`"
    )


def test_workspace_local_groups_hold_only_hive_grants(legacy_sandbox: Sandbox, healthy_sandbox: Sandbox) -> None:
    for sandbox in (legacy_sandbox, healthy_sandbox):
        sandbox.state.directory.add_group("local-only", account=False)
    legacy_sandbox.state.catalog.add_schema("hive_metastore.s_local", owner="admins")
    hive = rows(
        legacy_sandbox,
        "GRANT SELECT ON SCHEMA hive_metastore.s_local TO `local-only`",
        "SHOW GRANTS `local-only` ON SCHEMA hive_metastore.s_local",
    )
    assert hive == [("local-only", "SELECT", "DATABASE", "s_local")]
    assert "[PRINCIPAL_DOES_NOT_EXIST]" in error_of(healthy_sandbox, "GRANT SELECT ON CATALOG main TO `local-only`")


@pytest.mark.parametrize(
    ("statement", "error_class"),
    [
        ("GRANT SELECT ON CATALOG nope TO `data-engineers`", "NO_SUCH_CATALOG_EXCEPTION"),
        ("GRANT SELECT ON SCHEMA main.nope TO `data-engineers`", "SCHEMA_NOT_FOUND"),
        ("GRANT SELECT ON TABLE main.analytics.nope TO `data-engineers`", "TABLE_OR_VIEW_NOT_FOUND"),
        ("GRANT SELECT ON CATALOG main TO `nobody@example.com`", "PRINCIPAL_DOES_NOT_EXIST"),
        ("REVOKE SELECT ON CATALOG main FROM `nobody@example.com`", "PRINCIPAL_DOES_NOT_EXIST"),
        ("GRANT READ FILES ON CATALOG main TO `data-engineers`", "INVALID_PARAMETER_VALUE"),
        ("GRANT SELECT, BOGUS ON CATALOG main TO `data-engineers`", "INVALID_PARAMETER_VALUE"),
        ("GRANT CREATE CATALOG ON METASTORE TO `nobody@example.com`", "PRINCIPAL_DOES_NOT_EXIST"),
    ],
)
def test_failed_grants_change_nothing(healthy_sandbox: Sandbox, statement: str, error_class: str) -> None:
    before = rows(healthy_sandbox, "SHOW GRANTS ON CATALOG main")
    assert f"[{error_class}]" in error_of(healthy_sandbox, statement)
    assert rows(healthy_sandbox, "SHOW GRANTS ON CATALOG main") == before


# -- information_schema ------------------------------------------------------------------------------------


def test_table_privileges_include_inherited_rows(healthy_sandbox: Sandbox) -> None:
    names, found = run(
        healthy_sandbox,
        "SELECT * FROM main.information_schema.table_privileges "
        "WHERE table_name = 'orders' ORDER BY inherited_from DESC, grantee, privilege_type",
    )
    assert names == [
        "GRANTOR", "GRANTEE", "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME",
        "PRIVILEGE_TYPE", "IS_GRANTABLE", "INHERITED_FROM",
    ]  # fmt: skip
    table = ("main", "analytics", "orders")
    assert found == [
        ("admins", RETL, *table, "READ_METADATA", "NO", "SCHEMA"),
        ("admins", RETL, *table, "SELECT", "NO", "SCHEMA"),
        ("admins", RETL, *table, "USAGE", "NO", "SCHEMA"),
        ("admins", RETL, *table, "CREATE", "NO", "CATALOG"),
        ("admins", "data-engineers", *table, "SELECT", "NO", "CATALOG"),
        ("admins", "data-engineers", *table, "USE_CATALOG", "NO", "CATALOG"),
        ("admins", "data-engineers", *table, "USE_SCHEMA", "NO", "CATALOG"),
    ]


def test_collector_style_direct_grant_read(healthy_sandbox: Sandbox) -> None:
    found = rows(
        healthy_sandbox,
        "SELECT grantee, catalog_name, privilege_type FROM system.information_schema.catalog_privileges "
        "WHERE lower(catalog_name) IN ('main', 'segment_linked_profiles_db') AND inherited_from = 'NONE'",
    )
    assert sorted(found) == sorted(
        [
            (RETL, "main", "CREATE"),
            ("data-engineers", "main", "USE_CATALOG"),
            ("data-engineers", "main", "USE_SCHEMA"),
            ("data-engineers", "main", "SELECT"),
            (DATA_GRAPH, "segment_linked_profiles_db", "USAGE"),
            (DATA_GRAPH, "segment_linked_profiles_db", "CREATE"),
            (DATA_GRAPH, "segment_linked_profiles_db", "SELECT"),
        ]
    )


def test_filters_upper_case_columns_and_catalog_scope(healthy_sandbox: Sandbox) -> None:
    inherited = rows(
        healthy_sandbox,
        "SELECT DISTINCT GRANTEE, INHERITED_FROM FROM system.information_schema.SCHEMA_PRIVILEGES "
        "WHERE INHERITED_FROM <> 'NONE' AND CATALOG_NAME = 'main' AND privilege_type NOT IN ('CREATE')",
    )
    assert inherited == [("data-engineers", "CATALOG")]
    scoped = rows(healthy_sandbox, "SELECT DISTINCT catalog_name FROM crm.information_schema.catalog_privileges")
    assert scoped == [("crm",)]
    everywhere = {
        row[0] for row in rows(healthy_sandbox, "SELECT catalog_name FROM system.information_schema.catalog_privileges")
    }
    assert "hive_metastore" not in everywhere
    assert {"main", "crm", "segment_profiles"} <= everywhere


def test_location_and_credential_privilege_views(healthy_sandbox: Sandbox) -> None:
    # nullable INHERITED_FROM (see sql_infoschema._named_securable_rows): a direct row may say NULL
    expected = [(AWS_SP, p, "NO", None) for p in ("CREATE_EXTERNAL_TABLE", "READ_FILES", "WRITE_FILES")]
    locations = rows(
        healthy_sandbox,
        "SELECT grantee, privilege_type, is_grantable, inherited_from "
        "FROM system.information_schema.external_location_privileges "
        "WHERE external_location_name = 'segment-lake-location' ORDER BY privilege_type",
    )
    credentials = rows(
        healthy_sandbox,
        "SELECT grantee, privilege_type, is_grantable, inherited_from "
        "FROM main.information_schema.storage_credential_privileges ORDER BY 2",
    )
    assert locations == expected
    assert credentials == expected


@pytest.mark.parametrize(
    ("statement", "error_class"),
    [
        ("SELECT * FROM hive_metastore.information_schema.table_privileges", "TABLE_OR_VIEW_NOT_FOUND"),
        ("SELECT * FROM nope.information_schema.catalog_privileges", "TABLE_OR_VIEW_NOT_FOUND"),
        ("SELECT * FROM system.information_schema.no_such_view", "TABLE_OR_VIEW_NOT_FOUND"),
        ("SELECT * FROM system.information_schema.tables", "UNSUPPORTED_FEATURE"),
        ("SELECT * FROM main.analytics.orders", "UNSUPPORTED_FEATURE"),
        (
            "SELECT grantee FROM system.information_schema.catalog_privileges WHERE grantee LIKE 'a%'",
            "UNSUPPORTED_FEATURE",
        ),
    ],
)
def test_unsupported_or_missing_views_are_errors(healthy_sandbox: Sandbox, statement: str, error_class: str) -> None:
    assert f"[{error_class}]" in error_of(healthy_sandbox, statement)


def test_information_schema_needs_unity_catalog(legacy_sandbox: Sandbox) -> None:
    assert "[TABLE_OR_VIEW_NOT_FOUND]" in error_of(
        legacy_sandbox, "SELECT * FROM system.information_schema.catalog_privileges"
    )


# -- a caller that is not an admin -------------------------------------------------------------------------


def test_non_admin_sees_and_changes_only_what_it_may(healthy_sandbox: Sandbox) -> None:
    visible = rows(
        healthy_sandbox,
        "SELECT DISTINCT grantee FROM system.information_schema.schema_privileges",
        token=RETL_TOKEN,
    )
    assert visible == [(RETL,)]
    own = rows(healthy_sandbox, f"SHOW GRANTS `{RETL}` ON SCHEMA main.analytics", token=RETL_TOKEN)
    assert {row[0] for row in own} == {RETL}
    assert "[INSUFFICIENT_PERMISSIONS]" in error_of(healthy_sandbox, "SHOW GRANTS ON CATALOG main", token=RETL_TOKEN)
    assert "[INSUFFICIENT_PERMISSIONS]" in error_of(
        healthy_sandbox, f"GRANT SELECT ON CATALOG main TO `{RETL}`", token=RETL_TOKEN
    )


def test_hive_deny_is_listed_as_denied_action_type_and_revoke_lifts_it() -> None:
    """Docs "DENY" (sql/language-manual/security-deny): hive_metastore only, undone by REVOKE of the same
    privilege; SHOW GRANTS reports it as ActionType ``DENIED_<privilege>`` (UCX issue #1803)."""
    with Sandbox.start(scenario="legacy", port=0) as sandbox:
        show = "SHOW GRANTS ON SCHEMA hive_metastore.sales"
        denied = ("`analyst@example.com`", "DENIED_SELECT", "DATABASE", "sales")
        after = rows(sandbox, "DENY SELECT ON SCHEMA hive_metastore.sales TO `analyst@example.com`", show)
        assert (denied[0].strip("`"), *denied[1:]) in after
        lifted = rows(sandbox, "REVOKE SELECT ON SCHEMA hive_metastore.sales FROM `analyst@example.com`", show)
        assert all(row[1] != "DENIED_SELECT" for row in lifted)


def test_deny_outside_hive_metastore_is_refused(healthy_sandbox: Sandbox) -> None:
    assert "UNSUPPORTED_FEATURE" in error_of(healthy_sandbox, "DENY SELECT ON CATALOG main TO `admins`")
