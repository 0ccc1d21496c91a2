"""Parse the statements the sandbox SQL warehouse executes into small immutable records.

Supported: ``SHOW GRANT[S] [principal] ON <securable>``, ``GRANT``/``REVOKE <privileges> ON <securable>
TO|FROM <principal>``, ``USE [CATALOG|SCHEMA|DATABASE] <name>`` and ``SELECT`` (parsed by sqlglot, checked
by the executor). Anything else raises `SqlError`: a statement the sandbox cannot parse is never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from auditor_sandbox.sql_errors import SqlError

SecurableKind = Literal[
    "CATALOG", "SCHEMA", "TABLE", "VIEW", "EXTERNAL_LOCATION", "STORAGE_CREDENTIAL", "CONNECTION", "METASTORE"
]

_UNSUPPORTED_SECURABLE_KEYWORDS = frozenset(
    {
        "ANONYMOUS",
        "ANY",
        "CLEAN",
        "FUNCTION",
        "MATERIALIZED",
        "MODEL",
        "PROCEDURE",
        "PROVIDER",
        "RECIPIENT",
        "SERVER",
        "SERVICE",
        "SHARE",
        "VOLUME",
    }
)

_TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<line_comment>--[^\n]*)
    |(?P<block_comment>/\*.*?\*/)
    |(?P<quoted>`(?:[^`]|``)*`)
    |(?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
    |(?P<word>[A-Za-z0-9_]+)
    |(?P<punct>[.,;()])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: `kind` is word, quoted (a backticked identifier), string or punct."""

    kind: str
    text: str  # for quoted identifiers: the unquoted name

    @property
    def keyword(self) -> str | None:
        """The upper-cased text of a bare word, None for anything else (a quoted name is never a keyword)."""
        return self.text.upper() if self.kind == "word" else None


@dataclass(frozen=True, slots=True)
class SecurableRef:
    """The securable a statement names; `name_parts` is empty for METASTORE and for a bare ``CATALOG``."""

    kind: SecurableKind
    name_parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShowGrants:
    """``SHOW GRANTS [principal] ON securable``."""

    principal: str | None
    securable: SecurableRef


@dataclass(frozen=True, slots=True)
class ChangeGrants:
    """``GRANT ... TO``, ``DENY ... TO`` (hive_metastore only) or ``REVOKE ... FROM``; privileges upper-cased
    with underscores (``USE_CATALOG``)."""

    action: Literal["GRANT", "DENY", "REVOKE"]
    privileges: tuple[str, ...]
    securable: SecurableRef
    principal: str


@dataclass(frozen=True, slots=True)
class UseNamespace:
    """``USE CATALOG c`` (kind CATALOG) or ``USE [SCHEMA|DATABASE] [c.]s`` (kind SCHEMA)."""

    kind: Literal["CATALOG", "SCHEMA"]
    name_parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SelectQuery:
    """A ``SELECT``, as sqlglot parsed it (Databricks dialect); the executor decides what it supports."""

    tree: exp.Select


Statement = ShowGrants | ChangeGrants | UseNamespace | SelectQuery


def tokenize(sql: str) -> list[Token]:
    """Split a statement into tokens, dropping whitespace and comments and one trailing semicolon."""
    tokens: list[Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN_PATTERN.match(sql, position)
        if match is None:
            raise SqlError.syntax(sql[position : position + 10])
        position = match.end()
        token = _token(match)
        if token is not None:
            tokens.append(token)
    if tokens and tokens[-1] == Token("punct", ";"):
        tokens.pop()
    if any(token == Token("punct", ";") for token in tokens):
        raise SqlError.unsupported("more than one statement per request")
    return tokens


def parse_statement(sql: str) -> Statement:
    """Parse one statement; raise `SqlError` (syntax or unsupported) for anything outside the subset."""
    first_token = _first_token(sql)
    if first_token is None:
        raise SqlError.syntax(None)
    if first_token.keyword in ("SELECT", "WITH") or first_token == Token("punct", "("):
        return _parse_select(sql)
    tokens = tokenize(sql)
    if not tokens:
        raise SqlError.syntax(None)
    first = tokens[0].keyword
    parser = _TokenParser(tokens)
    if first == "SHOW":
        return parser.show_grants()
    if first == "GRANT":
        return parser.change_grants("GRANT")
    if first == "REVOKE":
        return parser.change_grants("REVOKE")
    if first == "DENY":
        return parser.change_grants("DENY")
    if first == "USE":
        return parser.use_namespace()
    raise SqlError.unsupported(f"{tokens[0].text.upper()} statements")


def _first_token(sql: str) -> Token | None:
    """The first token, without lexing the rest (a SELECT is lexed by sqlglot, not by this module)."""
    position = 0
    while position < len(sql):
        match = _TOKEN_PATTERN.match(sql, position)
        if match is None:
            raise SqlError.syntax(sql[position : position + 10])
        token = _token(match)
        if token is not None:
            return token
        position = match.end()
    return None


def _token(match: re.Match[str]) -> Token | None:
    """The token a pattern match stands for; None for whitespace and comments."""
    kind = match.lastgroup
    text = match.group()
    if kind in ("space", "line_comment", "block_comment"):
        return None
    if kind == "quoted":
        return Token("quoted", text[1:-1].replace("``", "`"))
    return Token(str(kind), text)


def _parse_select(sql: str) -> SelectQuery:
    try:
        trees = sqlglot.parse(sql.strip().rstrip(";"), read="databricks")
    except ParseError as error:
        near = error.errors[0].get("highlight") if error.errors else None
        raise SqlError.syntax(str(near) if near else None) from None
    except SqlglotError:  # the tokenizer gave up, e.g. on an unterminated string
        raise SqlError.syntax(None) from None
    if len(trees) != 1:
        raise SqlError.unsupported("more than one statement per request")
    tree = trees[0]
    if not isinstance(tree, exp.Select):
        raise SqlError.unsupported(f"this query form ({type(tree).__name__})")
    return SelectQuery(tree)


class _TokenParser:
    """Recursive-descent parser over a token list for the non-SELECT statements."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._position = 0

    def show_grants(self) -> ShowGrants:
        self._expect_keyword("SHOW")
        what = self._peek_keyword()
        if what not in ("GRANT", "GRANTS"):
            following = self._peek()
            shown = following.text.upper() if following is not None else "without an object"
            raise SqlError.unsupported(f"SHOW {shown}")
        self._advance()
        principal: str | None = None
        if self._peek_keyword() != "ON":
            principal = self._principal()
        self._expect_keyword("ON")
        securable = self._securable(terminator=None)
        self._expect_end()
        return ShowGrants(principal, securable)

    def change_grants(self, action: Literal["GRANT", "DENY", "REVOKE"]) -> ChangeGrants:
        self._expect_keyword(action)
        privileges = self._privileges()
        self._expect_keyword("ON")
        terminator = "FROM" if action == "REVOKE" else "TO"
        securable = self._securable(terminator=terminator)
        self._expect_keyword(terminator)
        principal = self._principal()
        self._expect_end()
        return ChangeGrants(action, privileges, securable, principal)

    def use_namespace(self) -> UseNamespace:
        self._expect_keyword("USE")
        keyword = self._peek_keyword()
        if keyword == "CATALOG" and self._is_name_start(1):
            self._advance()
            parts = self._name()
            if len(parts) != 1:
                raise SqlError.syntax(".".join(parts))
            self._expect_end()
            return UseNamespace("CATALOG", parts)
        if keyword in ("SCHEMA", "DATABASE", "NAMESPACE") and self._is_name_start(1):
            self._advance()
        parts = self._name()
        if len(parts) > 2:
            raise SqlError.syntax(".".join(parts))
        self._expect_end()
        return UseNamespace("SCHEMA", parts)

    def _privileges(self) -> tuple[str, ...]:
        privileges: list[str] = []
        words: list[str] = []
        while True:
            token = self._peek()
            if token is None:
                raise SqlError.syntax(None)
            if token.keyword == "ON" and words:
                break
            if token == Token("punct", ","):
                if not words:
                    raise SqlError.syntax(",")
                privileges.append("_".join(words))
                words = []
            elif token.kind == "word":
                words.append(token.text.upper())
            else:
                raise SqlError.syntax(token.text)
            self._advance()
        privileges.append("_".join(words))
        return tuple("ALL_PRIVILEGES" if name == "ALL" else name for name in privileges)

    def _securable(self, terminator: str | None) -> SecurableRef:
        keyword = self._peek_keyword()
        if keyword is None:
            return SecurableRef("TABLE", self._name())
        if keyword in _UNSUPPORTED_SECURABLE_KEYWORDS and self._is_securable_continuation(terminator):
            raise SqlError.unsupported(f"grants on {keyword} securables")
        if keyword == "METASTORE":
            self._advance()
            return SecurableRef("METASTORE", ())
        if keyword == "CATALOG":
            self._advance()
            if self._is_name_start(0) and (terminator is None or self._peek_keyword() != terminator):
                return SecurableRef("CATALOG", self._name())
            return SecurableRef("CATALOG", ())
        if keyword in ("SCHEMA", "DATABASE"):
            self._advance()
            return SecurableRef("SCHEMA", self._name())
        if keyword in ("TABLE", "VIEW"):
            self._advance()
            return SecurableRef("TABLE" if keyword == "TABLE" else "VIEW", self._name())
        if keyword == "EXTERNAL" and self._is_securable_continuation(terminator):
            self._advance()
            if self._peek_keyword() != "LOCATION":
                raise SqlError.unsupported(f"grants on EXTERNAL {self._describe_next()} securables")
            self._advance()
            return SecurableRef("EXTERNAL_LOCATION", self._name())
        if keyword == "STORAGE" and self._peek_keyword(1) == "CREDENTIAL" and self._is_name_start(2):
            self._advance()
            self._advance()
            return SecurableRef("STORAGE_CREDENTIAL", self._name())
        if keyword == "CREDENTIAL" and self._is_securable_continuation(terminator):
            self._advance()
            return SecurableRef("STORAGE_CREDENTIAL", self._name())
        if keyword == "CONNECTION" and self._is_securable_continuation(terminator):
            self._advance()
            return SecurableRef("CONNECTION", self._name())
        return SecurableRef("TABLE", self._name())

    def _is_securable_continuation(self, terminator: str | None) -> bool:
        """Whether the token after the current keyword continues a securable (so the keyword is one)."""
        following = self._peek(1)
        return following is not None and following.kind in ("word", "quoted") and (following.keyword != terminator)

    def _principal(self) -> str:
        token = self._peek()
        if token is None:
            raise SqlError.syntax(None)
        if token.kind not in ("word", "quoted"):
            raise SqlError.syntax(token.text)
        self._advance()
        return token.text

    def _name(self) -> tuple[str, ...]:
        parts = [self._identifier()]
        while self._peek() == Token("punct", "."):
            self._advance()
            parts.append(self._identifier())
        return tuple(parts)

    def _identifier(self) -> str:
        token = self._peek()
        if token is None:
            raise SqlError.syntax(None)
        if token.kind not in ("word", "quoted"):
            raise SqlError.syntax(token.text)
        self._advance()
        return token.text

    def _is_name_start(self, offset: int) -> bool:
        token = self._peek(offset)
        return token is not None and token.kind in ("word", "quoted")

    def _describe_next(self) -> str:
        token = self._peek()
        return "end of input" if token is None else token.text.upper()

    def _peek(self, offset: int = 0) -> Token | None:
        index = self._position + offset
        return self._tokens[index] if index < len(self._tokens) else None

    def _peek_keyword(self, offset: int = 0) -> str | None:
        token = self._peek(offset)
        return token.keyword if token is not None else None

    def _advance(self) -> None:
        self._position += 1

    def _expect_keyword(self, keyword: str) -> None:
        token = self._peek()
        if token is None:
            raise SqlError.syntax(None)
        if token.keyword != keyword:
            raise SqlError.syntax(token.text)
        self._advance()

    def _expect_end(self) -> None:
        token = self._peek()
        if token is not None:
            raise SqlError.syntax(token.text)
