"""The long-running auditor: scheduled cycles per target, state store, drift, and an HTTP endpoint.

``grants-auditor run --config F`` (or ``python -m auditor.daemon --config F``) runs `run_daemon`:

- APScheduler schedules one job per target (interval with jitter, or cron); a job never overlaps
  itself (``max_instances=1`` plus a per-target lock), missed runs coalesce into one, and at most
  ``max_concurrent_targets`` cycles run at once on a pool of daemon threads.
- Each cycle: `auditor.cycle.run_cycle` -> one store transaction (snapshot, report, finding history,
  drift through the debouncer) -> one ``drift`` log event per drift event -> metrics -> the
  published findings are swapped (an immutable mapping, so HTTP readers never wait on a cycle).
- HTTP: ``/metrics``, ``/healthz``, ``/readyz``, ``/findings`` (a scrape never waits on a cycle).
- SIGTERM/SIGINT: stop scheduling, let running cycles finish within the grace period (abandon them
  after it, or on a second signal), close the store, exit 0. SIGHUP: reload the config; an invalid
  new config is logged (file, line, field) and the old one kept.

See docs/daemon.md.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, MappingProxyType
from typing import Any, Protocol

import structlog
from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from auditor.drift.diff import Change, diff
from auditor.drift.store import StateStore, StoredDriftEvent, StoreError, state_path
from auditor.errors import InputError
from auditor.model.facts import ReadState, Snapshot
from auditor.model.findings import Report
from auditor.model.stats import CollectionStats
from auditor.settings import Settings, TargetSettings, load_settings
from auditor.web import WebServer

log = structlog.get_logger("auditor.daemon")

DEFAULT_GRACE_SECONDS = 30.0
RECENT_DRIFT_EVENTS = 20  # drift events shown per target on /findings
RETENTION_EVERY_SECONDS = 3600.0


class CycleOutput(Protocol):
    """What a cycle returns (`auditor.cycle.CycleResult`)."""

    @property
    def snapshot(self) -> Snapshot: ...
    @property
    def report(self) -> Report: ...
    @property
    def stats(self) -> CollectionStats: ...


CycleRunner = Callable[[TargetSettings, Any], CycleOutput]
PackLoader = Callable[[Settings], Any]


def _default_runner(target: TargetSettings, packs: Any) -> CycleOutput:
    from auditor.cycle import run_cycle

    return run_cycle(target, packs)


def _default_pack_loader(settings: Settings) -> Any:
    from auditor.cycle import load_packs_for

    return load_packs_for(settings)


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


# ---- a pool of daemon threads ------------------------------------------------------------------


class _DaemonThreadPool:
    """A bounded worker pool whose threads do not keep the process alive (a cycle can be abandoned)."""

    def __init__(self, workers: int, name: str = "audit-cycle"):
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, fn, args))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the future's owner
                future.set_exception(exc)

    def shutdown(self, wait: bool = True) -> None:
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class _DaemonThreadExecutor(BasePoolExecutor):  # type: ignore[misc]
    """APScheduler executor on `_DaemonThreadPool`."""

    def __init__(self, workers: int):
        super().__init__(_DaemonThreadPool(workers))


# ---- scheduling ----------------------------------------------------------------------------------


def build_trigger(target: TargetSettings) -> BaseTrigger:
    """The target's trigger: cron when set, else the interval; both with the configured jitter."""
    schedule = target.schedule
    jitter = schedule.jitter_seconds or None  # APScheduler adds uniform(0, jitter) seconds
    if schedule.cron:
        trigger = CronTrigger.from_crontab(schedule.cron, timezone=UTC)
        trigger.jitter = jitter
        return trigger
    return IntervalTrigger(seconds=schedule.interval_seconds or 300.0, jitter=jitter, timezone=UTC)


def validate_schedules(settings: Settings, path: str | Path) -> None:
    """Every cron expression parses, or `InputError` naming the file, line and field."""
    for index, target in enumerate(settings.targets):
        try:
            build_trigger(target)
        except ValueError as exc:
            loc = ("targets", index, "schedule", "cron")
            raise InputError(
                path,
                f"invalid cron expression: {exc}",
                line=settings.line_of(loc),
                field=f"targets[{index}].schedule.cron",
            ) from exc


def _misfire_grace(target: TargetSettings) -> int:
    """A run later than one interval is dropped: the next one is due anyway (and runs coalesce)."""
    interval = target.schedule.interval_seconds if not target.schedule.cron else 300.0
    return max(1, int(interval or 300.0))


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


# ---- the daemon ------------------------------------------------------------------------------------


@dataclass
class _Running:
    """Cycles in flight, per target, under one condition (for shutdown and for tests)."""

    condition: threading.Condition = field(default_factory=threading.Condition)
    targets: set[str] = field(default_factory=set)
    finished: dict[str, int] = field(default_factory=dict)  # cycles attempted to the end, per target


class Daemon:
    """The scheduler, the store, the metrics and the HTTP server of one auditor process."""

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
        from auditor.metrics import AuditMetrics

        self.config_path = Path(config_path)
        self.grace_seconds = grace_seconds
        self._run_cycle = run_cycle or _default_runner
        self._load_packs = load_packs or _default_pack_loader
        validate_schedules(settings, self.config_path)
        self._settings = settings
        self._packs = self._load_packs(settings)
        self._redact = _redactor(settings)
        self.registry = CollectorRegistry()
        self.metrics = AuditMetrics(self.registry, version=__version__)
        self._declare_targets(settings)
        try:
            self.store = StateStore(state_path(settings))
        except StoreError as exc:
            raise InputError(self.config_path, str(exc), field="state.path") from exc
        self._views: Mapping[str, TargetView] = MappingProxyType({})
        self._views_lock = threading.Lock()
        self._target_locks: dict[str, threading.Lock] = {t.name: threading.Lock() for t in settings.targets}
        self._running = _Running()
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        self._last_retention = 0.0
        self._scheduler: BackgroundScheduler | None = None
        self._web: WebServer | None = None
        self._restore_state()

    # ---- public surface ----------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def views(self) -> Mapping[str, TargetView]:
        """The published state per target (an immutable mapping; never waits on a cycle)."""
        return self._views

    @property
    def url(self) -> str:
        if self._web is None:
            raise RuntimeError("the HTTP server is not running")
        return self._web.url

    def ready(self) -> bool:
        """Config valid (we run on it) and every target has state loaded or a first cycle done."""
        views = self._views
        return all(t.name in views and views[t.name].outcome is not None for t in self._settings.targets)

    def start(self, *, serve_http: bool = True) -> None:
        """Start the HTTP server and the scheduler (every target's first cycle starts at once)."""
        if serve_http:
            server = self._settings.server
            try:
                self._web = WebServer(self, bind=server.bind, port=server.port)
            except OSError as exc:
                raise InputError(
                    self.config_path,
                    f"cannot listen on {server.bind}:{server.port}: {exc.strerror or exc}",
                    field="server.port",
                ) from exc
        self._apply_retention(force=True)
        workers = self._settings.max_concurrent_targets
        self._scheduler = BackgroundScheduler(
            executors={"default": _DaemonThreadExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._scheduler.start()
        for target in self._settings.targets:
            self._schedule(target)
        log.info(
            "daemon_started",
            url=self._web.url if self._web else None,
            targets=[t.name for t in self._settings.targets],
            state=str(self.store.path),
            max_concurrent_targets=workers,
        )

    def run_once(self) -> int:
        """One cycle per target (concurrently, bounded), then return: 0 if every cycle completed."""
        pool = _DaemonThreadPool(self._settings.max_concurrent_targets, name="audit-once")
        futures = [pool.submit(self.run_target_cycle, t.name) for t in self._settings.targets]
        outcomes = [f.result() for f in futures]
        pool.shutdown(wait=True)
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
        self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
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
        """Re-read the config file; keep the running config when the new one is invalid."""
        try:
            new = load_settings(self.config_path)
            validate_schedules(new, self.config_path)
            packs = self._load_packs(new)
        except InputError as exc:
            log.error("config_reload_failed", file=exc.path, line=exc.line, field=exc.field, error=exc.detail)
            return False
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
            log.warning("config_reload_needs_restart", settings=needs_restart, kept="the running values")
            new = new.model_copy(
                update={
                    "server": old.server,
                    "state": old.state,
                    "max_concurrent_targets": old.max_concurrent_targets,
                }
            )
        before = {t.name: t for t in old.targets}
        after = {t.name: t for t in new.targets}
        removed = sorted(set(before) - set(after))
        added = sorted(set(after) - set(before))
        changed = sorted(n for n in set(before) & set(after) if before[n] != after[n])
        self._redact = _redactor(new)
        self._packs = packs
        for name in added:
            self._target_locks.setdefault(name, threading.Lock())
        with self._views_lock:  # a cycle of a removed target finishing now cannot publish it back
            self._settings = new
            for name in removed:
                self.metrics.forget_target(name)
            self._views = MappingProxyType({k: v for k, v in self._views.items() if k not in removed})
        self._declare_targets(new)
        for name in removed:
            if self._scheduler is not None and self._scheduler.get_job(name):
                self._scheduler.remove_job(name)
        for name in (*added, *changed):
            self._schedule(after[name])
        log.info("config_reloaded", added=added, removed=removed, changed=changed)
        return True

    # ---- cycles ----------------------------------------------------------------------------------

    def _schedule(self, target: TargetSettings) -> None:
        if self._scheduler is None:
            return
        self._scheduler.add_job(
            self.run_target_cycle,
            trigger=build_trigger(target),
            args=(target.name,),
            id=target.name,
            name=f"audit {target.name}",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=_misfire_grace(target),
        )

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
            commit = self.store.commit_cycle(
                snapshot=result.snapshot,
                report=result.report,
                stats=result.stats,
                started_at=started,
                finished_at=finished,
                debounce_cycles=settings.drift.debounce_cycles,
            )
        except Exception as exc:
            return self._failed(target.name, started, exc)
        for event in commit.events:
            change = event.change
            log.warning(
                "drift",
                target=target.name,
                kind=change.kind.value,
                subject=change.subject,
                principal=change.principal,
                gained=list(change.gained),
                lost=list(change.lost),
                first_seen=event.first_seen.isoformat(),
                cycles=event.cycles,
                event_key=event.event_key,
            )

        def update_metrics() -> None:
            for event in commit.events:
                self.metrics.record_drift(target.name, event.change.kind.value)
            self.metrics.publish_cycle(
                target.name,
                result.report,
                result.stats,
                finished_at=finished,
                succeeded=cycle_succeeded(result.snapshot, result.stats),
            )

        baseline = self.store.baseline(target.name)
        self._publish(
            target.name,
            TargetView(
                target=target.name,
                report=result.report,
                cycle_id=commit.cycle_id,
                finished_at=finished,
                outcome="completed",
                drift_events=tuple(self.store.drift_events(target.name, limit=RECENT_DRIFT_EVENTS)),
                baseline_approved_at=baseline.approved_at if baseline else None,
                baseline_changes=tuple(diff(baseline.snapshot, result.snapshot, result.report.audited))
                if baseline
                else None,
            ),
            update_metrics,
        )
        counts = result.report.counts()
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

    def _failed(self, name: str, started: datetime, exc: Exception) -> str:
        if self._stopping.is_set() and isinstance(exc, StoreError):
            log.info("cycle_abandoned_at_commit", target=name)
            return "failed"
        error = f"{type(exc).__name__}: {self._redact(str(exc))}"[:500]
        log.error("cycle_failed", target=name, error_type=type(exc).__name__, error=error)
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        with suppress(StoreError):  # closed while stopping: nothing to record into
            self.store.record_failure(target=name, started_at=started, finished_at=datetime.now(UTC), error=error)
        previous = self._views.get(name) or TargetView(target=name)
        self._publish(
            name,
            TargetView(**{**previous.__dict__, "outcome": "failed", "error": error, "finished_at": datetime.now(UTC)}),
            lambda: self.metrics.record_cycle_failure(name, reason),
        )
        return "failed"

    # ---- state ---------------------------------------------------------------------------------

    def _publish(self, name: str, view: TargetView, update_metrics: Callable[[], None] | None = None) -> None:
        """Swap in ``view`` (and update the metrics) unless the target was removed meanwhile."""
        with self._views_lock:
            if not any(t.name == name for t in self._settings.targets):
                return
            if update_metrics is not None:
                update_metrics()
            self._views = MappingProxyType({**self._views, name: view})

    def _restore_state(self) -> None:
        """Publish each target's last completed cycle from the store (readiness before a first cycle)."""
        for target in self._settings.targets:
            cycle = self.store.latest_cycle(target.name)
            if cycle is None:
                continue
            baseline = self.store.baseline(target.name)
            snapshot = self.store.snapshot(cycle.id) if baseline else None
            report = self.store.report(cycle.id)
            self._publish(
                target.name,
                TargetView(
                    target=target.name,
                    report=report,
                    cycle_id=cycle.id,
                    finished_at=cycle.finished_at,
                    outcome="completed",
                    restored=True,
                    drift_events=tuple(self.store.drift_events(target.name, limit=RECENT_DRIFT_EVENTS)),
                    baseline_approved_at=baseline.approved_at if baseline else None,
                    baseline_changes=tuple(diff(baseline.snapshot, snapshot, report.audited))
                    if baseline and snapshot
                    else None,
                ),
            )

    def _apply_retention(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_retention < RETENTION_EVERY_SECONDS:
            return
        self._last_retention = time.monotonic()
        try:
            removed = self.store.apply_retention(self._settings.state.retention_days)
        except StoreError:
            return
        if removed.cycles or removed.finding_spans or removed.drift_events:
            log.info("retention_applied", **removed.__dict__)

    def _declare_targets(self, settings: Settings) -> None:
        declared: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}
        for target in settings.targets:
            bindings = []
            for binding in target.integrations:
                pack = self._packs.get(binding.pack) if hasattr(self._packs, "get") else None
                rules = [(r.id, r.severity.value) for r in pack.spec.rules] if pack is not None else []
                bindings.append((binding.instance, rules))
            declared[target.name] = bindings
        self.metrics.declare_targets(declared)


# ---- process entry -------------------------------------------------------------------------------


def run_daemon(
    settings: Settings,
    *,
    config_path: Path,
    stop_event: threading.Event | None = None,
    once: bool = False,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    on_started: Callable[[Daemon], None] | None = None,
) -> int:
    """Run the auditor until SIGTERM/SIGINT (or ``stop_event``); SIGHUP reloads the config.

    Returns 0 after a clean or grace-limited stop. With ``once``, runs one cycle per target and
    returns 0 when every cycle completed, 1 otherwise. Bad config or an unusable port or state file
    raise `InputError`.
    """
    daemon = Daemon(settings, config_path=config_path, grace_seconds=grace_seconds)
    if once:
        try:
            return daemon.run_once()
        finally:
            daemon.stop(grace_seconds=0)
    stop = stop_event or threading.Event()
    reload_requested = threading.Event()
    with _signals(stop, reload_requested, daemon):
        try:
            daemon.start()
            threading.Thread(target=_log_preflight, args=(daemon.settings,), name="preflight", daemon=True).start()
            if on_started is not None:
                on_started(daemon)
            while not stop.wait(0.2):
                if reload_requested.is_set():
                    reload_requested.clear()
                    daemon.reload()
        finally:
            daemon.stop()
    return 0


def _log_preflight(settings: Settings) -> None:
    """At start, say who the auditor is on each target and which fact families it cannot read (X-3)."""
    from auditor.collect.preflight import preflight

    for target in settings.targets:
        try:
            result = preflight(target)
        except Exception as exc:  # a probe must never take the daemon down
            log.warning("preflight_failed", target=target.name, error=type(exc).__name__)
            continue
        log.info(
            "preflight",
            target=target.name,
            identity=result.identity,
            groups=list(result.groups),
            readable=[s.family.value for s in result.families if s.state is ReadState.READ],
            blind_spots={s.family.value: f"{s.state.value}: {s.reason}" for s in result.blind_spots()},
        )


@contextmanager
def _signals(stop: threading.Event, reload_requested: threading.Event, daemon: Daemon) -> Iterator[None]:
    """SIGTERM/SIGINT stop (a second one abandons running cycles), SIGHUP reloads. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            daemon.request_abandon()
        stop.set()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        reload_requested.set()

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, on_stop),
        signal.SIGINT: signal.signal(signal.SIGINT, on_stop),
        signal.SIGHUP: signal.signal(signal.SIGHUP, on_hup),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
