"""The daemon: runs each target's cycles on the scheduler, records them in the store, publishes the result.

A cycle: `auditor.cycle.run_cycle` -> `auditor.drift.cycle.record_cycle` (the drift fold, then one store
transaction) -> one ``drift`` log event per drift event -> a new `TargetView` and the metrics, published
together. Imports run one way: this module uses `schedule`, `publish` and the HTTP server; none of them
imports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry

from auditor.cycle import suppressed
from auditor.daemon.publish import Publisher, TargetView
from auditor.daemon.schedule import CycleScheduler, run_all_once, validate_schedules
from auditor.drift.cycle import CommitResult, record_cycle
from auditor.drift.debounce import open_changes
from auditor.drift.diff import Change, diff
from auditor.drift.facts import extract
from auditor.drift.store import StateStore, StoreError, state_path
from auditor.errors import InputError, clip
from auditor.evaluate.suppress import ApprovedBaseline
from auditor.metrics import AuditMetrics
from auditor.model.facts import ReadState, Snapshot
from auditor.model.findings import Report
from auditor.model.stats import CollectionStats
from auditor.packs.loader import PackSet
from auditor.settings import Settings, TargetSettings, load_settings
from auditor.web import WebServer

log = structlog.get_logger("auditor.daemon")

DEFAULT_GRACE_SECONDS = 30.0
RECENT_DRIFT_EVENTS = 20  # drift events shown per target on /findings
RETENTION_EVERY_SECONDS = 3600.0
_MAX_RELOAD_ERROR = 500  # characters of a config_reload_failed reason
_MAX_CYCLE_ERROR = 500  # characters of a cycle_failed reason


class CycleOutput(Protocol):
    """What a cycle returns (`auditor.cycle.CycleResult`)."""

    @property
    def snapshot(self) -> Snapshot: ...
    @property
    def report(self) -> Report: ...
    @property
    def stats(self) -> CollectionStats: ...


CycleRunner = Callable[[TargetSettings, PackSet], CycleOutput]
PackLoader = Callable[[Settings], PackSet]


def _default_runner(target: TargetSettings, packs: PackSet) -> CycleOutput:
    from auditor.cycle import run_cycle

    return run_cycle(target, packs)


def _default_pack_loader(settings: Settings) -> PackSet:
    from auditor.cycle import load_packs_for

    return load_packs_for(settings)


def cycle_succeeded(snapshot: Snapshot, stats: CollectionStats) -> bool:
    """A completed cycle counts as a success (for staleness) unless it ran out of time or read nothing."""
    return not stats.deadline_exceeded and any(r.state is ReadState.READ for r in snapshot.reads)


def _redactor(settings: Settings) -> Callable[[str], str]:
    from auditor.log import redact_text, register_secret
    from auditor.settings import secret_values

    secrets = [s for s in secret_values(settings) if s]
    for secret in secrets:
        register_secret(secret)

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[REDACTED]")
        return redact_text(text)

    return redact


@dataclass(frozen=True)
class _Reload:
    """A new config, complete and checked, not yet applied."""

    settings: Settings
    packs: PackSet
    needs_restart: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


@dataclass
class _Running:
    """Cycles in flight, per target, under one condition (for shutdown and for tests)."""

    condition: threading.Condition = field(default_factory=threading.Condition)
    targets: set[str] = field(default_factory=set)
    finished: dict[str, int] = field(default_factory=dict)  # cycles attempted to the end, per target


class Daemon:
    """The scheduler, the store, the published views and the HTTP server of one auditor process."""

    def __init__(
        self,
        settings: Settings,
        *,
        config_path: str | Path,
        run_cycle: CycleRunner | None = None,
        load_packs: PackLoader | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ):
        from auditor import __version__

        self.config_path = Path(config_path)
        self.grace_seconds = grace_seconds
        self._run_cycle = run_cycle or _default_runner
        self._load_packs = load_packs or _default_pack_loader
        validate_schedules(settings, self.config_path)
        self._settings = settings
        self._packs = self._load_packs(settings)
        self._redact = _redactor(settings)
        self.published = Publisher(settings, self._packs, version=__version__)
        try:
            self.store = StateStore(state_path(settings))
        except StoreError as exc:
            raise InputError(self.config_path, str(exc), field="state.path") from exc
        self._target_locks: dict[str, threading.Lock] = {t.name: threading.Lock() for t in settings.targets}
        self._running = _Running()
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._reload_lock = threading.Lock()
        self._last_retention = 0.0
        self._baseline_reports: dict[str, tuple[object, ApprovedBaseline]] = {}
        self._scheduler: CycleScheduler | None = None
        self._web: WebServer | None = None
        self._restore_state()

    # ---- public surface ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def metrics(self) -> AuditMetrics:
        return self.published.metrics

    @property
    def registry(self) -> CollectorRegistry:
        return self.published.registry

    @property
    def views(self) -> Mapping[str, TargetView]:
        """The published state per target (an immutable mapping; never waits on a cycle)."""
        return self.published.views

    @property
    def url(self) -> str:
        if self._web is None:
            raise RuntimeError("the HTTP server is not running")
        return self._web.url

    def ready(self) -> bool:
        """Config valid (we run on it) and every target has state loaded or a first cycle done."""
        return self.published.ready()

    def start(self, *, serve_http: bool = True) -> None:
        """Start the HTTP server and the scheduler (every target's first cycle starts at once)."""
        if serve_http:
            server = self._settings.server
            try:
                self._web = WebServer(self.published, options=server, config_path=self.config_path)
            except OSError as exc:
                raise InputError(
                    self.config_path,
                    f"cannot listen on {server.bind}:{server.port}: {exc.strerror or exc}",
                    field="server.port",
                ) from exc
        self._apply_retention(force=True)
        workers = self._settings.max_concurrent_targets
        self._scheduler = CycleScheduler(self.run_target_cycle, workers=workers)
        for target in self._settings.targets:
            self._scheduler.schedule(target)
        log.info(
            "daemon_started",
            url=self._web.url if self._web else None,
            targets=[t.name for t in self._settings.targets],
            state=str(self.store.path),
            max_concurrent_targets=workers,
        )

    def run_once(self) -> int:
        """One cycle per target (concurrently, bounded), then return: 0 if every cycle completed."""
        names = [t.name for t in self._settings.targets]
        outcomes = run_all_once(self.run_target_cycle, names, workers=self._settings.max_concurrent_targets)
        return 0 if all(o == "completed" for o in outcomes) else 1

    def wait_for_cycles(self, target: str, count: int, timeout: float) -> bool:
        """Block until ``target`` has finished ``count`` cycles in this process (tests, the demo)."""
        with self._running.condition:
            return self._running.condition.wait_for(
                lambda: self._running.finished.get(target, 0) >= count, timeout=timeout
            )

    def cycles_finished(self, target: str) -> int:
        with self._running.condition:
            return self._running.finished.get(target, 0)

    def request_abandon(self) -> None:
        """Stop waiting for running cycles at once (a second SIGTERM/SIGINT)."""
        self._abandon.set()

    def stop(self, grace_seconds: float | None = None) -> bool:
        """Stop scheduling, wait up to the grace period for running cycles, close everything.

        Returns True when no cycle had to be abandoned. Idempotent.
        """
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        if self._stopping.is_set() and self._scheduler is None and self._web is None:
            return True
        with self._reload_lock:
            self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown()
            self._scheduler = None
        deadline = time.monotonic() + grace
        with self._running.condition:
            log.info("daemon_stopping", grace_seconds=grace, running=sorted(self._running.targets))
            while self._running.targets and not self._abandon.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._running.condition.wait(timeout=min(remaining, 0.2))
            abandoned = sorted(self._running.targets)
        if abandoned:
            log.warning("cycle_abandoned", targets=abandoned, grace_seconds=grace)
        if self._web is not None:
            self._web.close()
            self._web = None
        self.store.close()  # waits for a commit in progress; an abandoned cycle can no longer commit
        log.info("daemon_stopped", abandoned=abandoned)
        return not abandoned

    # ---- reload ----------------------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-read the config file and apply it whole, or keep the running config and log why not.

        All-or-nothing: the new settings, packs and triggers are built completely before anything is
        swapped, and any failure on the way (decoding, limits, validation, packs, cron) is one
        ``config_reload_failed`` event. Safe to run on a worker thread: a stop that begins while the
        new config is being built wins, and the half-built config is dropped.
        """
        log.info("config_reload_started", file=str(self.config_path))
        try:
            prepared = self._prepare_reload()
        except InputError as exc:
            log.error(
                "config_reload_failed",
                file=clip(exc.path),
                line=exc.line,
                field=clip(exc.field) if exc.field else None,
                error=clip(exc.detail, _MAX_RELOAD_ERROR),
            )
            return False
        except Exception as exc:  # the boundary: whatever the file held, the daemon keeps its config
            log.error(
                "config_reload_failed",
                file=str(self.config_path),
                line=None,
                field=None,
                error=self._reason(exc, _MAX_RELOAD_ERROR),
            )
            return False
        return self._apply_reload(prepared)

    def _prepare_reload(self) -> _Reload:
        """The complete new config (settings, packs), checked; nothing of the running daemon is touched."""
        new = load_settings(self.config_path)
        validate_schedules(new, self.config_path)
        packs = self._load_packs(new)
        old = self._settings
        needs_restart = [
            name
            for name, before, after in (
                ("server", old.server, new.server),
                ("state", old.state, new.state),
                ("max_concurrent_targets", old.max_concurrent_targets, new.max_concurrent_targets),
            )
            if before != after
        ]
        if needs_restart:
            new = new.model_copy(
                update={
                    "server": old.server,
                    "state": old.state,
                    "max_concurrent_targets": old.max_concurrent_targets,
                }
            )
        before = {t.name: t for t in old.targets}
        after = {t.name: t for t in new.targets}
        return _Reload(
            settings=new,
            packs=packs,
            needs_restart=tuple(needs_restart),
            added=tuple(sorted(set(after) - set(before))),
            removed=tuple(sorted(set(before) - set(after))),
            changed=tuple(sorted(n for n in set(before) & set(after) if before[n] != after[n])),
        )

    def _apply_reload(self, reload: _Reload) -> bool:
        with self._reload_lock:  # stop() takes it too: a reload is applied whole before a stop, or not at all
            if self._stopping.is_set():
                log.info("config_reload_dropped", reason="stopping")
                return False
            if reload.needs_restart:
                log.warning(
                    "config_reload_needs_restart", settings=list(reload.needs_restart), kept="the running values"
                )
            new = reload.settings
            after = {t.name: t for t in new.targets}
            self._redact = _redactor(new)
            self._packs = reload.packs
            for name in reload.added:
                self._target_locks.setdefault(name, threading.Lock())
            self._settings = new
            self.published.retarget(new, reload.packs)
            if self._scheduler is not None:
                for name in reload.removed:
                    self._scheduler.unschedule(name)
                for name in (*reload.added, *reload.changed):
                    self._scheduler.schedule(after[name])
        log.info(
            "config_reloaded", added=list(reload.added), removed=list(reload.removed), changed=list(reload.changed)
        )
        return True

    # ---- cycles ----------------------------------------------------------------------------------

    def _target(self, name: str) -> TargetSettings | None:
        return next((t for t in self._settings.targets if t.name == name), None)

    def run_target_cycle(self, name: str) -> str:
        """Run one cycle of target ``name``: "completed", "failed" or "skipped"."""
        lock = self._target_locks.setdefault(name, threading.Lock())
        if self._stopping.is_set() or not lock.acquire(blocking=False):
            log.info("cycle_skipped", target=name, reason="stopping" if self._stopping.is_set() else "running")
            return "skipped"
        with self._running.condition:
            self._running.targets.add(name)
        try:
            target = self._target(name)
            if target is None:
                return "skipped"
            return self._cycle(target)
        finally:
            lock.release()
            with self._running.condition:
                self._running.targets.discard(name)
                self._running.finished[name] = self._running.finished.get(name, 0) + 1
                self._running.condition.notify_all()

    def _cycle(self, target: TargetSettings) -> str:
        started = datetime.now(UTC)
        settings, packs = self._settings, self._packs
        try:
            result = self._run_cycle(target, packs)
            finished = datetime.now(UTC)
            report = suppressed(result.report, settings, baseline=self._approved_baseline(target, packs))
            commit = record_cycle(
                self.store,
                snapshot=result.snapshot,
                report=report,
                stats=result.stats,
                started_at=started,
                finished_at=finished,
                debounce_cycles=settings.drift.debounce_cycles,
            )
            drift_open = self._open_drift(target.name, report)
        except Exception as exc:
            return self._failed(target.name, started, exc)
        _log_drift(target.name, commit)

        def update_metrics(metrics: AuditMetrics) -> None:
            for event in commit.events:
                metrics.record_drift(target.name, event.change.kind.value)
            metrics.publish_drift_open(target.name, drift_open)
            metrics.publish_cycle(
                target.name,
                report,
                result.stats,
                finished_at=finished,
                succeeded=cycle_succeeded(result.snapshot, result.stats),
            )

        self.published.publish(
            target.name,
            self._view(target.name, commit.cycle_id, report, result.snapshot, finished),
            update_metrics,
        )
        counts = report.counts()
        log.info(
            "cycle_completed",
            target=target.name,
            cycle_id=commit.cycle_id,
            seconds=round((finished - started).total_seconds(), 3),
            drift_events=len(commit.events),
            **{status.value: counts.get(status, 0) for status in counts},
        )
        self._apply_retention()
        return "completed"

    def _open_drift(self, name: str, report: Report) -> list[Change]:
        """The confirmed changes not undone since the approved baseline (or the first confirmed state)."""
        checkpoint = self.store.drift_checkpoint(name)
        if checkpoint is None:
            return []
        baseline = self.store.baseline(name)
        return open_changes(checkpoint.state, extract(baseline.snapshot, report.audited) if baseline else None)

    def _approved_baseline(self, target: TargetSettings, packs: PackSet) -> ApprovedBaseline | None:
        """The target's approved baseline evaluated with today's packs and bindings (once per baseline and packs)."""
        baseline = self.store.baseline(target.name)
        if baseline is None:
            return None
        key = (baseline.id, id(packs), target.integrations)
        cached = self._baseline_reports.get(target.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        from auditor.evaluate.engine import evaluate

        report = evaluate(baseline.snapshot, packs, now=baseline.snapshot.collected_at, bindings=target.integrations)
        approved = ApprovedBaseline(report=report, approved_at=baseline.approved_at, approved_by=baseline.approved_by)
        self._baseline_reports[target.name] = (key, approved)
        return approved

    def _reason(self, exc: Exception, limit: int) -> str:
        """``exc`` as one redacted line of at most ``limit`` characters, in time bounded by ``limit``.

        Cut before redacting (its patterns are not linear on megabytes); a secret cut in two at the cut
        lies far beyond what the clip keeps.
        """
        return clip(self._redact(f"{type(exc).__name__}: {str(exc)[: limit * 8]}"), limit)

    def _failed(self, name: str, started: datetime, exc: Exception) -> str:
        if self._stopping.is_set() and isinstance(exc, StoreError):
            log.info("cycle_abandoned_at_commit", target=name)
            return "failed"
        error = self._reason(exc, _MAX_CYCLE_ERROR)
        log.error("cycle_failed", target=name, error_type=type(exc).__name__, error=error)
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        with suppress(StoreError):  # closed while stopping: nothing to record into
            self.store.record_failure(target=name, started_at=started, finished_at=datetime.now(UTC), error=error)
        previous = self.published.views.get(name) or TargetView(target=name)
        self.published.publish(
            name,
            previous.failed(error, datetime.now(UTC)),
            lambda metrics: metrics.record_cycle_failure(name, reason),
        )
        return "failed"

    # ---- state ---------------------------------------------------------------------------------

    def _view(
        self,
        name: str,
        cycle_id: int,
        report: Report,
        snapshot: Snapshot | None,
        finished_at: datetime,
        *,
        restored: bool = False,
    ) -> TargetView:
        """A completed cycle's view: its report, recent drift and the comparison with the approved baseline."""
        baseline = self.store.baseline(name)
        return TargetView(
            target=name,
            report=report,
            cycle_id=cycle_id,
            finished_at=finished_at,
            outcome="completed",
            restored=restored,
            drift_events=tuple(self.store.drift_events(name, limit=RECENT_DRIFT_EVENTS)),
            baseline_approved_at=baseline.approved_at if baseline else None,
            baseline_changes=tuple(diff(baseline.snapshot, snapshot, report.audited))
            if baseline and snapshot
            else None,
        )

    def _restore_state(self) -> None:
        """Publish each target's last completed cycle from the store (readiness before a first cycle)."""
        for target in self._settings.targets:
            cycle = self.store.latest_cycle(target.name)
            if cycle is None:
                continue
            snapshot = self.store.snapshot(cycle.id) if self.store.baseline(target.name) else None
            report = self.store.report(cycle.id)
            view = self._view(target.name, cycle.id, report, snapshot, cycle.finished_at, restored=True)
            self.published.publish(
                target.name, view, partial(_restore_metrics, target.name, report, self._open_drift(target.name, report))
            )

    def _apply_retention(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_retention < RETENTION_EVERY_SECONDS:
            return
        self._last_retention = time.monotonic()
        try:
            state = self._settings.state
            removed = self.store.apply_retention(state.retention_days, max_bytes=state.max_size_mb * 1024 * 1024)
        except StoreError:
            return
        if removed.cycles or removed.finding_spans or removed.drift_events or removed.blobs:
            log.info("retention_applied", **removed.__dict__)


def _restore_metrics(target: str, report: Report, drift_open: list[Change], metrics: AuditMetrics) -> None:
    metrics.restore(target, report, drift_open)


def _log_drift(target: str, commit: CommitResult) -> None:
    for event in commit.events:
        change = event.change
        log.warning(
            "drift",
            target=target,
            kind=change.kind.value,
            subject=change.subject,
            principal=change.principal,
            gained=list(change.gained),
            lost=list(change.lost),
            first_seen=event.first_seen.isoformat(),
            cycles=event.cycles,
            event_key=event.event_key,
        )
