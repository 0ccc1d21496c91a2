"""``grants-auditor demo``: the sandbox with the ``drifted`` scenario, the daemon against it, a drift caught.

This is the auditor's side; the emulator's side (the scenario, the REVOKE) is ``auditor_sandbox.demo``, in
the separate ``grants-auditor-sandbox`` distribution, imported lazily.

The demo starts the sandbox on loopback ports, writes its config to a temporary directory,
runs the daemon with a short interval, prints where ``/metrics`` and ``/findings`` are and a summary
of the first cycle, then REVOKEs the Delta Lake service principal's ``ALL PRIVILEGES`` on
``segment_events`` through the real SQL connector (as an operator would by mistake), waits for the
debounced drift event and the rule flipping to ``fail``, prints both and exits 0. With
``--keep-running`` it then stays up (Ctrl-C to stop) so the endpoints can be explored.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import yaml

from auditor.cli.exit_codes import ExitCode
from auditor.daemon import Daemon, TargetView
from auditor.drift.diff import ChangeKind
from auditor.model.findings import Status
from auditor.settings import load_settings

DEMO_INTERVAL_SECONDS = 3.0
DEMO_DEBOUNCE_CYCLES = 2
DEMO_RULE = "DL-3"


def demo_config(sandbox_config: dict[str, Any], workdir: Path, interval: float) -> dict[str, Any]:
    """The sandbox's config with the demo's schedule, state file and an ephemeral HTTP port."""
    config = dict(sandbox_config)
    config["state"] = {"path": str(workdir / "state.sqlite"), "retention_days": 7}
    config["server"] = {"bind": "127.0.0.1", "port": 0}
    config["drift"] = {"debounce_cycles": DEMO_DEBOUNCE_CYCLES}
    targets = []
    for target in config["targets"]:
        schedule = {**target.get("schedule", {}), "interval_seconds": interval, "jitter_seconds": 0}
        schedule.pop("cron", None)
        targets.append({**target, "schedule": schedule})
    config["targets"] = targets
    return config


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _rule_status(view: TargetView | None, rule_id: str, subject_part: str) -> Status | None:
    if view is None or view.report is None:
        return None
    statuses = [f.status for f in view.report.findings if f.rule_id == rule_id and subject_part in f.subject]
    if not statuses:
        statuses = [f.status for f in view.report.findings if f.rule_id == rule_id]
    return Status.FAIL if Status.FAIL in statuses else (statuses[0] if statuses else None)


def _summary(view: TargetView, out: TextIO) -> None:
    report = view.report
    if report is None:
        print(f"  first cycle failed: {view.error}", file=out)
        return
    counts = report.counts()
    print("  " + ", ".join(f"{counts.get(s, 0)} {s.value}" for s in Status), file=out)
    for finding in report.findings:
        if finding.status in (Status.FAIL, Status.ERROR):
            print(f"  {finding.status.value:5} {finding.rule_id:8} {finding.subject}: {finding.title}", file=out)


def run_demo(
    *, keep_running: bool = False, interval: float = DEMO_INTERVAL_SECONDS, out: TextIO | None = None
) -> ExitCode:
    """Run the demo; OK when the drift was caught and the rule flipped, FAILING otherwise."""
    from auditor_sandbox.demo import DriftDemo

    out = out or sys.stdout
    with (
        tempfile.TemporaryDirectory(prefix="grants-auditor-demo-") as tmp,
        DriftDemo.start() as sandbox,
    ):
        workdir = Path(tmp)
        config_path = workdir / "config.yaml"
        config_path.write_text(yaml.safe_dump(demo_config(sandbox.config_dict(), workdir, interval)))
        settings = load_settings(config_path)
        target = settings.targets[0].name
        daemon = Daemon(settings, config_path=config_path)
        daemon.start()
        try:
            return _show(daemon, sandbox, target, interval, keep_running, out)
        finally:
            daemon.stop(grace_seconds=5)


def _show(daemon: Daemon, sandbox: Any, target: str, interval: float, keep_running: bool, out: TextIO) -> ExitCode:
    catalog = sandbox.catalog
    print(f"sandbox workspace: {sandbox.host} (scenario '{sandbox.scenario}')", file=out)
    print(f"metrics:  {daemon.url}/metrics", file=out)
    print(f"findings: {daemon.url}/findings", file=out)
    print(f"auditing '{target}' every {interval:g}s, drift debounce {DEMO_DEBOUNCE_CYCLES} cycles", file=out)
    # The first cycles establish the drift baseline: a change before then would be part of it.
    if not daemon.wait_for_cycles(target, DEMO_DEBOUNCE_CYCLES, timeout=60):
        print(f"the first {DEMO_DEBOUNCE_CYCLES} cycles did not finish within 60 s", file=out)
        return ExitCode.FAILING
    print("\nfirst cycle (the drifted scenario has six planted problems):", file=out)
    _summary(daemon.views[target], out)
    before = _rule_status(daemon.views.get(target), DEMO_RULE, catalog)

    print(f"\nsomeone runs, through the SQL warehouse:\n  {sandbox.revoke_statement}", file=out)
    sandbox.revoke()
    started = time.monotonic()

    def caught() -> bool:
        view = daemon.views.get(target)
        return bool(
            view
            and any(
                e.kind is ChangeKind.GRANT_REMOVED and e.subject.lower() == f"catalog:{catalog}"
                for e in view.drift_events
            )
            and _rule_status(view, DEMO_RULE, catalog) is Status.FAIL
        )

    if not _wait(caught, timeout=(DEMO_DEBOUNCE_CYCLES + 3) * interval + 30):
        print("the drift was not caught in time", file=out)
        return ExitCode.FAILING
    view = daemon.views[target]
    event = next(e for e in view.drift_events if e.kind is ChangeKind.GRANT_REMOVED)
    print(
        f"\ndrift caught after {time.monotonic() - started:.1f}s ({event.cycles} consecutive cycles):",
        file=out,
    )
    print(f"  {event.kind.value} {event.subject}: {event.principal} lost {', '.join(event.lost)}", file=out)
    after = _rule_status(view, DEMO_RULE, catalog)
    print(f"  rule {DEMO_RULE}: {before.value if before else '?'} -> {after.value if after else '?'}", file=out)
    print(f"  (counted in grants_auditor_drift_events_total at {daemon.url}/metrics)", file=out)
    if keep_running:
        print("\nstill running; Ctrl-C to stop", file=out)
        _wait_for_interrupt()
    return ExitCode.OK


def _wait_for_interrupt() -> None:
    stopped = threading.Event()
    try:
        while not stopped.wait(1.0):
            pass
    except KeyboardInterrupt:
        return
