"""The result of one SQL statement: named STRING columns and rows of nullable strings."""

from __future__ import annotations

from dataclasses import dataclass, field

Row = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class ResultSet:
    """Column names in output order and the rows; a statement without output has no columns."""

    columns: tuple[str, ...] = ()
    rows: list[Row] = field(default_factory=list)

    def column_values(self) -> list[list[str | None]]:
        """The rows transposed into one list per column (the Thrift column-based layout)."""
        if not self.rows:
            return [[] for _ in self.columns]
        return [list(values) for values in zip(*self.rows, strict=True)]


NO_RESULT = ResultSet()
"""What GRANT, REVOKE and USE return."""
