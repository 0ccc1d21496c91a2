"""The daemon process behind ``grants-auditor run --config F`` (and ``python -m auditor.daemon --config F``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from auditor.daemon.schedule import stop_and_reload_signals
from auditor.daemon.service import DEFAULT_GRACE_SECONDS, Daemon
from auditor.model.facts import ReadState
from auditor.settings import Settings

log = structlog.get_logger("auditor.daemon")


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
    with stop_and_reload_signals(stop, reload_requested, daemon.request_abandon):
        try:
            daemon.start()
            threading.Thread(target=_log_preflight, args=(daemon.settings,), name="preflight", daemon=True).start()
            if on_started is not None:
                on_started(daemon)
            reloading: threading.Thread | None = None
            while not stop.wait(0.2):
                # A reload runs beside the loop, so SIGTERM is heard whatever the new config holds;
                # a SIGHUP during a reload is served by the next one.
                if reload_requested.is_set() and (reloading is None or not reloading.is_alive()):
                    reload_requested.clear()
                    reloading = threading.Thread(target=daemon.reload, name="config-reload", daemon=True)
                    reloading.start()
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
