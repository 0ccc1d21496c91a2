"""When cycles run: one APScheduler job per target on a bounded pool of daemon threads; the process signals.

A job never overlaps itself (``max_instances=1``; the daemon also holds a per-target lock), missed
runs coalesce into one, and at most ``max_concurrent_targets`` cycles run at once. The pool is the
collectors' `Runner` (daemon threads, so an abandoned cycle cannot keep the process alive).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from auditor.collect.runner import Runner
from auditor.errors import InputError
from auditor.settings import Settings, TargetSettings

DEFAULT_INTERVAL_SECONDS = 60.0  # as `Schedule.interval_seconds`: part of the time to page (docs/runbook.md)


def build_trigger(target: TargetSettings) -> BaseTrigger:
    """The target's trigger: cron when set, else the interval; both with the configured jitter."""
    schedule = target.schedule
    jitter = schedule.jitter_seconds or None  # APScheduler adds uniform(0, jitter) seconds
    if schedule.cron:
        trigger = CronTrigger.from_crontab(schedule.cron, timezone=UTC)
        trigger.jitter = jitter
        return trigger
    return IntervalTrigger(seconds=schedule.interval_seconds or DEFAULT_INTERVAL_SECONDS, jitter=jitter, timezone=UTC)


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


def misfire_grace(target: TargetSettings) -> int:
    """A run later than one interval is dropped: the next one is due anyway (and runs coalesce)."""
    interval = target.schedule.interval_seconds if not target.schedule.cron else DEFAULT_INTERVAL_SECONDS
    return max(1, int(interval or DEFAULT_INTERVAL_SECONDS))


class _RunnerPool:
    """`Runner` under the ``submit(fn, *args)`` / ``shutdown(wait)`` interface APScheduler's pool executor expects."""

    def __init__(self, runner: Runner):
        self._runner = runner

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._runner.submit(partial(fn, *args))

    def shutdown(self, wait: bool = True) -> None:
        self._runner.close()  # running cycles finish (or are abandoned) under the daemon's grace period


class _RunnerExecutor(BasePoolExecutor):  # type: ignore[misc]
    def __init__(self, runner: Runner):
        super().__init__(_RunnerPool(runner))


class CycleScheduler:
    """Runs ``job(target_name)`` on each target's trigger, on at most ``workers`` threads."""

    def __init__(self, job: Callable[[str], object], *, workers: int):
        self._job = job
        self._scheduler = BackgroundScheduler(
            executors={"default": _RunnerExecutor(Runner(workers, name="audit-cycle"))},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._scheduler.start()

    def schedule(self, target: TargetSettings) -> None:
        """(Re)schedule ``target``; its first run is due at once."""
        self._scheduler.add_job(
            self._job,
            trigger=build_trigger(target),
            args=(target.name,),
            id=target.name,
            name=f"audit {target.name}",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=misfire_grace(target),
        )

    def unschedule(self, name: str) -> None:
        if self._scheduler.get_job(name):
            self._scheduler.remove_job(name)

    def shutdown(self) -> None:
        """Stop starting cycles; those running are left to the caller's grace period."""
        self._scheduler.shutdown(wait=False)


def run_all_once(job: Callable[[str], str], names: list[str], *, workers: int) -> list[str]:
    """``job(name)`` once per name, at most ``workers`` at a time; the outcomes in order."""
    with Runner(workers, name="audit-once") as runner:
        futures = [runner.submit(partial(job, name)) for name in names]
        return [future.result() for future in futures]


@contextmanager
def stop_and_reload_signals(
    stop: threading.Event, reload_requested: threading.Event, on_second_stop: Callable[[], None]
) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (a second one calls ``on_second_stop``), SIGHUP sets ``reload_requested``.

    Signal handlers can only be installed from the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_stop(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            on_second_stop()
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
