"""The sandbox's clock and identifiers, shared by every part of the workspace state."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

_ID_NAMESPACE = uuid.UUID("5a9d0b0c-0000-4000-8000-00000000cafe")


class Clock:
    """Scenario time (an anchor plus real elapsed time plus any advance) and one counter for fresh ids."""

    def __init__(self, lock: threading.RLock, now: datetime | None = None) -> None:
        self._lock = lock
        self._anchor = (now or datetime.now(UTC)).astimezone(UTC)
        self._anchor_monotonic = time.monotonic()
        self._offset = timedelta()
        self._counter = itertools.count(1)

    def now(self) -> datetime:
        elapsed = timedelta(seconds=time.monotonic() - self._anchor_monotonic)
        return self._anchor + elapsed + self._offset

    @property
    def anchor(self) -> datetime:
        return self._anchor

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def sequence(self) -> int:
        """The next number of the workspace-wide counter (one counter keeps every generated id deterministic)."""
        return next(self._counter)

    def new_id(self, kind: str, name: str = "") -> str:
        """A deterministic UUID for an object of `kind` named `name` (fresh when no name is given)."""
        return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{name or self.sequence()}"))

    def numeric_id(self, base: int) -> str:
        return str(base + self.sequence())


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def name_key(name: str) -> str:
    """Names compare case-insensitively, as Unity Catalog and SCIM do."""
    return name.lower()
