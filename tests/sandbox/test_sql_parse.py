"""The sandbox SQL warehouse's parser and SELECT compiler: statements in, records or results out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor_sandbox.sql_errors import SqlError, quote_identifier, quote_if_needed
from auditor_sandbox.sql_parse import (
    ChangeGrants,
    SecurableRef,
    SelectQuery,
    ShowGrants,
    UseNamespace,
    parse_statement,
    tokenize,
)
from auditor_sandbox.sql_select import compile_view_query, table_of

COLUMNS = ("GRANTOR", "GRANTEE", "CATALOG_NAME", "PRIVILEGE_TYPE", "IS_GRANTABLE", "INHERITED_FROM")
CREDENTIAL_C = SecurableRef("STORAGE_CREDENTIAL", ("c",))
ROWS = [
    ("admins", "alice@corp.com", "main", "USE_CATALOG", "NO", "NONE"),
    ("admins", "Data-Engineers", "main", "SELECT", "NO", "NONE"),
    (None, "bob@corp.com", "crm", "USE_CATALOG", "NO", "NONE"),
    ("admins", "alice@corp.com", "crm", "SELECT", "NO", "CATALOG"),
]


def error_class(sql: str) -> str:
    with pytest.raises(SqlError) as caught:
        parse_statement(sql)
    return caught.value.error_class


def run(sql: str) -> tuple[tuple[str, ...], list[tuple[str | None, ...]]]:
    """Compile a SELECT over the CATALOG_PRIVILEGES-shaped test view and run it over ROWS."""
    statement = parse_statement(sql)
    assert isinstance(statement, SelectQuery)
    table = table_of(statement.tree)
    assert table is not None
    result = compile_view_query(statement.tree, COLUMNS, table).run(ROWS)
    return result.columns, result.rows


# -- SHOW GRANTS -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SHOW GRANTS ON CATALOG main", ShowGrants(None, SecurableRef("CATALOG", ("main",)))),
        ("SHOW GRANTS ON CATALOG `main`", ShowGrants(None, SecurableRef("CATALOG", ("main",)))),
        ("SHOW GRANTS ON CATALOG `we``ird`", ShowGrants(None, SecurableRef("CATALOG", ("we`ird",)))),
        ("show grant on catalog", ShowGrants(None, SecurableRef("CATALOG", ()))),
        ("SHOW GRANTS ON SCHEMA main.s", ShowGrants(None, SecurableRef("SCHEMA", ("main", "s")))),
        ("SHOW GRANTS ON DATABASE sales", ShowGrants(None, SecurableRef("SCHEMA", ("sales",)))),
        ("SHOW GRANTS ON TABLE a.b.c", ShowGrants(None, SecurableRef("TABLE", ("a", "b", "c")))),
        ("SHOW GRANTS ON a.b.c", ShowGrants(None, SecurableRef("TABLE", ("a", "b", "c")))),
        ("SHOW GRANTS ON VIEW v", ShowGrants(None, SecurableRef("VIEW", ("v",)))),
        (
            "SHOW GRANTS ON EXTERNAL LOCATION `segment-lake-location`",
            ShowGrants(None, SecurableRef("EXTERNAL_LOCATION", ("segment-lake-location",))),
        ),
        ("SHOW GRANTS ON STORAGE CREDENTIAL `c`", ShowGrants(None, CREDENTIAL_C)),
        ("SHOW GRANTS ON CREDENTIAL c", ShowGrants(None, CREDENTIAL_C)),
        ("SHOW GRANTS ON METASTORE", ShowGrants(None, SecurableRef("METASTORE", ()))),
        (
            "SHOW GRANTS `alice@corp.com` ON CATALOG main;",
            ShowGrants("alice@corp.com", SecurableRef("CATALOG", ("main",))),
        ),
        (
            "-- who?\nSHOW GRANTS /* all */ `we``ird` ON `a.b`.`c d`",
            ShowGrants("we`ird", SecurableRef("TABLE", ("a.b", "c d"))),
        ),
        ("SHOW GRANTS ON volume", ShowGrants(None, SecurableRef("TABLE", ("volume",)))),
    ],
)
def test_show_grants_forms(sql: str, expected: ShowGrants) -> None:
    assert parse_statement(sql) == expected


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SHOW GRANTS ON VOLUME main.s.v", "UNSUPPORTED_FEATURE"),
        ("SHOW GRANTS ON ANY FILE", "UNSUPPORTED_FEATURE"),
        ("SHOW GRANTS ON SERVICE CREDENTIAL c", "UNSUPPORTED_FEATURE"),
        ("SHOW GRANTS ON FUNCTION main.s.f", "UNSUPPORTED_FEATURE"),
        ("SHOW TABLES", "UNSUPPORTED_FEATURE"),
        ("SHOW GRANTS", "PARSE_SYNTAX_ERROR"),
        ("SHOW GRANTS ON SCHEMA", "PARSE_SYNTAX_ERROR"),
        ("GRANT SELECT ON TABLE TO x", "PARSE_SYNTAX_ERROR"),
        ("SHOW GRANTS ON CATALOG main extra", "PARSE_SYNTAX_ERROR"),
        ("SHOW GRANTS alice@corp.com ON CATALOG main", "PARSE_SYNTAX_ERROR"),
        ("SHOW GRANTS ON `unterminated", "PARSE_SYNTAX_ERROR"),
        ("SHOW GRANTS ON CATALOG a; SHOW GRANTS ON CATALOG b", "UNSUPPORTED_FEATURE"),
        ("", "PARSE_SYNTAX_ERROR"),
        (" ; ", "PARSE_SYNTAX_ERROR"),
        ("DROP TABLE main.s.t", "UNSUPPORTED_FEATURE"),
        ("ALTER TABLE main.s.t OWNER TO x", "UNSUPPORTED_FEATURE"),  # DENY is now parsed (hive_metastore)
        ("SELECT 1 FROM", "PARSE_SYNTAX_ERROR"),
    ],
)
def test_statements_outside_the_subset_are_errors(sql: str, error: str) -> None:
    assert error_class(sql) == error


# -- GRANT / REVOKE / USE ----------------------------------------------------------------------------------


def test_grant_accepts_both_privilege_spellings() -> None:
    statement = parse_statement(
        "GRANT USE CATALOG, use_schema, ALL PRIVILEGES, create external table ON CATALOG main TO `a@b.com`"
    )
    assert statement == ChangeGrants(
        "GRANT",
        ("USE_CATALOG", "USE_SCHEMA", "ALL_PRIVILEGES", "CREATE_EXTERNAL_TABLE"),
        SecurableRef("CATALOG", ("main",)),
        "a@b.com",
    )


def test_revoke_from_principal_on_hive_schema() -> None:
    statement = parse_statement("REVOKE READ_METADATA, ALL ON SCHEMA sales FROM `data-engineers`")
    assert statement == ChangeGrants(
        "REVOKE", ("READ_METADATA", "ALL_PRIVILEGES"), SecurableRef("SCHEMA", ("sales",)), "data-engineers"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "GRANT ON CATALOG main TO x",
        "GRANT SELECT ON CATALOG main",
        "GRANT SELECT, ON CATALOG main TO x",
        "GRANT SELECT ON CATALOG main TO x, y",
        "REVOKE SELECT ON CATALOG main TO x",
    ],
)
def test_malformed_grants_are_syntax_errors(sql: str) -> None:
    assert error_class(sql) == "PARSE_SYNTAX_ERROR"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("USE CATALOG main", UseNamespace("CATALOG", ("main",))),
        ("USE SCHEMA main.analytics", UseNamespace("SCHEMA", ("main", "analytics"))),
        ("use database sales", UseNamespace("SCHEMA", ("sales",))),
        ("USE `my schema`", UseNamespace("SCHEMA", ("my schema",))),
        ("USE catalog", UseNamespace("SCHEMA", ("catalog",))),
    ],
)
def test_use_forms(sql: str, expected: UseNamespace) -> None:
    assert parse_statement(sql) == expected


@given(st.text(min_size=1, max_size=30))
def test_any_name_round_trips_through_backticks(name: str) -> None:
    tokens = tokenize(f"SHOW GRANTS ON CATALOG {quote_identifier(name)}")
    assert tokens[-1].kind == "quoted"
    assert tokens[-1].text == name


def test_quote_if_needed_follows_spark() -> None:
    assert quote_if_needed("main_1") == "main_1"
    assert quote_if_needed("123") == "`123`"
    assert quote_if_needed("my-cat") == "`my-cat`"
    assert quote_if_needed("a`b") == "`a``b`"


# -- SELECT over a view ------------------------------------------------------------------------------------


def test_select_star_keeps_view_column_names_and_order() -> None:
    columns, rows = run("SELECT * FROM main.information_schema.catalog_privileges")
    assert columns == COLUMNS
    assert rows == ROWS


def test_columns_resolve_case_insensitively_and_keep_view_spelling() -> None:
    columns, rows = run(
        "SELECT grantee, Catalog_Name AS cat FROM system.information_schema.catalog_privileges p "
        "WHERE p.privilege_type = 'SELECT'"
    )
    assert columns == ("GRANTEE", "cat")
    assert rows == [("Data-Engineers", "main"), ("alice@corp.com", "crm")]


def test_where_conjunction_of_supported_predicates() -> None:
    _, rows = run(
        "SELECT grantee FROM x.information_schema.catalog_privileges WHERE lower(grantee) IN "
        "('data-engineers', 'alice@corp.com') AND inherited_from <> 'CATALOG' AND (catalog_name != 'crm')"
    )
    assert rows == [("alice@corp.com",), ("Data-Engineers",)]


def test_literal_escapes_and_adjacent_literals() -> None:
    _, rows = run(
        r"SELECT grantee FROM x.information_schema.catalog_privileges WHERE 'alice@' 'corp.com' = grantee "
        r"AND grantee NOT IN ('it\'s')"
    )
    assert rows == [("alice@corp.com",), ("alice@corp.com",)]


def test_null_satisfies_neither_equal_nor_not_equal() -> None:
    _, equal = run("SELECT grantee FROM x.information_schema.t WHERE grantor = 'admins'")
    _, not_equal = run("SELECT grantee FROM x.information_schema.t WHERE grantor <> 'admins'")
    assert ("bob@corp.com",) not in equal + not_equal


def test_order_by_alias_ordinal_desc_and_nulls() -> None:
    _, rows = run("SELECT grantor AS g, grantee FROM x.information_schema.t ORDER BY g, 2 DESC")
    assert rows == [
        (None, "bob@corp.com"),
        ("admins", "alice@corp.com"),
        ("admins", "alice@corp.com"),
        ("admins", "Data-Engineers"),
    ]
    _, rows = run("SELECT grantor FROM x.information_schema.t ORDER BY grantor DESC NULLS FIRST LIMIT 2")
    assert rows == [(None,), ("admins",)]


def test_distinct_and_limit() -> None:
    _, rows = run("SELECT DISTINCT grantee FROM x.information_schema.t ORDER BY grantee LIMIT 2")
    assert rows == [("Data-Engineers",), ("alice@corp.com",)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT grantee FROM x.information_schema.t WHERE grantee = 'a' OR grantee = 'b'",
        "SELECT grantee FROM x.information_schema.t WHERE grantee LIKE 'a%'",
        "SELECT grantee FROM x.information_schema.t WHERE grantee = 1",
        "SELECT grantee FROM x.information_schema.t WHERE grantee IS NULL",
        "SELECT count(*) FROM x.information_schema.t",
        "SELECT grantee FROM x.information_schema.t GROUP BY grantee",
        "SELECT a.grantee FROM x.information_schema.t a JOIN y.information_schema.t b ON a.x = b.x",
        "SELECT grantee FROM (SELECT * FROM x.information_schema.t)",
        "SELECT grantee FROM x.information_schema.t LIMIT 2 OFFSET 1",
        "SELECT * EXCEPT (grantee) FROM x.information_schema.t",
        "WITH v AS (SELECT 1) SELECT grantee FROM x.information_schema.t",
    ],
)
def test_select_outside_the_subset_is_unsupported(sql: str) -> None:
    with pytest.raises(SqlError) as caught:
        run(sql)
    assert caught.value.error_class == "UNSUPPORTED_FEATURE"


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT nope FROM x.information_schema.t", "UNRESOLVED_COLUMN.WITH_SUGGESTION"),
        ("SELECT other.grantee FROM x.information_schema.t", "UNRESOLVED_COLUMN.WITH_SUGGESTION"),
        ("SELECT grantee FROM x.information_schema.t ORDER BY 3", "ORDER_BY_POS_OUT_OF_RANGE"),
    ],
)
def test_bad_references_in_select_are_errors(sql: str, error: str) -> None:
    with pytest.raises(SqlError) as caught:
        run(sql)
    assert caught.value.error_class == error
