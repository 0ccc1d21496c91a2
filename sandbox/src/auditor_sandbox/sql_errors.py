"""Errors the sandbox SQL warehouse answers with, spelled like Databricks SQL errors.

A Databricks SQL error message starts with its error class in brackets and ends with its SQLSTATE, e.g.
``[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`s`.`t` cannot be found. SQLSTATE: 42P01``.
Callers match on the error class, so it is kept as a field as well as in the text.
"""

from __future__ import annotations

import re

_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z0-9_]+")


def quote_identifier(name: str) -> str:
    """Backtick one identifier the way Databricks prints it (inner backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def quote_if_needed(name: str) -> str:
    """Spark's ``quoteIfNeeded``: ``[A-Za-z0-9_]+`` names (not all digits) stay bare, others are quoted."""
    if _PLAIN_IDENTIFIER.fullmatch(name) and not name.isdigit():
        return name
    return quote_identifier(name)


def quote_name(*parts: str) -> str:
    """Backtick every part of a dotted name: ``quote_name("main", "s")`` is `` `main`.`s` ``."""
    return ".".join(quote_identifier(part) for part in parts)


class SqlError(Exception):
    """A statement failed; the warehouse reports it as an operation in ERROR_STATE."""

    def __init__(self, error_class: str, message: str, sql_state: str) -> None:
        self.error_class = error_class
        self.message = message
        self.sql_state = sql_state
        super().__init__(self.display_message)

    @property
    def display_message(self) -> str:
        """The full text a Databricks client shows: ``[CLASS] message SQLSTATE: xxxxx``."""
        return f"[{self.error_class}] {self.message} SQLSTATE: {self.sql_state}"

    @classmethod
    def syntax(cls, near: str | None) -> SqlError:
        """The statement does not parse; `near` is the offending text, None at the end of the input."""
        where = "end of input" if near is None else f"'{near}'"
        return cls("PARSE_SYNTAX_ERROR", f"Syntax error at or near {where}.", "42601")

    @classmethod
    def unsupported(cls, what: str) -> SqlError:
        """Valid Databricks SQL that the sandbox does not emulate (never answered with a guess)."""
        return cls("UNSUPPORTED_FEATURE", f"The sandbox SQL warehouse does not support {what}.", "0A000")

    @classmethod
    def no_such_catalog(cls, catalog: str) -> SqlError:
        """An unknown catalog."""
        return cls(
            "NO_SUCH_CATALOG_EXCEPTION",
            f"Catalog '{catalog}' was not found. Please verify the catalog name and then retry the query "
            "or command again.",
            "42704",
        )

    @classmethod
    def schema_not_found(cls, catalog: str, schema: str) -> SqlError:
        """An unknown schema."""
        return cls(
            "SCHEMA_NOT_FOUND",
            f"The schema {quote_name(catalog, schema)} cannot be found. Verify the spelling and correctness "
            "of the schema and catalog.",
            "42704",
        )

    @classmethod
    def table_not_found(cls, *parts: str) -> SqlError:
        """An unknown table or view."""
        return cls(
            "TABLE_OR_VIEW_NOT_FOUND",
            f"The table or view {quote_name(*parts)} cannot be found. Verify the spelling and correctness "
            "of the schema and catalog.",
            "42P01",
        )

    @classmethod
    def principal_not_found(cls, principal: str) -> SqlError:
        """An unknown user, service principal or group."""
        return cls("PRINCIPAL_DOES_NOT_EXIST", f"Could not find principal with name {principal}.", "42704")

    @classmethod
    def no_metastore(cls) -> SqlError:
        """Unity Catalog is not enabled for the workspace."""
        return cls("METASTORE_DOES_NOT_EXIST", "No metastore assigned for the current workspace.", "42704")

    @classmethod
    def insufficient_permissions(cls, message: str) -> SqlError:
        """The caller may not run the statement."""
        return cls("INSUFFICIENT_PERMISSIONS", f"Insufficient privileges: {message}", "42501")

    @classmethod
    def unresolved_column(cls, column: str, candidates: list[str]) -> SqlError:
        """A column the view does not have."""
        suggestions = ", ".join(quote_identifier(name) for name in candidates)
        return cls(
            "UNRESOLVED_COLUMN.WITH_SUGGESTION",
            f"A column, variable, or function parameter with name {quote_identifier(column)} cannot be "
            f"resolved. Did you mean one of the following? [{suggestions}].",
            "42703",
        )

    @classmethod
    def invalid_privilege(cls, privilege: str, securable: str) -> SqlError:
        """A privilege that does not exist or does not apply to the securable."""
        return cls(
            "INVALID_PARAMETER_VALUE",
            f"Privilege {privilege} is not applicable to this entity [{securable}].",
            "22023",
        )

    @classmethod
    def too_many_name_parts(cls, parts: tuple[str, ...], limit: int) -> SqlError:
        """A dotted name longer than the securable allows."""
        return cls(
            "IDENTIFIER_TOO_MANY_NAME_PARTS",
            f"{quote_name(*parts)} is not a valid identifier as it has more than {limit} name parts.",
            "42601",
        )
