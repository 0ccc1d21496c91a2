"""Reload drill (quick mode): a real daemon process survives SIGHUP with every hostile config or pack file.

For each hostile file the config is replaced (or the file dropped into a ``rule_dirs`` folder), SIGHUP is sent,
and the process must log one bounded ``config_reload_failed`` naming the reason within 2 s, stay alive, keep
serving ``/metrics`` and completing cycles on the old config, with its RSS bounded. A valid config then
reloads, and SIGTERM exits 0 within the grace period. Another process, whose reload is slowed on purpose,
must still stop on SIGTERM within its grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor_sandbox import Sandbox
from tests.daemon.test_daemon_e2e import Process, get, write_config

ROOT = Path(__file__).resolve().parents[2]
GRACE_SECONDS = 15  # the daemon's grace period in `daemon_command`
MAX_SECONDS_TO_REJECT = 2.0
MAX_EXTRA_RSS_KB = 100 * 1024
MAX_LINE = 2_000  # characters of the config_reload_failed log line
TARGET = "sandbox"

MEASURED: dict[str, float] = {}  # printed at the end (-s) for the record


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(scenario="healthy", port=0) as running:
        yield running


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [lol]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def deep_nesting(depth: int = 5_000) -> str:
    return "targets: " + "[" * depth + "]" * depth + "\n"


def unknown_kind_pack() -> str:
    text = (ROOT / "auditor" / "rules" / "profiles-sync.yaml").read_text()
    return text.replace("pack: profiles-sync", "pack: drill-pack", 1).replace(
        "kind: unity_catalog_enabled", "kind: no_such_kind", 1
    )


@dataclass(frozen=True)
class Case:
    name: str
    config: Callable[[str], bytes] | None  # the valid config text -> the hostile bytes (None: keep it)
    reason: str  # a fragment of the logged error, lowercase
    rules_file: tuple[str, bytes] | None = None  # a file dropped into the rule_dirs folder
    fifo: bool = False  # the config path becomes a FIFO


CASES = [
    Case("non-UTF-8 config", lambda t: t.encode("latin-1") + "# caf\u00e9\n".encode("latin-1"), "not utf-8"),
    Case("UTF-16 config", lambda t: t.encode("utf-16"), "utf-16"),
    Case("a \\xff byte", lambda t: b"targets: []\n\xff", "0xff"),
    Case("5,000-deep nesting", lambda t: deep_nesting().encode(), "nest"),
    Case("self-referencing alias", lambda t: t.encode() + b"zz: &a [*a]\n", "alias"),
    Case("9-level x9 alias bomb", lambda t: alias_bomb().encode(), "alias"),
    Case("FIFO as the config path", None, "fifo", fifo=True),
    Case("2 MB config", lambda t: t.encode() + b"# " + b"x" * (2 * 1024 * 1024) + b"\n", "limit"),
    Case("bad cron", lambda t: t.replace("interval_seconds: 1.0", "cron: 61 * * * *").encode(), "cron"),
    Case(
        "unknown pack",
        lambda t: t.replace("pack: profiles-sync", "pack: no-such-pack", 1).encode(),
        "no-such-pack",
    ),
    Case("non-UTF-8 .yaml in rule_dirs", None, "not utf-8", rules_file=("bad.yaml", b"pack: x\n\xff\xfe\n")),
    Case("pack with an unknown kind", None, "no_such_kind", rules_file=("drill.yaml", unknown_kind_pack().encode())),
]


def vm_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def drill_config(sandbox: Sandbox, tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(sandbox, tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    data = yaml.safe_load(config.read_text())
    data["rule_dirs"] = [str(rules)]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config, rules


def test_hostile_files_on_sighup_keep_the_old_config_and_the_daemon_serving(sandbox: Sandbox, tmp_path: Path) -> None:
    config, rules = drill_config(sandbox, tmp_path)
    valid = config.read_text()
    daemon = Process(config)
    pid = daemon.popen.pid
    try:
        url = daemon.wait_for("daemon_started")[0]["url"]
        daemon.wait_for("cycle_completed")
        rss_start = vm_rss_kb(pid)
        for case in CASES:
            failed = len(daemon.named("config_reload_failed"))
            reloaded = len(daemon.named("config_reloaded"))
            rss_before = vm_rss_kb(pid)
            if case.fifo:
                config.unlink()
                os.mkfifo(config)
            elif case.config is not None:
                config.write_bytes(case.config(valid))
            if case.rules_file is not None:
                (rules / case.rules_file[0]).write_bytes(case.rules_file[1])
            sent = time.monotonic()
            daemon.popen.send_signal(signal.SIGHUP)
            (event,) = daemon.wait_for("config_reload_failed", failed + 1, timeout=10)[failed:]
            seconds = time.monotonic() - sent
            MEASURED[case.name] = seconds
            print(f"\n{case.name}: {seconds:.3f} s: {event.get('field')}: {event.get('error')}")
            assert seconds < MAX_SECONDS_TO_REJECT, case.name
            error = str(event.get("error", "")).lower()
            assert case.reason in error, (case.name, event)
            assert max(len(entry) for entry in daemon.lines if "config_reload_failed" in entry) < MAX_LINE, case.name
            assert daemon.popen.poll() is None, case.name
            assert get(f"{url}/metrics")[0] == 200, case.name
            cycles = len(daemon.named("cycle_completed"))
            daemon.wait_for("cycle_completed", cycles + 1, timeout=30)  # still auditing, on the old config
            rss_after = vm_rss_kb(pid)
            if case.name.endswith("alias bomb"):
                MEASURED["rss before alias bomb (MB)"] = rss_before / 1024
                MEASURED["rss after alias bomb (MB)"] = rss_after / 1024
            assert rss_after - rss_start < MAX_EXTRA_RSS_KB, (case.name, rss_start, rss_after)
            assert len(daemon.named("config_reloaded")) == reloaded  # nothing of it applied

            # restore: a valid config reloads
            if case.fifo:
                config.unlink()
            config.write_text(valid)
            if case.rules_file is not None:
                (rules / case.rules_file[0]).unlink()
            daemon.popen.send_signal(signal.SIGHUP)
            daemon.wait_for("config_reloaded", reloaded + 1, timeout=10)
        assert not any("Traceback" in entry for entry in daemon.lines)
        started = time.monotonic()
        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.finish(timeout=GRACE_SECONDS + 5) == 0
        MEASURED["SIGTERM stop (s)"] = time.monotonic() - started
        assert MEASURED["SIGTERM stop (s)"] < GRACE_SECONDS
    finally:
        daemon.kill()
    print("\nreload drill:", {k: round(v, 3) for k, v in MEASURED.items()})


# A daemon whose every reload after the first load of packs takes a minute: SIGTERM must not wait for it.
SLOW_RELOAD = """
import sys, time
import auditor.daemon.service as service
load = service._default_pack_loader
calls = []
def slow(settings):
    calls.append(1)
    if len(calls) > 1:
        time.sleep(60)
    return load(settings)
service._default_pack_loader = slow
from auditor.cli.app import main
sys.exit(main(["run", *sys.argv[1:]]))
"""


class CommandProcess(Process):
    """`Process` running a command of our own."""

    def __init__(self, command: list[str]):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        self.lines: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()


def test_sigterm_during_a_slow_reload_stops_within_the_grace_period(sandbox: Sandbox, tmp_path: Path) -> None:
    config = write_config(sandbox, tmp_path)
    grace = 5
    daemon = CommandProcess([sys.executable, "-c", SLOW_RELOAD, "--config", str(config), "--grace-seconds", str(grace)])
    try:
        daemon.wait_for("daemon_started")
        daemon.wait_for("cycle_completed")
        daemon.popen.send_signal(signal.SIGHUP)
        daemon.wait_for("config_reload_started", timeout=10)
        time.sleep(0.5)  # well inside the slowed reload
        started = time.monotonic()
        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.finish(timeout=grace + 10) == 0
        seconds = time.monotonic() - started
        MEASURED["SIGTERM during slow reload (s)"] = seconds
        print(f"\nSIGTERM during a slowed reload: stopped in {seconds:.3f} s")
        assert seconds < grace
        assert daemon.named("config_reloaded") == []  # the half-built reload was dropped
        assert daemon.named("daemon_stopped")
    finally:
        daemon.kill()
