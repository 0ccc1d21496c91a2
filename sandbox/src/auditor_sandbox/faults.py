"""Fault injection per endpoint family, and request counting.

A fault applies to one family (`FAMILIES`) and is one of `KINDS`. It may fire on every request, with a
probability (drawn from a seeded generator, so runs repeat), or only on the next `count` requests, so
that a client's retry behaviour is observable: e.g. one 429 with `Retry-After: 1`, then normal answers.
Requests are counted per family whether or not a fault fires.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

FAMILIES = (
    "metadata",
    "oauth",
    "scim",
    "unity-catalog",
    "warehouses",
    "permissions",
    "tokens",
    "workspace-conf",
    "secrets",
    "sql",
)
"""Endpoint families faults and request counts are kept for."""

FaultKind = Literal[
    "latency", "rate-limit", "server-error", "hang", "drop", "expired-credentials", "forbidden", "warehouse-stopped"
]
KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]
"""latency: delay then answer; rate-limit: 429 with Retry-After; server-error: 500/503; hang: no answer
until `seconds` pass (or the sandbox stops), then the connection closes; drop: close the connection
without answering; expired-credentials: 401 as for an expired token; forbidden: 403 PERMISSION_DENIED for this
family alone, as when the caller lacks the one permission it needs; warehouse-stopped: the warehouse
is STOPPED (a state change, undone by clearing faults)."""

_DEFAULT_STATUS = {"server-error": 503, "rate-limit": 429, "expired-credentials": 401, "forbidden": 403}


class FaultError(ValueError):
    """A fault specification that names an unknown family or kind, or carries invalid parameters."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault on one family. `count=None` fires on every request; `probability` filters each one."""

    family: str
    kind: FaultKind
    count: int | None = None
    probability: float = 1.0
    seconds: float | None = None  # latency / hang duration
    status: int | None = None  # server-error: 500 or 503 (default 503)
    retry_after: int | None = 1  # rate-limit (and 503): the Retry-After header, None to omit it
    auto_start: bool = False  # warehouse-stopped: whether queries may start it again
    warehouse_id: str | None = None  # warehouse-stopped: default the scenario's first warehouse

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise FaultError(f"unknown fault family {self.family!r} (known: {', '.join(FAMILIES)})")
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.count is not None and self.count < 0:
            raise FaultError("count must be >= 0")
        if not 0.0 <= self.probability <= 1.0:
            raise FaultError("probability must be between 0 and 1")
        if self.kind == "server-error" and self.status not in (None, 500, 502, 503, 504):
            raise FaultError("server-error status must be 500, 502, 503 or 504")
        if self.seconds is not None and self.seconds < 0:
            raise FaultError("seconds must be >= 0")

    @property
    def http_status(self) -> int:
        """The status an answering fault replies with."""
        return self.status or _DEFAULT_STATUS.get(self.kind, 500)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from a scenario's `faults:` entry or the admin endpoint's JSON body."""
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise FaultError(f"unknown fault parameter(s): {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise FaultError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (as `from_dict` reads it)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request: wait `delay` seconds, then answer normally or apply `fault`."""

    delay: float = 0.0
    fault: Fault | None = None


class FaultInjector:
    """Holds the active faults and the per-family request counts. Thread-safe.

    `latency` (seconds) delays every counted request before any fault applies: the round trip a real
    workspace adds (the benchmark measures with 30 ms). Clearing faults keeps it."""

    def __init__(self, seed: int = 0, *, latency: float = 0.0) -> None:
        if latency < 0:
            raise FaultError("latency must be >= 0")
        self.latency = latency
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._faults: list[Fault] = []
        self._remaining: dict[int, int] = {}  # id(fault) -> requests it still fires on
        self._counts: Counter[str] = Counter()

    def add(self, fault: Fault) -> None:
        """Activate a fault (in addition to those already active)."""
        with self._lock:
            self._faults.append(fault)
            if fault.count is not None:
                self._remaining[id(fault)] = fault.count

    def clear(self) -> list[Fault]:
        """Deactivate every fault; returns those that were active."""
        with self._lock:
            cleared, self._faults = self._faults, []
            self._remaining.clear()
            return cleared

    def active(self) -> list[Fault]:
        """The active faults, in the order they were added."""
        with self._lock:
            return list(self._faults)

    def counts(self) -> dict[str, int]:
        """Requests seen per family (every family present, zero if none)."""
        with self._lock:
            return {family: self._counts.get(family, 0) for family in FAMILIES}

    def reset_counts(self) -> None:
        """Set every family's request count back to zero."""
        with self._lock:
            self._counts.clear()

    def on_request(self, family: str) -> Decision:
        """Count a request of `family` and decide which faults fire on it."""
        with self._lock:
            if family in FAMILIES:
                self._counts[family] += 1
            delay = self.latency
            answer: Fault | None = None
            for fault in self._faults:
                if fault.family != family or fault.kind == "warehouse-stopped":
                    continue
                if not self._fires(fault):
                    continue
                if fault.kind == "latency":
                    delay += fault.seconds if fault.seconds is not None else 1.0
                elif answer is None:
                    answer = fault
            return Decision(delay, answer)

    def _fires(self, fault: Fault) -> bool:
        remaining = self._remaining.get(id(fault))
        if remaining is not None and remaining <= 0:
            return False
        if fault.probability < 1.0 and self._random.random() >= fault.probability:
            return False
        if remaining is not None:
            self._remaining[id(fault)] = remaining - 1
        return True
