"""GRANT / REVOKE text a security reviewer can copy: quoted so that no name can change the statement.

The auditor proposes these statements; it never executes them.

Quoting and names (`auditor.privileges.names`). Every identifier and principal is emitted as a
Databricks back-quoted identifier with inner back-quotes doubled, so a hostile name can only ever be
one identifier token. Privileges and securable keywords are never quoted; they are checked to be plain
words instead, and anything else is rejected with `ValueError`. Full names split on ``.`` exactly
(`split_full_name`); hive_metastore objects keep their leading ``hive_metastore`` part.

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
- ``CATALOG``, ``VOLUME``, ``EXTERNAL LOCATION``, ``STORAGE CREDENTIAL``, ``CONNECTION`` and ``ANY FILE`` are not
  in sqlglot's grammar: it falls back to one opaque ``exp.Command``. For these the tests tokenise
  the statement with sqlglot's Databricks tokenizer and require exactly the intended keywords, one
  quoted identifier per name part, the principal and a single trailing ``;``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from auditor.model.facts import SecurableType
from auditor.privileges.names import (
    NAME_PART_COUNTS,
    SECURABLE_KEYWORDS,
    quote_identifier,
    quote_principal,
    split_full_name,
    sql_privilege,
)

ALL_PRIVILEGES = "ALL PRIVILEGES"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


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
    return keyword + " " + ".".join(_quoted(part) for part in parts)


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
        f" TO {_quoted_principal(principal)};"
    )


def revoke_statement(
    privileges: Sequence[str],
    securable_type: SecurableType | str,
    name_parts: Sequence[str],
    principal: str,
) -> str:
    """One ``REVOKE ... ON ... FROM ...;`` statement (a suggestion: show it through `commented`)."""
    return revoke_on(privileges, securable_clause(securable_type, name_parts), principal)


def revoke_on(privileges: Sequence[str], on: str, principal: str) -> str:
    """`revoke_statement` on a clause `securable_clause` made (to spell a securable once for many REVOKEs)."""
    return f"REVOKE {_privilege_list(privileges)} ON {on} FROM {_quoted_principal(principal)};"


def commented_revokes(rows: Iterable[tuple[Sequence[str], SecurableType, str, str]]) -> list[str]:
    """``commented(revoke_statement(privileges, kind, split_full_name(name), principal))`` for each row
    ``(privileges, kind, name, principal)``, in order.

    For a REVOKE suggested for each of a million grants: every principal, securable and privilege list is
    spelled once, however many statements name it.
    """
    clauses: dict[tuple[SecurableType, str], tuple[str, bool]] = {}
    principals: dict[str, tuple[str, bool]] = {}
    privilege_lists: dict[str | tuple[str, ...], str] = {}
    statements: list[str] = []
    for privileges, kind, name, principal in rows:
        on = clauses.get((kind, name))
        if on is None:
            text = securable_clause(kind, split_full_name(name))
            on = clauses[(kind, name)] = (text, _breaks_line(text))
        who = principals.get(principal)
        if who is None:
            text = quote_principal(principal)
            who = principals[principal] = (text, _breaks_line(text))
        key = privileges[0] if len(privileges) == 1 else tuple(privileges)  # one privilege: the usual case
        spelled = privilege_lists.get(key)
        if spelled is None:
            spelled = privilege_lists[key] = _privilege_list(privileges)
        if on[1] or who[1]:
            statements.append(commented(f"REVOKE {spelled} ON {on[0]} FROM {who[0]};"))
        else:
            statements.append(f"-- REVOKE {spelled} ON {on[0]} FROM {who[0]};")
    return statements


def _breaks_line(text: str) -> bool:
    return "\n" in text or "\r" in text


def commented(statement: str) -> str:
    """``statement`` as SQL line comments: every line prefixed with ``-- ``.

    Lines are split at ``\\r\\n``, ``\\r`` and ``\\n`` (where a SQL line comment ends) and the
    separators kept, so the result parses as no statement at all, and stripping the ``-- `` prefix
    from every line restores ``statement`` exactly.
    """
    if "\n" not in statement and "\r" not in statement:
        return "-- " + statement
    return "-- " + _LINE_BREAK.sub(lambda line_break: line_break.group(0) + "-- ", statement)


# A report may propose a REVOKE for each of a million grants: the pieces repeat (a principal, a catalog,
# a schema, a privilege list), so they are spelled once each. The caches are bounded.
_quoted = lru_cache(maxsize=1 << 16)(quote_identifier)
_quoted_principal = lru_cache(maxsize=1 << 12)(quote_principal)


def _privilege_list(privileges: Sequence[str]) -> str:
    if isinstance(privileges, str):
        raise TypeError("privileges must be a sequence of privilege names, not one str")
    return _spelled_privileges(tuple(privileges))


@lru_cache(maxsize=1 << 10)
def _spelled_privileges(privileges: tuple[str, ...]) -> str:
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
