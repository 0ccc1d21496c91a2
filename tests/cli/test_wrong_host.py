"""A dead or wrong workspace host fails fast: `check` exits 3 within 10 s and every error names the reason.

Only loopback is used: a port nobody listens on (connection refused) and a local socket that accepts
connections and never answers (a blackholed host).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CONFIG = """\
targets:
  - name: t1
    databricks:
      host: {host}
      auth: {{type: pat, token: dapi-not-a-secret}}
      warehouse_id: abc123
    integrations:
      - pack: delta-lake-destination
        params:
          client_id: 5e9e0003-0000-4000-8000-000000000003
          warehouse_id: abc123
          catalog: segment_events
"""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on exit: nobody listens there


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def run(tmp_path: Path, host: str, *args: str) -> tuple[int, str, float]:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(host=host), encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "auditor.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_check_against_a_refusing_host_exits_3_quickly_naming_the_reason(tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    code, output, elapsed = run(tmp_path, host, "check")
    assert code == 3
    assert elapsed < 10
    assert f"workspace {host} unreachable: connection refused" in output
    assert "[PASS]" not in output and "[FAIL]" not in output


def test_check_against_a_host_that_never_answers_exits_3_quickly(tmp_path: Path, blackhole: int) -> None:
    host = f"http://127.0.0.1:{blackhole}"
    code, output, elapsed = run(tmp_path, host, "check")
    assert code == 3
    assert elapsed < 10
    assert f"workspace {host} unreachable: no response" in output


@pytest.mark.parametrize("kind", ["refused", "blackhole"])
def test_preflight_against_a_dead_host_is_quick(tmp_path: Path, blackhole: int, kind: str) -> None:
    port = closed_port() if kind == "refused" else blackhole
    code, output, elapsed = run(tmp_path, f"http://127.0.0.1:{port}", "preflight")
    assert code != 0
    assert elapsed < 10
    assert "unreachable" in output
