"""Read generated GRANT/REVOKE text back with sqlglot, independently of the code that wrote it.

Two readings, both strict:
- `decode_tokens`: sqlglot's Databricks tokenizer; the token stream must be exactly
  ``GRANT|REVOKE <words>[, <words>...] ON <keywords> [`id`[.`id`...]] TO|FROM `principal` ;``,
  with every name a quoted identifier token, no comments and nothing after the ``;``.
- `check_ast`: ``sqlglot.parse(sql, read="databricks")`` must give exactly one statement: an
  ``exp.Grant``/``exp.Revoke`` with exactly the intended fields where sqlglot's grammar knows the
  securable, an opaque ``exp.Command`` holding exactly this statement where it does not.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.databricks import Databricks
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

# Securable keywords sqlglot 30.x parses into exp.Grant / exp.Revoke with ``kind`` set.
AST_KINDS = frozenset({"SCHEMA", "TABLE", "VIEW", "FUNCTION"})
# Parsed into exp.Grant / exp.Revoke without a kind: the keyword is read as a bare table name.
AST_BARE_NAME_KINDS = frozenset({"METASTORE"})
# Not in sqlglot's grammar: the statement becomes one exp.Command.
COMMAND_KINDS = frozenset({"CATALOG", "VOLUME", "EXTERNAL LOCATION", "STORAGE CREDENTIAL", "CONNECTION", "ANY FILE"})

_WORD = re.compile(r"[A-Za-z_]+")
_DIALECT = Databricks()


@dataclass(frozen=True)
class Statement:
    """What a GRANT/REVOKE statement says."""

    action: str  # GRANT | REVOKE
    privileges: tuple[str, ...]  # SQL spelling, upper case, words joined by one space
    securable: str  # "SCHEMA", "EXTERNAL LOCATION", "METASTORE", ...
    name_parts: tuple[str, ...]
    principal: str


class NotTheIntendedStatement(AssertionError):
    """The text does not read back as one statement of the intended shape."""


def tokens_of(sql: str) -> list[Token]:
    """sqlglot's Databricks token stream for ``sql``."""
    try:
        return list(_DIALECT.tokenize(sql))
    except TokenError as error:
        raise NotTheIntendedStatement(f"does not tokenise: {error}") from error


def decode_tokens(sql: str) -> Statement:
    """Read ``sql`` token by token; raise `NotTheIntendedStatement` on anything unexpected."""
    tokens = tokens_of(sql)
    if any(token.comments for token in tokens):
        raise NotTheIntendedStatement("comments inside the statement")
    reader = _Reader(tokens)
    action = reader.word()
    if action not in ("GRANT", "REVOKE"):
        raise NotTheIntendedStatement(f"starts with {action!r}")
    privileges: list[str] = []
    while True:
        words = reader.words_until({"ON"})
        if not words:
            raise NotTheIntendedStatement("empty privilege")
        privileges.append(" ".join(words))
        if reader.take(TokenType.COMMA):
            continue
        reader.expect_word("ON")
        break
    preposition = "TO" if action == "GRANT" else "FROM"
    securable = " ".join(reader.words_until({preposition}))
    parts: list[str] = []
    if reader.peek_type() == TokenType.IDENTIFIER:
        parts.append(reader.identifier())
        while reader.take(TokenType.DOT):
            parts.append(reader.identifier())
    reader.expect_word(preposition)
    principal = reader.identifier()
    if not reader.take(TokenType.SEMICOLON):
        raise NotTheIntendedStatement("no ';' after the principal")
    if not reader.at_end():
        raise NotTheIntendedStatement("tokens after the ';'")
    return Statement(action, tuple(privileges), securable, tuple(parts), principal)


def check_ast(sql: str, intended: Statement) -> exp.Expr:
    """Parse ``sql`` with sqlglot and require exactly the intended statement; return the expression."""
    with _quiet_sqlglot():
        statements = sqlglot.parse(sql, read="databricks")
    if len(statements) != 1 or statements[0] is None:
        raise NotTheIntendedStatement(f"{len(statements)} statements")
    statement = statements[0]
    expected_class = exp.Grant if intended.action == "GRANT" else exp.Revoke
    if intended.securable in COMMAND_KINDS:
        _check_command(statement, sql, intended)
    elif intended.securable in AST_KINDS | AST_BARE_NAME_KINDS:
        if not isinstance(statement, expected_class):
            raise NotTheIntendedStatement(f"parsed as {type(statement).__name__}")
        _check_grant_fields(statement, intended)
    else:
        raise NotTheIntendedStatement(f"no expectation for securable {intended.securable!r}")
    return statement


def check_statement(sql: str, intended: Statement) -> None:
    """Both readings must give exactly ``intended``."""
    decoded = decode_tokens(sql)
    if decoded != intended:
        raise NotTheIntendedStatement(f"token reading {decoded!r} != intended {intended!r}")
    check_ast(sql, intended)


def parses_to_no_statement(sql: str) -> bool:
    """True when ``sql`` is comments and whitespace only: no tokens, no statement."""
    with _quiet_sqlglot():
        statements = sqlglot.parse(sql, read="databricks")
    return not tokens_of(sql) and all(statement is None for statement in statements)


# ---- internals -----------------------------------------------------------------------------------


def _check_command(statement: exp.Expr, sql: str, intended: Statement) -> None:
    if not isinstance(statement, exp.Command):
        raise NotTheIntendedStatement(
            f"sqlglot now parses {intended.securable} as {type(statement).__name__}: update the support table"
        )
    if statement.name.upper() != intended.action:
        raise NotTheIntendedStatement(f"command {statement.name!r}")
    # The command must hold exactly the rest of this one statement.
    rest = sql[len(intended.action) :].removesuffix(";")
    if statement.args.get("expression") != rest:
        raise NotTheIntendedStatement("command text differs from the statement")


def _check_grant_fields(statement: exp.Expr, intended: Statement) -> None:
    privileges = statement.args.get("privileges") or []
    names = []
    for privilege in privileges:
        if not isinstance(privilege, exp.GrantPrivilege) or privilege.expressions:
            raise NotTheIntendedStatement(f"odd privilege {privilege!r}")
        names.append(privilege.this.name)
    if tuple(names) != intended.privileges:
        raise NotTheIntendedStatement(f"privileges {names!r}")

    table = statement.args.get("securable")
    if not isinstance(table, exp.Table):
        raise NotTheIntendedStatement(f"securable {table!r}")
    extra = {key for key, value in table.args.items() if value and key not in ("this", "db", "catalog")}
    if extra:
        raise NotTheIntendedStatement(f"securable has extra parts {extra}")
    identifiers: list[exp.Expr] = [table.args[key] for key in ("catalog", "db", "this") if table.args.get(key)]
    if intended.securable in AST_BARE_NAME_KINDS:
        if statement.args.get("kind") or len(identifiers) != 1:
            raise NotTheIntendedStatement("bare securable expected")
        bare = identifiers[0]
        if bare.args.get("quoted") or bare.name.upper() != intended.securable or intended.name_parts:
            raise NotTheIntendedStatement(f"bare securable {bare!r}")
    else:
        if statement.args.get("kind") != intended.securable:
            raise NotTheIntendedStatement(f"kind {statement.args.get('kind')!r}")
        if not all(isinstance(i, exp.Identifier) and i.args.get("quoted") for i in identifiers):
            raise NotTheIntendedStatement("unquoted name part")
        if tuple(i.name for i in identifiers) != intended.name_parts:
            raise NotTheIntendedStatement(f"name parts {[i.name for i in identifiers]!r}")

    principals = statement.args.get("principals") or []
    if len(principals) != 1:
        raise NotTheIntendedStatement(f"{len(principals)} principals")
    principal = principals[0]
    identifier = principal.this
    if principal.args.get("kind") or not isinstance(identifier, exp.Identifier):
        raise NotTheIntendedStatement(f"principal {principal!r}")
    if not identifier.args.get("quoted") or identifier.name != intended.principal:
        raise NotTheIntendedStatement(f"principal {identifier.name!r}")
    if statement.args.get("grant_option") or statement.args.get("cascade"):
        raise NotTheIntendedStatement("unexpected GRANT OPTION / CASCADE")


class _Reader:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._index = 0

    def at_end(self) -> bool:
        return self._index >= len(self._tokens)

    def peek_type(self) -> TokenType | None:
        return None if self.at_end() else self._tokens[self._index].token_type

    def _next(self) -> Token:
        if self.at_end():
            raise NotTheIntendedStatement("statement ends early")
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _is_word(self) -> bool:
        if self.at_end():
            return False
        token = self._tokens[self._index]
        return token.token_type not in (TokenType.IDENTIFIER, TokenType.STRING) and bool(_WORD.fullmatch(token.text))

    def word(self) -> str:
        if not self._is_word():
            raise NotTheIntendedStatement("keyword expected")
        return self._next().text.upper()

    def words_until(self, stops: set[str]) -> list[str]:
        words = []
        while self._is_word() and self._tokens[self._index].text.upper() not in stops:
            words.append(self.word())
        return words

    def expect_word(self, expected: str) -> None:
        found = self.word()
        if found != expected:
            raise NotTheIntendedStatement(f"{expected} expected, found {found}")

    def take(self, token_type: TokenType) -> bool:
        if self.peek_type() == token_type:
            self._index += 1
            return True
        return False

    def identifier(self) -> str:
        token = self._next()
        if token.token_type != TokenType.IDENTIFIER:
            raise NotTheIntendedStatement(f"quoted identifier expected, found {token.text!r}")
        return token.text


class _quiet_sqlglot:
    """sqlglot logs a warning for every Command fallback; keep test output readable."""

    def __enter__(self) -> None:
        self._logger = logging.getLogger("sqlglot")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)
