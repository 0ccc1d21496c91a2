"""GRANT / REVOKE text a security reviewer can copy: quoted so that no name can change the statement.

The auditor proposes these statements; it never executes them.

Quoting. Every identifier and principal is emitted as a Databricks back-quoted identifier,
`` `name` ``, with each back-quote inside the name doubled. Inside back-quotes Databricks (and
Spark's lexer) treats every other character literally: quotes, ``;``, ``--``, ``/*``, backslashes,
newlines, tabs, spaces and any unicode (right-to-left marks, emoji). So a hostile name can only
ever be one identifier token. Privileges and securable keywords are never quoted; they are
checked to be plain words instead, and anything else is rejected with `ValueError`.

Names. Unity Catalog object names cannot contain ``.``, a space, ``/`` or control characters
(ASCII 0-31 and 127), so a full name such as ``main.sales.orders`` splits on ``.`` into its parts
exactly (`split_full_name`). hive_metastore objects keep their leading ``hive_metastore`` part
(``SCHEMA `hive_metastore`.`sales` ``), which Databricks accepts.

Comments. `commented` prefixes every line with ``-- `` and splits lines the way a SQL lexer ends
a line comment (at ``\\n`` and at ``\\r``), so a name containing a line break stays inside the
comment. Removing the ``-- `` prefix from each line gives back the statement exactly.

What the real parser says (sqlglot 30.30.0, ``sqlglot.parse(sql, read="databricks")``; the tests
check every statement with it and pin this table, so a sqlglot upgrade that changes it is noticed):

- ``SCHEMA``, ``TABLE``, ``VIEW``, ``FUNCTION`` securables parse to ``exp.Grant`` / ``exp.Revoke``
  with ``kind`` set, the name parts as quoted ``Identifier`` s of an ``exp.Table``, one
  ``GrantPrivilege`` per privilege (multi-word privileges and ``ALL PRIVILEGES`` included) and one
  ``GrantPrincipal``.
- ``METASTORE`` parses to ``exp.Grant`` / ``exp.Revoke`` without ``kind``: sqlglot reads the
  keyword as an unquoted table name ``METASTORE``.
- ``CATALOG``, ``VOLUME``, ``EXTERNAL LOCATION``, ``STORAGE CREDENTIAL`` and ``ANY FILE`` are not
  in sqlglot's grammar: it falls back to one opaque ``exp.Command``. For these the tests tokenise
  the statement with sqlglot's Databricks tokenizer and require exactly the intended keywords, one
  quoted identifier per name part, the principal and a single trailing ``;``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from auditor.model.facts import SecurableType
from auditor.privileges.databricks import UNDERSCORE_SPELLED, sql_spelling

# hive_metastore (legacy table ACL) privileges whose SQL spelling keeps the underscore.
LEGACY_UNDERSCORE_PRIVILEGES: frozenset[str] = UNDERSCORE_SPELLED
ALL_PRIVILEGES = "ALL PRIVILEGES"

SECURABLE_KEYWORDS: dict[SecurableType, str] = {
    SecurableType.METASTORE: "METASTORE",
    SecurableType.CATALOG: "CATALOG",
    SecurableType.SCHEMA: "SCHEMA",
    SecurableType.TABLE: "TABLE",
    SecurableType.VIEW: "VIEW",
    SecurableType.VOLUME: "VOLUME",
    SecurableType.FUNCTION: "FUNCTION",
    SecurableType.EXTERNAL_LOCATION: "EXTERNAL LOCATION",
    SecurableType.STORAGE_CREDENTIAL: "STORAGE CREDENTIAL",
    SecurableType.ANY_FILE: "ANY FILE",
}

# How many name parts each securable takes in SQL (METASTORE and ANY FILE take no name).
NAME_PART_COUNTS: dict[SecurableType, int] = {
    SecurableType.METASTORE: 0,
    SecurableType.ANY_FILE: 0,
    SecurableType.CATALOG: 1,
    SecurableType.EXTERNAL_LOCATION: 1,
    SecurableType.STORAGE_CREDENTIAL: 1,
    SecurableType.SCHEMA: 2,
    SecurableType.TABLE: 3,
    SecurableType.VIEW: 3,
    SecurableType.VOLUME: 3,
    SecurableType.FUNCTION: 3,
}

_PRIVILEGE_WORDS = re.compile(r"[A-Z]+(?:_[A-Z]+)*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def quote_identifier(name: str) -> str:
    """Quote ``name`` as one Databricks identifier: back-quotes around it, inner back-quotes doubled.

    Raises `ValueError` for an empty name, which cannot name an object.
    """
    if not isinstance(name, str):
        raise TypeError(f"identifier must be a str, not {type(name).__name__}")
    if name == "":
        raise ValueError("an identifier cannot be empty")
    return "`" + name.replace("`", "``") + "`"


def quote_principal(principal: str) -> str:
    """Quote a principal (user e-mail, group name, service principal application id) for GRANT/REVOKE."""
    return quote_identifier(principal)


def split_full_name(full_name: str) -> tuple[str, ...]:
    """Split a securable's full name (``"main.sales.orders"``) into its parts.

    Exact because Unity Catalog names cannot contain ``.`` (nor spaces, ``/`` or control
    characters). Names must be plain, not back-quoted. ``""`` (the METASTORE / ANY FILE name) gives
    ``()``; an empty part (``"a..b"``) raises `ValueError`.
    """
    if full_name == "":
        return ()
    parts = tuple(full_name.split("."))
    if any(part == "" for part in parts):
        raise ValueError(f"full name has an empty part: {full_name!r}")
    return parts


def sql_privilege(privilege: str) -> str:
    """The SQL spelling of a privilege: ``"USE_CATALOG"`` -> ``"USE CATALOG"``.

    Accepts the normalised form (underscores) or the SQL form, in any case. The hive_metastore
    privileges ``READ_METADATA``, ``CREATE_NAMED_FUNCTION`` and ``MODIFY_CLASSPATH`` keep their
    underscores; ``ALL_PRIVILEGES`` becomes ``ALL PRIVILEGES``. Anything that is not a run of plain
    words (letters joined by ``_`` or spaces) raises `ValueError`, since privileges are emitted
    unquoted.
    """
    canonical = re.sub(r"[\s_]+", "_", privilege.strip().upper())
    if not _PRIVILEGE_WORDS.fullmatch(canonical):
        raise ValueError(f"not a privilege name: {privilege!r}")
    return sql_spelling(canonical)


def securable_clause(securable_type: SecurableType | str, name_parts: Sequence[str]) -> str:
    """The ``ON`` target of a GRANT/REVOKE: ``"SCHEMA `main`.`s`"``, ``"METASTORE"``, ``"ANY FILE"``.

    ``name_parts`` must have as many parts as the securable type takes (see `NAME_PART_COUNTS`);
    use `split_full_name` to get them from a full name.
    """
    kind = _securable_type(securable_type)
    parts = _name_parts(name_parts)
    expected = NAME_PART_COUNTS[kind]
    if len(parts) != expected:
        raise ValueError(f"{kind.value} takes {expected} name part(s), got {len(parts)}")
    keyword = SECURABLE_KEYWORDS[kind]
    if not parts:
        return keyword
    return keyword + " " + ".".join(quote_identifier(part) for part in parts)


def grant_statement(
    privileges: Sequence[str],
    securable_type: SecurableType | str,
    name_parts: Sequence[str],
    principal: str,
) -> str:
    """One idempotent ``GRANT ... ON ... TO ...;`` statement.

    Privileges are normalised with `sql_privilege` and de-duplicated, keeping their first-seen
    order. ``ALL PRIVILEGES`` cannot be combined with other privileges in one statement.
    """
    return (
        f"GRANT {_privilege_list(privileges)} ON {securable_clause(securable_type, name_parts)}"
        f" TO {quote_principal(principal)};"
    )


def revoke_statement(
    privileges: Sequence[str],
    securable_type: SecurableType | str,
    name_parts: Sequence[str],
    principal: str,
) -> str:
    """One ``REVOKE ... ON ... FROM ...;`` statement (a suggestion: show it through `commented`)."""
    return (
        f"REVOKE {_privilege_list(privileges)} ON {securable_clause(securable_type, name_parts)}"
        f" FROM {quote_principal(principal)};"
    )


def commented(statement: str) -> str:
    """``statement`` as SQL line comments: every line prefixed with ``-- ``.

    Lines are split at ``\\r\\n``, ``\\r`` and ``\\n`` (where a SQL line comment ends) and the
    separators kept, so the result parses as no statement at all, and stripping the ``-- `` prefix
    from every line restores ``statement`` exactly.
    """
    return "-- " + _LINE_BREAK.sub(lambda line_break: line_break.group(0) + "-- ", statement)


def _privilege_list(privileges: Sequence[str]) -> str:
    if isinstance(privileges, str):
        raise TypeError("privileges must be a sequence of privilege names, not one str")
    spelled = list(dict.fromkeys(sql_privilege(privilege) for privilege in privileges))
    if not spelled:
        raise ValueError("at least one privilege is required")
    if ALL_PRIVILEGES in spelled and len(spelled) > 1:
        raise ValueError("ALL PRIVILEGES cannot be combined with other privileges in one statement")
    return ", ".join(spelled)


def _securable_type(securable_type: SecurableType | str) -> SecurableType:
    if isinstance(securable_type, SecurableType):
        return securable_type
    normalised = re.sub(r"\s+", "_", securable_type.strip().upper())
    try:
        return SecurableType(normalised)
    except ValueError:
        raise ValueError(f"unknown securable type: {securable_type!r}") from None


def _name_parts(name_parts: Sequence[str]) -> tuple[str, ...]:
    if isinstance(name_parts, str):
        raise TypeError("name_parts must be a sequence of parts; use split_full_name() on a full name")
    return tuple(name_parts)
