"""`/metrics` latency while cycles run: the daemon in its own process, cycling back to back, scraped
`count` times over fresh connections (as Prometheus does after an idle timeout)."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sandboxes import SandboxProcess

_COMPLETED = re.compile(r'^grants_auditor_cycles_total\{[^}]*outcome="completed"[^}]*\} (\S+)$', re.MULTILINE)


@dataclass(frozen=True)
class ScrapeResult:
    latencies_ms: list[float]
    cycles_completed: int  # cycles that finished while the scrapes ran
    in_first_cycle: int  # scrapes answered before the first cycle finished
    failures: int

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(port: int) -> tuple[float, str]:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise OSError(f"HTTP {response.status}")
    finally:
        connection.close()
    return (time.perf_counter() - start) * 1000, body


def scrape_during_cycles(sandbox: SandboxProcess, workdir: Path, *, count: int, pause: float) -> ScrapeResult:
    port = _free_port()
    config = sandbox.write_config(
        "daemon.yaml",
        server={"bind": "127.0.0.1", "port": port},
        state={"path": str(workdir / f"state-{port}.sqlite")},
        schedule={"interval_seconds": 1},  # cycles back to back: every scrape meets one
    )
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("grants-auditor")), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # the server answers before the first cycle ends
            try:
                _scrape(port)
                break
            except OSError:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError("the daemon did not serve /metrics within 60 s") from None
                time.sleep(0.1)
        latencies: list[float] = []
        first_completed: float | None = None
        last_completed = 0.0
        in_first = failures = 0
        while len(latencies) < count:
            try:
                latency, body = _scrape(port)
            except OSError:
                failures += 1
                continue
            latencies.append(latency)
            found = _COMPLETED.search(body)
            completed = float(found.group(1)) if found else 0.0
            if first_completed is None:
                first_completed = completed
            last_completed = completed
            if completed == first_completed:
                in_first += 1
            time.sleep(pause)
        return ScrapeResult(latencies, int(last_completed - (first_completed or 0)), in_first, failures)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
