"""A cycle's budget: its deadline, and the count of what it cost (requests, statements, errors)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from auditor.model.stats import CollectionStats


class Deadline:
    """A point in (monotonic) time after which a cycle sends nothing more."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._started = time.monotonic()
        self._ends = self._started + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._ends - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self._ends

    @property
    def ends_at(self) -> float:
        """The deadline on the `time.monotonic` clock."""
        return self._ends

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def bound(self, seconds: float) -> float:
        """``seconds`` capped by the time left (a timeout never outlives the deadline)."""
        return max(0.0, min(seconds, self.remaining()))


class CostMeter:
    """Thread-safe counters of HTTP requests (retries included), SQL statements and failed reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._statements = 0
        self.deadline_exceeded = False

    def request(self, api_family: str, count: int = 1) -> None:
        with self._lock:
            self._requests[api_family] += count

    def statement(self) -> None:
        with self._lock:
            self._statements += 1

    def error(self, api_family: str) -> None:
        with self._lock:
            self._errors[api_family] += 1

    def requests(self, api_family: str | None = None) -> int:
        """Requests sent so far, for one API family or in total."""
        with self._lock:
            if api_family is None:
                return sum(self._requests.values())
            return self._requests[api_family]

    def stats(self, *, duration_seconds: float, strategy: str) -> CollectionStats:
        """Freeze the counts into the `CollectionStats` model."""
        with self._lock:
            return CollectionStats(
                requests=dict(sorted(self._requests.items())),
                statements=self._statements,
                errors=dict(sorted(self._errors.items())),
                duration_seconds=round(duration_seconds, 3),
                deadline_exceeded=self.deadline_exceeded,
                strategy=strategy,
            )
