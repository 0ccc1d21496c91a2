"""Schema versions of the documents the auditor writes and reads back: snapshots and reports.

Every document carries ``schema_version``; a document without it was written before versioning and
is version 1. Reading one applies the registered migrations in order (version N -> N+1, each a pure
function on the raw JSON object), so a snapshot or an approved baseline written by this release still
loads after a later release changes the facts. A document newer than this auditor is refused with a
message that says so (it reaches the user as an input error naming the file, never as a traceback).

To change a document's shape: bump ``current``, add the function turning version ``current - 1`` into
the new one under key ``current - 1``, change the model's ``schema_version`` literal, and commit a
fixture of the old version under ``tests/fixtures/versions/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Migration = Callable[[dict[str, Any]], dict[str, Any]]
UNVERSIONED = 1  # what a document without ``schema_version`` is


class SchemaVersionError(ValueError):
    """A document's schema version is newer than this auditor reads, or not a version at all."""


@dataclass(frozen=True)
class DocumentVersions:
    """The current version of one kind of document and the migrations up to it."""

    kind: str
    current: int
    migrations: Mapping[int, Migration] = field(default_factory=dict)  # from version N to N + 1

    def __post_init__(self) -> None:
        missing = [v for v in range(UNVERSIONED, self.current) if v not in self.migrations]
        if missing:
            raise ValueError(f"{self.kind}: no migration from schema version(s) {missing}")

    def upgrade(self, data: Any) -> Any:
        """``data`` (a raw JSON object) at the current version; anything else is returned as it is."""
        if not isinstance(data, dict):
            return data
        version = data.get("schema_version", UNVERSIONED)
        if isinstance(version, bool) or not isinstance(version, int) or version < UNVERSIONED:
            raise SchemaVersionError(f"{self.kind} schema_version must be a whole number from 1, not {version!r}")
        if version > self.current:
            raise SchemaVersionError(
                f"{self.kind} schema version {version} is newer than this auditor reads (up to {self.current});"
                " upgrade grants-auditor to read it"
            )
        if version == self.current and "schema_version" in data:
            return data
        document = dict(data)
        while version < self.current:
            document = self.migrations[version](document)
            version += 1
        document["schema_version"] = version
        return document


SNAPSHOTS = DocumentVersions(kind="snapshot", current=1)
REPORTS = DocumentVersions(kind="report", current=1)
