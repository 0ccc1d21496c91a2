"""The daemon end to end against the sandbox: real collectors, real SQL connector, real HTTP, promtool."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from auditor.daemon import Daemon
from auditor.drift.diff import ChangeKind
from auditor.drift.store import StateStore
from auditor.model.findings import Status
from auditor.settings import load_settings
from auditor_sandbox import Sandbox
from auditor_sandbox.demo import execute_sql

DELTA_LAKE_SP = "5e9e0003-0000-4000-8000-000000000003"
REVOKE = f"REVOKE ALL PRIVILEGES ON CATALOG segment_events FROM `{DELTA_LAKE_SP}`"
GRANT = f"GRANT ALL PRIVILEGES ON CATALOG segment_events TO `{DELTA_LAKE_SP}`"
AWS_CANARY = "aws-canary-secret-0123456789"
DEBOUNCE = 2
TARGET = "sandbox"


def write_config(sandbox: Sandbox, tmp_path: Path, interval: float = 1.0) -> Path:
    config = sandbox.config_dict(auth="pat")
    config["state"] = {"path": str(tmp_path / "state.sqlite")}
    config["server"] = {"bind": "127.0.0.1", "port": 0}
    config["drift"] = {"debounce_cycles": DEBOUNCE}
    (target,) = config["targets"]
    target["schedule"] = {"interval_seconds": interval, "jitter_seconds": 0}
    target["aws"]["secret_access_key"] = AWS_CANARY  # moto accepts any secret: a canary
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(scenario="drifted", port=0) as running:
        yield running


T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def dl3_status(daemon: Daemon) -> Status | None:
    view = daemon.views.get(TARGET)
    if view is None or view.report is None:
        return None
    statuses = {f.status for f in view.report.findings if f.rule_id == "DL-3"}
    return Status.FAIL if Status.FAIL in statuses else next(iter(statuses), None)


def drift_on_segment_events(daemon: Daemon, kind: ChangeKind) -> bool:
    view = daemon.views.get(TARGET)
    return bool(
        view
        and any(
            e.kind is kind and e.subject.lower() == "catalog:segment_events" and e.principal == DELTA_LAKE_SP
            for e in view.drift_events
        )
    )


def promtool_check(text: bytes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (Debian package 'prometheus')")
        pytest.skip("promtool not installed")
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert checked.returncode == 0, checked.stderr.decode()


def flip(daemon: Daemon, sandbox: Sandbox, statement: str, kind: ChangeKind, status: Status) -> int:
    """Run ``statement``; return how many cycles it took until the drift event and the rule flip showed.

    Counted with the store's cycle ids: the cycle in flight when the statement ran counts too.
    """
    last_before = daemon.views[TARGET].cycle_id or 0
    execute_sql(sandbox.host, sandbox.http_path or "", sandbox.auditor_token, statement)
    wait_until(
        lambda: drift_on_segment_events(daemon, kind) and dl3_status(daemon) is status,
        timeout=60,
        what=f"{kind.value} and DL-3 {status.value}",
    )
    event = next(e for e in reversed(daemon.views[TARGET].drift_events) if e.kind is kind)
    return event.cycle_id - last_before


def test_revoke_and_grant_through_sql_become_drift_and_flip_the_rule(sandbox: Sandbox, tmp_path: Path) -> None:
    config = write_config(sandbox, tmp_path)
    daemon = Daemon(load_settings(config), config_path=config, grace_seconds=10)
    daemon.start()
    try:
        assert daemon.wait_for_cycles(TARGET, DEBOUNCE, timeout=60)  # the first reads establish the baseline
        assert dl3_status(daemon) is Status.PASS
        status, body = get(f"{daemon.url}/readyz")
        assert status == 200

        # A cycle may be in flight when the statement runs: debounce + 1 cycles at most.
        assert flip(daemon, sandbox, REVOKE, ChangeKind.GRANT_REMOVED, Status.FAIL) <= DEBOUNCE + 1
        status, body = get(f"{daemon.url}/metrics")
        assert status == 200
        promtool_check(body)
        text = body.decode()
        assert f'grants_auditor_drift_events_total{{kind="grant_removed",target="{TARGET}"}} 1.0' in text
        labels = {
            "target": TARGET,
            "pack": "delta-lake-destination",
            "rule": "DL-3",
            "severity": "critical",
            "state": "fail",
        }
        assert daemon.registry.get_sample_value("grants_auditor_rule_status", labels) == 1.0
        # what GrantsAuditorRuleFailing names: the rule, the securable and the principal
        named = {**labels, "requirement": "DL-3", "subject": "CATALOG:segment_events", "principal": DELTA_LAKE_SP}
        assert daemon.registry.get_sample_value("grants_auditor_finding_status", named) == 1.0
        opened = {"target": TARGET, "kind": "grant_removed", "subject": "CATALOG:segment_events"}
        opened |= {"principal": DELTA_LAKE_SP, "gained": "", "lost": "ALL_PRIVILEGES"}
        assert daemon.registry.get_sample_value("grants_auditor_drift_open", opened) == 1.0

        findings = json.loads(get(f"{daemon.url}/findings")[1])["targets"][TARGET]
        dl3 = [f for f in findings["findings"] if f["rule"] == "DL-3"]
        assert dl3 and dl3[0]["status"] == "fail" and dl3[0]["remediation"]["grant_sql"]
        assert findings["drift_events"][-1]["lost"] == ["ALL_PRIVILEGES"]
        assert get(f"{daemon.url}/healthz")[0] == 200
        assert get(f"{daemon.url}/other")[0] == 404

        assert flip(daemon, sandbox, GRANT, ChangeKind.GRANT_ADDED, Status.PASS) <= DEBOUNCE + 1
        # granted back: the drift is closed, not a second open change; the rule passes, its finding series is gone
        assert daemon.registry.get_sample_value("grants_auditor_drift_open", opened) is None
        assert not [
            s
            for family in daemon.registry.collect()
            for s in family.samples
            if s.name in ("grants_auditor_drift_open", "grants_auditor_finding_status")
            and s.labels.get("subject") == "CATALOG:segment_events"
        ]
    finally:
        assert daemon.stop() is True

    with StateStore(tmp_path / "state.sqlite") as store:
        events = [(e.kind, e.subject.lower(), e.principal) for e in store.drift_events(TARGET)]
        spans = store.finding_history(TARGET)
    # The drifted scenario's planted problems are steady: the only drift is what we did.
    assert events == [
        (ChangeKind.GRANT_REMOVED, "catalog:segment_events", DELTA_LAKE_SP),
        (ChangeKind.GRANT_ADDED, "catalog:segment_events", DELTA_LAKE_SP),
    ]
    dl3_spans = [s.status for s in spans if s.rule_id == "DL-3"]
    assert dl3_spans == [Status.PASS, Status.FAIL, Status.PASS]
    assert_no_secrets(tmp_path / "state.sqlite", [AWS_CANARY, sandbox.auditor_token])


def assert_no_secrets(path: Path, secrets: list[str]) -> None:
    """Neither the raw file nor any decompressed snapshot, report or chunk of them holds a secret."""
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    db = sqlite3.connect(path)
    try:
        texts = [row[0] for row in db.execute("SELECT stats FROM cycles WHERE stats IS NOT NULL")]
        texts += [
            zlib.decompress(row[0]).decode()
            for table, column in (("cycles", "snapshot"), ("cycles", "report"), ("baselines", "snapshot"))
            for row in db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
        ]
        texts += [zlib.decompress(row[0]).decode() for row in db.execute("SELECT data FROM blobs")]
        texts += [zlib.decompress(row[0]).decode() for row in db.execute("SELECT state FROM debounce_state")]
    finally:
        db.close()
    assert texts
    for secret in secrets:
        assert secret.encode() not in raw
        assert not any(secret in text for text in texts)


# ---- the real process: SIGKILL, restart, SIGTERM -----------------------------------------------------


def daemon_command(config: Path) -> list[str]:
    """``grants-auditor run`` when the CLI has it, else the daemon module's own entry point."""
    from auditor.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    entry = ["-m", "auditor.cli", "run"] if "run" in commands else ["-m", "auditor.daemon"]
    return [sys.executable, *entry, "--config", str(config), "--grace-seconds", "15"]


class Process:
    """A daemon subprocess whose JSON log lines (stderr) are collected by a thread."""

    def __init__(self, config: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            daemon_command(config), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        self.lines: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line)
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e.get("event") == event]

    def wait_for(self, event: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]]:
            if self.popen.poll() is not None and len(self.named(event)) < count:
                raise AssertionError(f"the daemon exited ({self.popen.returncode}):\n{''.join(self.lines)}")
            found = self.named(event)
            return found if len(found) >= count else []

        return wait_until(enough, timeout, f"{count} {event} log event(s)")

    def finish(self, timeout: float = 30) -> int:
        code = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.finish()


def test_real_process_survives_sigkill_reloads_on_sighup_and_stops_on_sigterm(sandbox: Sandbox, tmp_path: Path) -> None:
    config = write_config(sandbox, tmp_path)
    first = Process(config)
    try:
        url = first.wait_for("daemon_started")[0]["url"]
        wait_until(lambda: get(f"{url}/readyz")[0] == 200, 60, "/readyz")
        completed_before = len(first.wait_for("cycle_completed", DEBOUNCE))  # the baseline is established
        execute_sql(sandbox.host, sandbox.http_path or "", sandbox.auditor_token, REVOKE)
        (drift,) = first.wait_for("drift")
        assert (drift["kind"], drift["subject"].lower(), drift["principal"], drift["lost"]) == (
            "grant_removed",
            "catalog:segment_events",
            DELTA_LAKE_SP,
            ["ALL_PRIVILEGES"],
        )
        assert drift["level"] == "warning" and drift["target"] == TARGET
        # Kill while the next cycle runs (cycles run back to back at a 1 s interval).
        seen = len(first.wait_for("cycle_completed", completed_before + DEBOUNCE + 1))
        time.sleep(0.4)
        first.popen.send_signal(signal.SIGKILL)
        assert first.finish() == -signal.SIGKILL
    finally:
        first.kill()
    committed = {e["cycle_id"] for e in first.named("cycle_completed")}
    assert len(committed) >= seen

    second = Process(config)
    try:
        second.wait_for("daemon_started")
        second.wait_for("cycle_completed", 2)
        # SIGHUP: a valid change is applied, an invalid one is reported and the running config kept.
        text = config.read_text()
        config.write_text(text.replace("jitter_seconds: 0", "jitter_seconds: 0.1"))
        second.popen.send_signal(signal.SIGHUP)
        assert second.wait_for("config_reloaded")[0]["changed"] == [TARGET]
        config.write_text(text.replace("interval_seconds: 1.0", "interval_seconds: -1"))
        second.popen.send_signal(signal.SIGHUP)
        rejected = second.wait_for("config_reload_failed")[0]
        assert rejected["file"] == str(config) and rejected["line"] > 1
        assert rejected["field"] == "targets[0].schedule.interval_seconds"
        cycles = len(second.named("cycle_completed"))
        second.wait_for("cycle_completed", cycles + 1)  # still auditing on the kept config
        started = time.monotonic()
        second.popen.send_signal(signal.SIGTERM)
        assert second.finish() == 0
        assert time.monotonic() - started < 15
    finally:
        second.kill()
    assert second.named("daemon_stopped")[0]["abandoned"] == []
    assert second.named("drift") == []  # the restart resumes the debounce state: no duplicate event

    with StateStore(tmp_path / "state.sqlite") as store:
        assert store.integrity_check() == "ok"
        stored = {c.id for c in store.cycles(TARGET) if c.outcome == "completed"}
        events = store.drift_events(TARGET)
    assert committed <= stored  # no completed cycle lost
    assert [(e.kind, e.subject.lower()) for e in events] == [(ChangeKind.GRANT_REMOVED, "catalog:segment_events")]
    logs = "".join(first.lines + second.lines)
    for secret in (AWS_CANARY, sandbox.auditor_token):
        assert secret not in logs
