"""What the daemon publishes: the latest immutable view per target, and the metrics rendered from it.

This is everything ``/metrics``, ``/healthz``, ``/readyz`` and ``/findings`` serve. A cycle replaces a
target's view as a whole (an immutable mapping swapped under a lock), so a reader never waits on a
cycle and never sees half of one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from auditor.drift.diff import Change
from auditor.drift.store import StoredDriftEvent
from auditor.metrics import AuditMetrics
from auditor.model.findings import Report
from auditor.packs.loader import PackSet
from auditor.settings import Settings


@dataclass(frozen=True)
class TargetView:
    """What the daemon publishes for one target; replaced as a whole after each cycle."""

    target: str
    report: Report | None = None
    cycle_id: int | None = None
    finished_at: datetime | None = None
    outcome: str | None = None  # "completed" | "failed"; None before any cycle
    error: str | None = None  # the last failure, redacted
    restored: bool = False  # loaded from the state store at start-up, not yet refreshed
    drift_events: tuple[StoredDriftEvent, ...] = ()
    baseline_approved_at: datetime | None = None
    baseline_changes: tuple[Change, ...] | None = None  # None: no baseline approved

    def failed(self, error: str, finished_at: datetime) -> TargetView:
        """This view after a failed cycle: the last good report stays, the failure is added."""
        return replace(self, outcome="failed", error=error, finished_at=finished_at)


class Publisher:
    """The published views and the metrics registry of one daemon (what the HTTP server reads)."""

    def __init__(self, settings: Settings, packs: PackSet, *, version: str):
        self.registry = CollectorRegistry()
        self.metrics = AuditMetrics(self.registry, version=version)
        self._lock = threading.Lock()
        self._views: Mapping[str, TargetView] = MappingProxyType({})
        self._targets: frozenset[str] = frozenset()
        self._rendered: tuple[object, str, bytes] | None = None  # (metrics state, content type, exposition)
        self.retarget(settings, packs)

    @property
    def views(self) -> Mapping[str, TargetView]:
        """The published state per target (an immutable mapping; never waits on a cycle)."""
        return self._views

    def ready(self) -> bool:
        """Every configured target has state loaded or a first cycle done."""
        views = self._views
        return all(name in views and views[name].outcome is not None for name in self._targets)

    def publish(
        self, name: str, view: TargetView, update_metrics: Callable[[AuditMetrics], None] | None = None
    ) -> None:
        """Swap in ``view`` (and update the metrics) unless the target is no longer configured."""
        with self._lock:
            if name not in self._targets:
                return
            if update_metrics is not None:
                update_metrics(self.metrics)
            self._views = MappingProxyType({**self._views, name: view})
        self.exposition("")  # render now, on the cycle's time, so scrapes until the next change only send bytes

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The metrics in the format an ``Accept`` header asks for, rendered once per change of their state.

        A scrape during a cycle then costs no rendering at all: the interpreter lock a cycle holds is
        needed only to send bytes (issue 11: scrapes must not wait on cycles)."""
        encode, content_type = choose_encoder(accept)
        state = self.metrics.state
        rendered = self._rendered
        if rendered is not None and rendered[0] is state and rendered[1] == content_type:
            return rendered[2], content_type
        body = encode(self.registry)
        self._rendered = (state, content_type, body)
        return body, content_type

    def retarget(self, settings: Settings, packs: PackSet) -> None:
        """Follow a (re)loaded config: drop removed targets' views and series, declare every rule's series."""
        names = frozenset(t.name for t in settings.targets)
        with self._lock:  # a cycle of a removed target finishing now cannot publish it back
            for name in self._targets - names:
                self.metrics.forget_target(name)
            self._views = MappingProxyType({k: v for k, v in self._views.items() if k in names})
            self._targets = names
        self.metrics.declare_targets(declared_rules(settings, packs))


def declared_rules(settings: Settings, packs: PackSet) -> dict[str, list[tuple[str, list[tuple[str, str]]]]]:
    """Per target, per integration instance: the (rule id, severity) pairs its pack declares."""
    declared: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}
    for target in settings.targets:
        bindings = []
        for binding in target.integrations:
            pack = packs.get(binding.pack)
            rules = [(r.id, r.severity.value) for r in pack.spec.rules] if pack is not None else []
            bindings.append((binding.instance, rules))
        declared[target.name] = bindings
    return declared
