"""The collection's progress, told to whoever listens: the seam a terminal display (or a test) plugs into.

Collectors never print. A cycle tells its listener which (family, scope) reads it plans, then each status as
the sink records it, the first time only: a scope recorded twice (the worse state wins in the sink) counts
once here. Scopes the plan could not know in advance (a group met through a principal, a role found on a
storage credential) arrive as records without a plan entry. Calls come from the collection's worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from auditor.model.facts import FactFamily, ReadState


class CollectionProgress(Protocol):
    def planned(self, scopes: Sequence[tuple[FactFamily, str]]) -> None:
        """The reads this cycle must record a status for (called once, before any record)."""

    def recorded(self, family: FactFamily, scope: str, state: ReadState) -> None:
        """One read has its status (READ, NOT_VISIBLE or FAILED), from a worker thread."""


class NoProgress:
    """The default listener: nobody is watching (the daemon, a pipe)."""

    def planned(self, scopes: Sequence[tuple[FactFamily, str]]) -> None:
        pass

    def recorded(self, family: FactFamily, scope: str, state: ReadState) -> None:
        pass
