"""SIGKILL and soak drills against a real daemon process, the sandbox and the real SQL connector (127.0.0.1 only).

Quick mode (default suite): a few SIGKILLs at random moments mid-cycle, one lasting GRANT/REVOKE between kills.
Long mode (``--run-slow``): >= 20 SIGKILLs, >= 200 cycles of lasting changes, short flips and faults coming and
going, then an unkilled soak whose RSS and descriptors must stay flat. The seed is printed (and taken from
``DRILL_SEED``) so a failure is reproducible; ``DRILL_FIGURES=path`` writes the figures as JSON.

    .venv/bin/pytest --run-slow -s --basetemp=/tmp/long-drill tests/drills/test_crash_and_soak.py -k long

(its own ``--basetemp``: other pytest runs on the machine would otherwise rotate the state file away mid-run).
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.drift.store import StateStore
from auditor_sandbox import Sandbox
from auditor_sandbox.demo import execute_sql
from tests.daemon.test_daemon_e2e import DEBOUNCE, DELTA_LAKE_SP, GRANT, REVOKE, TARGET, Process, write_config

INTERVAL = 0.3
SUBJECT = "catalog:segment_events"
FAULTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("scim", "rate-limit", {"probability": 0.3}),
    ("unity-catalog", "server-error", {"status": 503, "probability": 0.3}),
    ("unity-catalog", "rate-limit", {"probability": 0.3}),
    ("warehouses", "server-error", {"status": 503, "probability": 0.5}),
    ("sql", "latency", {"seconds": 0.2, "probability": 0.5}),
    ("scim", "latency", {"seconds": 0.3}),
)


@dataclass
class Figures:
    seed: int
    started: str = ""
    wall_seconds: float = 0.0
    cycles: int = 0
    kills: int = 0
    integrity_checks: int = 0
    lasting_changes: int = 0
    short_flips: int = 0
    faults_injected: int = 0
    fault_kinds: dict[str, int] = field(default_factory=dict)
    drift_events: int = 0
    spurious_events: int = 0
    soak_cycles: int = 0
    rss_kib: list[int] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)


class Drill:
    """Drives one daemon after another against one sandbox and one state file, keeping the books."""

    def __init__(self, sandbox: Sandbox, tmp_path: Path, seed: int) -> None:
        self.sandbox = sandbox
        self.config = write_config(sandbox, tmp_path, interval=INTERVAL)
        self.state = tmp_path / "state.sqlite"
        self.random = random.Random(seed)
        self.figures = Figures(seed=seed, started=datetime.now(UTC).isoformat(timespec="seconds"))
        self.granted = True  # the drifted scenario grants ALL PRIVILEGES on segment_events to the SP
        self.expected: list[str] = []  # drift kinds the lasting changes must produce, in order
        self.stored_cycles = 0
        self.process: Process | None = None

    # ---- the daemon ----

    def start(self) -> Process:
        first = self.stored_cycles == 0 and not self.state.exists()
        self.process = Process(self.config)
        self.process.wait_for("daemon_started")
        if first:  # the first DEBOUNCE reads establish the baseline: a change before then is part of it
            self.wait_cycles(DEBOUNCE)
        return self.process

    def completed(self) -> int:
        assert self.process is not None
        return len(self.process.named("cycle_completed"))

    def wait_cycles(self, count: int, timeout: float = 90) -> None:
        assert self.process is not None
        self.process.wait_for("cycle_completed", self.completed() + count, timeout=timeout)

    def kill_mid_cycle(self) -> None:
        """SIGKILL at a random moment after a cycle completed (the next one is in flight or about to be)."""
        process = self.process
        assert process is not None
        self.wait_cycles(1)
        time.sleep(self.random.uniform(0.0, INTERVAL + 0.5))
        completed_before_kill = {e["cycle_id"] for e in process.named("cycle_completed")}
        process.popen.send_signal(signal.SIGKILL)
        assert process.finish() == -signal.SIGKILL
        self.figures.kills += 1
        self.figures.cycles += len(process.named("cycle_completed"))
        completed_logged = {e["cycle_id"] for e in process.named("cycle_completed")}
        self.process = None
        self.check_store(completed_before_kill | completed_logged)

    def stop(self) -> None:
        process = self.process
        assert process is not None
        process.popen.send_signal(signal.SIGTERM)
        assert process.finish() == 0
        self.figures.cycles += len(process.named("cycle_completed"))
        self.process = None
        self.check_store({e["cycle_id"] for e in process.named("cycle_completed")})

    def check_store(self, logged_completed: set[int]) -> None:
        with StateStore(self.state) as store:
            assert store.integrity_check() == "ok"
            cycles = store.cycles(TARGET)
        self.figures.integrity_checks += 1
        assert len(cycles) >= self.stored_cycles, "stored cycles went down"
        self.stored_cycles = len(cycles)
        stored = {c.id for c in cycles if c.outcome == "completed"}
        assert logged_completed <= stored, f"completed cycles lost: {sorted(logged_completed - stored)}"

    # ---- changes through the SQL connector ----

    def toggle(self) -> str:
        statement, kind = (REVOKE, "grant_removed") if self.granted else (GRANT, "grant_added")
        execute_sql(self.sandbox.host, self.sandbox.http_path or "", self.sandbox.auditor_token, statement)
        self.granted = not self.granted
        return kind

    def lasting_change(self) -> None:
        """Toggle and hold for debounce + 2 cycles at least, until the daemon logged the drift (faults may delay it)."""
        process = self.process
        assert process is not None
        before = len(process.named("drift"))
        self.expected.append(self.toggle())
        self.figures.lasting_changes += 1
        self.wait_cycles(DEBOUNCE + 2)
        for _ in range(60):
            if len(process.named("drift")) > before:
                return
            self.wait_cycles(1)

    def short_flip(self) -> None:
        """Toggle and toggle back within well under one cycle: seen by one cycle at most, so no event."""
        self.toggle()
        time.sleep(self.random.uniform(0.0, 0.1))
        self.toggle()
        self.figures.short_flips += 1
        self.wait_cycles(1)

    def fault_step(self) -> None:
        """Faults come and go: clear what is active, then maybe inject one (so at most one is active)."""
        self.sandbox.clear_faults()
        if self.random.random() < 0.4:
            return
        family, kind, params = self.random.choice(FAULTS)
        self.sandbox.set_fault(family, kind, **params)
        self.figures.faults_injected += 1
        name = f"{family} {kind}"
        self.figures.fault_kinds[name] = self.figures.fault_kinds.get(name, 0) + 1

    def random_step(self, faults: bool) -> None:
        draw = self.random.random()
        if draw < 0.4:
            self.lasting_change()
        elif draw < 0.75 or not faults:
            self.short_flip()
        else:
            self.fault_step()

    def sample(self) -> None:
        assert self.process is not None
        pid = self.process.popen.pid
        status = Path(f"/proc/{pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        self.figures.rss_kib.append(rss)
        self.figures.fds.append(len(os.listdir(f"/proc/{pid}/fd")))

    # ---- the books ----

    def settle_and_tally(self) -> None:
        """No faults, a clean daemon for a few cycles, then: one event per lasting change, nothing else."""
        self.sandbox.clear_faults()
        self.start()
        self.wait_cycles(DEBOUNCE + 3)
        self.stop()
        with StateStore(self.state) as store:
            events = store.drift_events(TARGET)
        ours = [e for e in events if e.subject.lower() == SUBJECT and e.principal == DELTA_LAKE_SP]
        self.figures.drift_events = len(ours)
        self.figures.spurious_events = len(events) - len(ours) + max(0, len(ours) - len(self.expected))
        assert len({e.event_key for e in events}) == len(events), "a drift event was stored twice"
        assert [e.kind.value for e in ours] == self.expected, "lasting changes and drift events differ"
        assert len(events) == len(ours), f"spurious drift events: {[e for e in events if e not in ours]}"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(scenario="drifted", port=0) as running:
        yield running


def _seed() -> int:
    seed = int(os.environ.get("DRILL_SEED") or random.SystemRandom().randrange(1, 2**31))
    print(f"drill seed: {seed} (DRILL_SEED={seed} to repeat)")
    return seed


def test_quick_sigkill_mid_cycle_keeps_the_store_sound_and_each_change_one_event(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    drill = Drill(sandbox, tmp_path, _seed())
    for _ in range(3):
        drill.start()
        drill.wait_cycles(1)
        drill.lasting_change()
        drill.kill_mid_cycle()
    drill.settle_and_tally()
    assert drill.figures.kills == 3 and drill.figures.lasting_changes == 3


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the suite's 300 s per-test timeout would cut the drill short
def test_long_sigkills_changes_faults_and_a_flat_soak(sandbox: Sandbox, tmp_path: Path) -> None:
    kills = int(os.environ.get("DRILL_KILLS", "20"))
    min_cycles = int(os.environ.get("DRILL_CYCLES", "200"))
    soak_cycles = int(os.environ.get("DRILL_SOAK_CYCLES", "80"))
    budget = float(os.environ.get("DRILL_MAX_SECONDS", "900"))
    drill = Drill(sandbox, tmp_path, _seed())
    started = time.monotonic()

    # Phase 1: kills at random moments, with changes, short flips and faults between them.
    while drill.figures.kills < kills and time.monotonic() - started < budget:
        drill.start()
        for _ in range(drill.random.randint(1, 3)):
            drill.random_step(faults=True)
        drill.kill_mid_cycle()

    # Phase 2: one daemon, no kills, until the cycle target; RSS and descriptors sampled every 5 cycles after 10.
    drill.start()
    soak_start = drill.completed()
    while (
        drill.completed() - soak_start < soak_cycles or drill.figures.cycles + drill.completed() < min_cycles
    ) and time.monotonic() - started < budget:
        drill.random_step(faults=True)
        warm = drill.completed() - soak_start - 10  # the first cycles fill caches and pools: not a leak
        if warm >= 0 and warm // 5 + 1 > len(drill.figures.rss_kib):
            drill.sample()
    drill.sample()
    drill.figures.soak_cycles = drill.completed() - soak_start
    drill.stop()
    drill.settle_and_tally()
    drill.figures.wall_seconds = round(time.monotonic() - started, 1)

    report = json.dumps(asdict(drill.figures), indent=2)
    print(report)
    if target := os.environ.get("DRILL_FIGURES"):
        Path(target).write_text(report)

    assert drill.figures.kills >= kills, "ran out of time before the kill target"
    assert drill.figures.cycles >= min_cycles, "ran out of time before the cycle target"
    quarter = max(1, len(drill.figures.rss_kib) // 4)
    for series in (drill.figures.rss_kib, drill.figures.fds):
        first, last = statistics.median(series[:quarter]), statistics.median(series[-quarter:])
        assert last <= first * 1.2, f"grew from {first} to {last}: {series}"
