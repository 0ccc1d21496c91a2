"""The long-running auditor: scheduled cycles per target, state store, drift, and an HTTP endpoint.

``grants-auditor run --config F`` (or ``python -m auditor.daemon --config F``) runs `run_daemon`.
Its modules import one way, top to bottom:

- `auditor.daemon.entry`: the process: arguments, signals wired to stop and reload, preflight log;
- `auditor.daemon.service`: `Daemon`: each cycle -> `auditor.drift.cycle.record_cycle` (the drift fold
  and one store transaction) -> drift log events -> a published view; reload; graceful stop;
- `auditor.daemon.schedule`: APScheduler triggers (interval or cron, with jitter), the bounded pool
  of daemon threads cycles run on, SIGTERM/SIGINT/SIGHUP handling;
- `auditor.daemon.publish`: `TargetView` and `Publisher`, the latest immutable view per target and the
  metrics: all that ``/metrics``, ``/healthz``, ``/readyz`` and ``/findings`` (`auditor.web`) serve.

See docs/daemon.md.
"""

from auditor.daemon.entry import run_daemon
from auditor.daemon.publish import Publisher, TargetView
from auditor.daemon.schedule import build_trigger, validate_schedules
from auditor.daemon.service import DEFAULT_GRACE_SECONDS, Daemon, cycle_succeeded

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "Daemon",
    "Publisher",
    "TargetView",
    "build_trigger",
    "cycle_succeeded",
    "run_daemon",
    "validate_schedules",
]
