"""A SCIM filter parser (`userName eq "a@b.com" and active eq true`): eq, ne, co, sw, ew, pr; and, or,
parentheses. Compiles to a predicate over a resource dict; attribute names and string values compare
case-insensitively, as Databricks' SCIM does for names."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from auditor_sandbox.entities import SandboxError

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+)')
_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "co": lambda a, b: b in a,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
}


def _invalid(detail: str) -> SandboxError:
    return SandboxError("INVALID_PARAMETER_VALUE", f"Invalid filter: {detail}", 400)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            raise _invalid(text)
        tokens.append(found.group(1))
        position = found.end()
    return tokens


def _lookup(resource: dict[str, Any], attribute: str) -> Any:
    wanted = attribute.lower()
    for key, value in resource.items():
        if key.lower() == wanted:
            return value
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _invalid("unexpected end of filter")
        self.position += 1
        return token

    def expression(self) -> Predicate:
        left = self.term()
        while (self.peek() or "").lower() == "or":
            self.take()
            right = self.term()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while (self.peek() or "").lower() == "and":
            self.take()
            right = self.factor()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def factor(self) -> Predicate:
        token = self.take()
        if token == "(":
            inner = self.expression()
            if self.take() != ")":
                raise _invalid("missing ')'")
            return inner
        attribute = token
        op = self.take().lower()
        if op == "pr":
            return lambda r: _lookup(r, attribute) not in (None, "", [])
        if op not in _OPS:
            raise _invalid(f"unsupported operator '{op}'")
        raw = self.take()
        value = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        compare = _OPS[op]
        expected = value.lower()
        return lambda r: (found := _lookup(r, attribute)) is not None and compare(_as_text(found), expected)


def compile_filter(text: str | None) -> Predicate:
    """A predicate for a SCIM filter expression (None or empty: everything matches)."""
    if not text or not text.strip():
        return lambda _resource: True
    parser = _Parser(_tokens(text))
    predicate = parser.expression()
    if parser.peek() is not None:
        raise _invalid(f"unexpected '{parser.peek()}'")
    return predicate
