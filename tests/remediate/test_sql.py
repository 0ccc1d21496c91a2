"""Remediation SQL: exact text, and parser round-trips for hostile names (sqlglot, Databricks dialect)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.model.facts import SecurableType
from auditor.privileges.names import (
    NAME_PART_COUNTS,
    SECURABLE_KEYWORDS,
    quote_identifier,
    quote_principal,
    split_full_name,
    sql_privilege,
)
from auditor.remediate.sql import (
    commented,
    grant_statement,
    revoke_statement,
    securable_clause,
)

from .sqlcheck import (
    AST_BARE_NAME_KINDS,
    AST_KINDS,
    COMMAND_KINDS,
    NotTheIntendedStatement,
    Statement,
    check_ast,
    check_statement,
    decode_tokens,
    parses_to_no_statement,
)

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=300)

HOSTILE_NAMES = [
    "plain",
    "a`b",
    "`",
    "``",
    "`; DROP TABLE users; --",
    "x` TO `attacker`; GRANT ALL PRIVILEGES ON CATALOG `main",
    "it's",
    'say "hi"',
    "semi;colon",
    "-- not a comment",
    "/* not a comment */",
    "*/",
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\nGRANT ALL PRIVILEGES ON METASTORE TO `x`;",
    "tab\there",
    "with space",
    " leading",
    "trailing ",
    " ",
    "\t",
    "\u200b",  # zero-width space: looks empty
    "\u202egnp.exe",  # right-to-left override
    "שלום",  # right-to-left script
    "名前",
    "emoji 🔥👩‍💻",
    "back\\slash\\",
    "$(touch /tmp/x)",
    "${var}",
    "\x00nul",
    "\x7f",
]
HOSTILE_PRINCIPALS = [
    "alice@corp.com",
    "5f1c2c2e-8d7a-4c1e-9a65-0b7f6f1d9e11",
    "Data Engineers",
    "a`@b.com",
    "`; REVOKE ALL PRIVILEGES ON METASTORE FROM `admins`; --",
    "o'brien@corp.com",
    "grp\n-- owned",
    "👩‍💻 team",
    " ",
]


def intended(
    action: str, privileges: tuple[str, ...], kind: SecurableType, parts: tuple[str, ...], principal: str
) -> Statement:
    return Statement(action, privileges, SECURABLE_KEYWORDS[kind], parts, principal)


def parts_for(kind: SecurableType, names: list[str]) -> tuple[str, ...]:
    count = NAME_PART_COUNTS[kind]
    return tuple((names * 3)[:count])


def uncomment(text: str) -> str:
    return re.sub(r"(^|\r\n|\r|\n)-- ", r"\1", text)


# ---- quoting and names -----------------------------------------------------------------------------


def test_quote_identifier_doubles_backticks() -> None:
    assert quote_identifier("main") == "`main`"
    assert quote_identifier("a`b") == "`a``b`"
    assert quote_identifier("``") == "``````"
    assert quote_principal("alice@corp.com") == "`alice@corp.com`"


def test_quote_identifier_rejects_empty_and_non_strings() -> None:
    with pytest.raises(ValueError):
        quote_identifier("")
    with pytest.raises(ValueError):
        quote_principal("")
    with pytest.raises(TypeError):
        quote_identifier(None)  # type: ignore[arg-type]


def test_split_full_name() -> None:
    assert split_full_name("main.sales.orders") == ("main", "sales", "orders")
    assert split_full_name("hive_metastore.sales") == ("hive_metastore", "sales")
    assert split_full_name("main") == ("main",)
    assert split_full_name("") == ()
    assert split_full_name("a`b.c d") == ("a`b", "c d")


@pytest.mark.parametrize("bad", ["a..b", ".a", "a.", "."])
def test_split_full_name_rejects_empty_parts(bad: str) -> None:
    with pytest.raises(ValueError):
        split_full_name(bad)


@pytest.mark.parametrize(
    ("privilege", "spelled"),
    [
        ("USE_CATALOG", "USE CATALOG"),
        ("use_schema", "USE SCHEMA"),
        ("USE CATALOG", "USE CATALOG"),
        ("  create   table ", "CREATE TABLE"),
        ("SELECT", "SELECT"),
        ("ALL_PRIVILEGES", "ALL PRIVILEGES"),
        ("all privileges", "ALL PRIVILEGES"),
        ("CREATE_EXTERNAL_TABLE", "CREATE EXTERNAL TABLE"),
        ("READ_METADATA", "READ_METADATA"),
        ("read metadata", "READ_METADATA"),
        ("CREATE_NAMED_FUNCTION", "CREATE_NAMED_FUNCTION"),
        ("MODIFY_CLASSPATH", "MODIFY_CLASSPATH"),
        ("USAGE", "USAGE"),
    ],
)
def test_sql_privilege(privilege: str, spelled: str) -> None:
    assert sql_privilege(privilege) == spelled


@pytest.mark.parametrize(
    "bad",
    ["", " ", "SELECT;", "SELECT ON x TO y; DROP", "USE-CATALOG", "SEL`ECT", "READ/FILES", "SELECT1", "_"],
)
def test_sql_privilege_rejects_non_words(bad: str) -> None:
    with pytest.raises(ValueError):
        sql_privilege(bad)


@pytest.mark.parametrize(
    ("kind", "parts", "clause"),
    [
        ("CATALOG", ("main",), "CATALOG `main`"),
        ("SCHEMA", ("main", "s"), "SCHEMA `main`.`s`"),
        ("TABLE", ("a", "b", "c"), "TABLE `a`.`b`.`c`"),
        ("VIEW", ("a", "b", "v"), "VIEW `a`.`b`.`v`"),
        ("VOLUME", ("a", "b", "vol"), "VOLUME `a`.`b`.`vol`"),
        ("FUNCTION", ("a", "b", "f"), "FUNCTION `a`.`b`.`f`"),
        ("EXTERNAL_LOCATION", ("x",), "EXTERNAL LOCATION `x`"),
        ("external location", ("x",), "EXTERNAL LOCATION `x`"),
        (SecurableType.STORAGE_CREDENTIAL, ("x",), "STORAGE CREDENTIAL `x`"),
        ("METASTORE", (), "METASTORE"),
        ("ANY_FILE", (), "ANY FILE"),
        ("SCHEMA", ("hive_metastore", "sales"), "SCHEMA `hive_metastore`.`sales`"),
    ],
)
def test_securable_clause(kind: str, parts: tuple[str, ...], clause: str) -> None:
    assert securable_clause(kind, parts) == clause


def test_securable_clause_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError):
        securable_clause("SCHEMA", ("main",))
    with pytest.raises(ValueError):
        securable_clause("METASTORE", ("metastore-id",))
    with pytest.raises(ValueError):
        securable_clause("SHARE", ("s",))
    with pytest.raises(TypeError):
        securable_clause("CATALOG", "main")


# ---- statements ----------------------------------------------------------------------------------


def test_grant_statement_text() -> None:
    sql = grant_statement(["USE_CATALOG", "USE_SCHEMA", "SELECT"], "CATALOG", ["main"], "alice@corp.com")
    assert sql == "GRANT USE CATALOG, USE SCHEMA, SELECT ON CATALOG `main` TO `alice@corp.com`;"


def test_grant_statement_deduplicates_in_first_seen_order() -> None:
    sql = grant_statement(
        ["SELECT", "USAGE", "select", "READ_METADATA", "USAGE"], "SCHEMA", ["hive_metastore", "s"], "g"
    )
    assert sql == "GRANT SELECT, USAGE, READ_METADATA ON SCHEMA `hive_metastore`.`s` TO `g`;"


def test_revoke_statement_text() -> None:
    sql = revoke_statement(["ALL_PRIVILEGES"], "CATALOG", ["other"], "5f1c2c2e-8d7a-4c1e-9a65-0b7f6f1d9e11")
    assert sql == "REVOKE ALL PRIVILEGES ON CATALOG `other` FROM `5f1c2c2e-8d7a-4c1e-9a65-0b7f6f1d9e11`;"


def test_statements_reject_bad_privilege_lists() -> None:
    with pytest.raises(ValueError):
        grant_statement([], "CATALOG", ["main"], "p")
    with pytest.raises(ValueError):
        grant_statement(["ALL_PRIVILEGES", "SELECT"], "CATALOG", ["main"], "p")
    with pytest.raises(ValueError):
        revoke_statement(["SELECT; DROP TABLE t"], "CATALOG", ["main"], "p")
    with pytest.raises(TypeError):
        grant_statement("SELECT", "CATALOG", ["main"], "p")


@pytest.mark.parametrize("kind", list(SecurableType))
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_round_trip_through_the_parser(kind: SecurableType, name: str) -> None:
    parts = parts_for(kind, [name, name + "2", "t"])
    for principal in (HOSTILE_PRINCIPALS[0], name):
        grant = grant_statement(["USE_CATALOG", "SELECT"], kind, parts, principal)
        check_statement(grant, intended("GRANT", ("USE CATALOG", "SELECT"), kind, parts, principal))
        revoke = revoke_statement(["ALL_PRIVILEGES"], kind, parts, principal)
        check_statement(revoke, intended("REVOKE", ("ALL PRIVILEGES",), kind, parts, principal))


@pytest.mark.parametrize("principal", HOSTILE_PRINCIPALS)
def test_hostile_principals_round_trip_through_the_parser(principal: str) -> None:
    parts = ("main", "sales")
    sql = grant_statement(["USE_SCHEMA", "CREATE_TABLE", "MODIFY"], "SCHEMA", parts, principal)
    check_statement(
        sql,
        intended("GRANT", ("USE SCHEMA", "CREATE TABLE", "MODIFY"), SecurableType.SCHEMA, parts, principal),
    )


def test_sqlglot_support_table_is_as_documented() -> None:
    """Pin which securables sqlglot parses into Grant/Revoke and which fall back to Command."""
    assert set(SECURABLE_KEYWORDS.values()) == AST_KINDS | AST_BARE_NAME_KINDS | COMMAND_KINDS
    from sqlglot import exp

    for kind in SecurableType:
        parts = parts_for(kind, ["a", "b", "c"])
        sql = grant_statement(["SELECT"], kind, parts, "p")
        parsed = check_ast(sql, intended("GRANT", ("SELECT",), kind, parts, "p"))
        keyword = SECURABLE_KEYWORDS[kind]
        assert isinstance(parsed, exp.Command) == (keyword in COMMAND_KINDS)


# ---- the checker itself catches what naive text would do -----------------------------------------


@pytest.mark.parametrize(
    "naive",
    [
        "GRANT SELECT ON SCHEMA `main`.`x`; DROP TABLE t; --` TO `p`;",  # backtick not doubled
        "GRANT SELECT ON SCHEMA `main`.`s` TO `p`; GRANT ALL PRIVILEGES ON METASTORE TO `p`;",
        "GRANT SELECT ON SCHEMA main.s TO `p`;",  # unquoted names
        "GRANT SELECT ON SCHEMA `main`.`s` TO p;",  # unquoted principal
        "GRANT SELECT ON SCHEMA `main`.`s` TO `p` -- trailing\n;",
        "GRANT SELECT ON SCHEMA `main`.`s` TO `p`",  # no terminator
        "GRANT SELECT ON SCHEMA `main`.`s` `alias` TO `p`;",
        "GRANT SELECT ON SCHEMA `ma`in`.`s` TO `p`;",  # does not even tokenise
    ],
)
def test_checker_rejects_wrong_statements(naive: str) -> None:
    target = intended("GRANT", ("SELECT",), SecurableType.SCHEMA, ("main", "s"), "p")
    with pytest.raises(NotTheIntendedStatement):
        check_statement(naive, target)


def test_checker_accepts_the_intended_statement() -> None:
    target = intended("GRANT", ("SELECT",), SecurableType.SCHEMA, ("main", "s"), "p")
    check_statement("GRANT SELECT ON SCHEMA `main`.`s` TO `p`;", target)
    assert decode_tokens("GRANT SELECT ON SCHEMA `main`.`s` TO `p`;") == target


# ---- comments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_commented_revoke_is_no_statement(name: str) -> None:
    revoke = revoke_statement(["MODIFY"], "TABLE", ["main", name, "t"], name)
    text = commented(revoke)
    assert parses_to_no_statement(text)
    assert uncomment(text) == revoke
    assert all(line.startswith("-- ") for line in re.split(r"\r\n|\r|\n", text))


def test_commented_keeps_every_line_inside_the_comment() -> None:
    text = commented("REVOKE MODIFY ON TABLE `a\nGRANT ALL PRIVILEGES ON METASTORE TO `x`;\r--`.`b`.`c` FROM `p`;")
    assert text == (
        "-- REVOKE MODIFY ON TABLE `a\n-- GRANT ALL PRIVILEGES ON METASTORE TO `x`;\r-- --`.`b`.`c` FROM `p`;"
    )
    assert parses_to_no_statement(text)


# ---- generated hostile input ---------------------------------------------------------------------

FRAGMENTS = [
    "`",
    "``",
    "'",
    '"',
    ";",
    "--",
    "/*",
    "*/",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "\\",
    "\u202e",
    "🔥",
    "$(",
    ".",
]
hostile_text = (
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=8)
    .map("".join)
    .filter(bool)
)
name_part = hostile_text.map(lambda text: text.replace(".", "·")).filter(bool)  # UC names never hold '.'

PRIVILEGES = [
    "USE_CATALOG",
    "USE_SCHEMA",
    "SELECT",
    "MODIFY",
    "CREATE_SCHEMA",
    "CREATE_TABLE",
    "CREATE_EXTERNAL_TABLE",
    "READ_FILES",
    "WRITE_FILES",
    "BROWSE",
    "USAGE",
    "CREATE",
    "READ_METADATA",
    "CREATE_NAMED_FUNCTION",
    "MODIFY_CLASSPATH",
    "APPLY_TAG",
    "EXECUTE",
    "READ_VOLUME",
    "CREATE_CATALOG",
    "MANAGE",
]
LEGACY = {"READ_METADATA", "CREATE_NAMED_FUNCTION", "MODIFY_CLASSPATH"}
privilege_lists = st.one_of(
    st.just(["ALL_PRIVILEGES"]),
    st.lists(st.sampled_from(PRIVILEGES), min_size=1, max_size=6),
)


def expected_spelling(privileges: list[str]) -> tuple[str, ...]:
    spelled = [p if p in LEGACY else p.replace("_", " ") for p in privileges]
    return tuple(dict.fromkeys(spelled))


@PROPERTY
@given(
    action=st.sampled_from(["GRANT", "REVOKE"]),
    privileges=privilege_lists,
    lower=st.booleans(),
    kind=st.sampled_from(list(SecurableType)),
    names=st.lists(name_part, min_size=3, max_size=3),
    principal=hostile_text,
)
def test_generated_statements_parse_as_exactly_the_intended_statement(
    action: str, privileges: list[str], lower: bool, kind: SecurableType, names: list[str], principal: str
) -> None:
    parts = parts_for(kind, names)
    given_privileges = [p.lower() for p in privileges] if lower else privileges
    build = grant_statement if action == "GRANT" else revoke_statement
    sql = build(given_privileges, kind, parts, principal)
    target = intended(action, expected_spelling(privileges), kind, parts, principal)
    check_statement(sql, target)
    text = commented(sql)
    assert parses_to_no_statement(text)
    assert uncomment(text) == sql


@PROPERTY
@given(parts=st.lists(name_part, min_size=1, max_size=3))
def test_generated_full_names_split_back_into_their_parts(parts: list[str]) -> None:
    assert split_full_name(".".join(parts)) == tuple(parts)


@PROPERTY
@given(name=hostile_text)
def test_generated_identifiers_are_one_quoted_token(name: str) -> None:
    from .sqlcheck import tokens_of

    tokens = tokens_of(quote_identifier(name))
    assert [(token.token_type.name, token.text) for token in tokens] == [("IDENTIFIER", name)]
