"""Errors a user can fix: a bad config, rule pack, snapshot or command line. The CLI turns them into exit code 2."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad user input (config, rule pack, snapshot): carries file, line and field."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        self.detail = message
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        what = f" {self.field}:" if self.field else ""
        return f"{where}:{what} {self.detail}"
