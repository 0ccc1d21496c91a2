"""Errors a user can fix: a bad config, rule pack, snapshot or command line (exit code 2).

Printed to an operator, they name file, line and field, and stay readable whatever the input held.
"""

from __future__ import annotations

from pathlib import Path

_MAX_PART = 300  # characters of a path or field in a message
_MAX_DETAIL = 1000  # characters of the explanation


def clip(text: str, limit: int = _MAX_PART) -> str:
    """``text`` safe for one log or terminal line: control characters escaped, at most ``limit`` characters."""
    escaped = "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text[: limit * 2])
    if len(escaped) > limit or len(text) > limit * 2:
        return f"{escaped[:limit]}… ({len(text):,} characters)"
    return escaped


class InputError(Exception):
    """Bad user input (config, rule pack, snapshot): carries file, line and field."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        self.detail = message
        super().__init__(self.render())

    def render(self) -> str:
        where = clip(self.path) + (f":{self.line}" if self.line else "")
        what = f" {clip(self.field)}:" if self.field else ""
        return f"{where}:{what} {clip(self.detail, _MAX_DETAIL)}"
