"""HTTP abuse against a real running daemon: idle and slow clients, odd methods, malformed lines, bursts.

Every client connects to 127.0.0.1 only. The daemon's cycle runner is a local stub (the collectors are not the
subject here); the scheduler, the store, the metrics and the HTTP server are the real ones.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from auditor.daemon import Daemon
from auditor.errors import InputError
from auditor.settings import TargetSettings, load_settings
from tests.daemon.test_daemon import make, result_for, target_dict, write_config

IDLE_CLIENTS = 1000
PROBE_BUDGET_SECONDS = 0.100
PATHS = ("/metrics", "/healthz", "/readyz", "/findings", "/no-such-path")
BAD_METHODS = ("DELETE", "TRACE", "POST", "PUT", "PATCH", "OPTIONS", "CONNECT", "FROBNICATE")
TOKEN = "findings-token-for-the-drill-0123456789"


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.request_abandon()
        daemon.stop(grace_seconds=0)


def start_daemon(tmp_path: Path, daemons: list[Daemon], interval: float = 30, **server: Any) -> Daemon:
    def runner(target: TargetSettings, packs: Any) -> Any:
        return result_for(target, granted=True)

    config = write_config(
        tmp_path, target_dict("prod", interval=interval), server={"bind": "127.0.0.1", "port": 0, **server}
    )
    daemon = make(daemons, config, runner)
    daemon.start()
    assert daemon.wait_for_cycles("prod", 1, 20)
    return daemon


def address(daemon: Daemon) -> tuple[str, int]:
    host, _, port = daemon.url.removeprefix("http://").rpartition(":")
    assert host == "127.0.0.1"
    return host, int(port)


def request(daemon: Daemon, method: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(*address(daemon), timeout=5)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def probe_seconds(daemon: Daemon) -> float:
    started = time.perf_counter()
    response = request(daemon, "GET", "/healthz")
    elapsed = time.perf_counter() - started
    assert response.status == 200
    return elapsed


def hold_idle_connections(daemon: Daemon, count: int) -> list[socket.socket]:
    """Half say nothing; half send a request line and one header, then stall (a slow-loris client)."""
    held = []
    for i in range(count):
        sock = socket.create_connection(address(daemon), timeout=5)
        if i % 2:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        held.append(sock)
    return held


@pytest.mark.parametrize("max_connections", [100, 2 * IDLE_CLIENTS], ids=["evicting", "holding-all"])
def test_a_thousand_idle_clients_neither_delay_a_probe_nor_a_cycle(
    tmp_path: Path, daemons: list[Daemon], max_connections: int
) -> None:
    daemon = start_daemon(tmp_path, daemons, interval=0.2, max_connections=max_connections)
    held = hold_idle_connections(daemon, IDLE_CLIENTS)
    try:
        cycles_before = daemon.cycles_finished("prod")
        time.sleep(0.5)  # let the server accept the whole backlog
        latencies = [probe_seconds(daemon) for _ in range(10)]
        time.sleep(1.0)
        print(
            f"healthz with {IDLE_CLIENTS} idle clients (cap {max_connections}): "
            + " ".join(f"{s * 1000:.1f}ms" for s in latencies)
        )
        assert sorted(latencies)[len(latencies) // 2] < PROBE_BUDGET_SECONDS / 2
        assert max(latencies) < PROBE_BUDGET_SECONDS
        assert daemon.cycles_finished("prod") >= cycles_before + 3  # cycles every 0.2 s carried on
        assert request(daemon, "GET", "/metrics").status == 200
    finally:
        for sock in held:
            sock.close()


def test_beyond_the_cap_the_least_recently_active_idle_connection_is_closed(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    daemon = start_daemon(tmp_path, daemons, max_connections=5)
    held = hold_idle_connections(daemon, 5)
    try:
        time.sleep(0.2)
        newest = socket.create_connection(address(daemon), timeout=5)
        held.append(newest)
        held[0].settimeout(2)
        assert held[0].recv(1) == b""  # the oldest idle connection was closed
        newest.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        newest.settimeout(2)
        assert newest.recv(64).startswith(b"HTTP/1.0 200")
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize("method", BAD_METHODS)
def test_only_get_and_head_are_answered_on_every_path(tmp_path: Path, daemons: list[Daemon], method: str) -> None:
    daemon = start_daemon(tmp_path, daemons)
    for path in PATHS:
        response = request(daemon, method, path)
        assert (response.status, response.getheader("Allow")) == (405, "GET, HEAD"), path
    for path in ("/metrics", "/healthz", "/readyz", "/findings"):
        assert request(daemon, "HEAD", path).status == 200
        assert request(daemon, "GET", path).status == 200
    assert request(daemon, "GET", "/no-such-path").status == 404


@pytest.mark.parametrize(
    "line",
    [
        b"GET /metrics\r\n",
        b"GET /metrics\n",
        b"GET\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n",
        b"G E T / HTTP/1.1\r\n",
    ],
)
def test_a_malformed_request_line_is_answered_or_dropped_at_once(
    tmp_path: Path, daemons: list[Daemon], line: bytes
) -> None:
    daemon = start_daemon(tmp_path, daemons)
    with socket.create_connection(address(daemon), timeout=5) as sock:
        started = time.perf_counter()
        sock.sendall(line)
        sock.settimeout(1.0)
        received = b""
        while chunk := sock.recv(4096):  # until the server closes; a hang raises TimeoutError
            received += chunk
        elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert received == b"" or received.startswith(b"HTTP/1.0 400")


def test_a_request_that_trickles_in_is_closed_after_the_read_timeout(tmp_path: Path, daemons: list[Daemon]) -> None:
    daemon = start_daemon(tmp_path, daemons, read_timeout_seconds=0.5)
    with socket.create_connection(address(daemon), timeout=5) as sock:
        started = time.perf_counter()
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        sock.settimeout(0.3)
        closed = False
        while time.perf_counter() - started < 4 and not closed:
            try:
                sock.sendall(b"X")  # a byte every 0.3 s keeps waitress's idle timeout from firing
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
    assert closed
    assert time.perf_counter() - started < 3.0


def test_fifty_concurrent_scrapes_all_connect_quickly(tmp_path: Path, daemons: list[Daemon]) -> None:
    daemon = start_daemon(tmp_path, daemons)
    gate = threading.Barrier(50)

    def scrape(_: int) -> tuple[float, int]:
        gate.wait()
        started = time.perf_counter()
        sock = socket.create_connection(address(daemon), timeout=5)
        connected = time.perf_counter() - started
        sock.close()
        return connected, request(daemon, "GET", "/metrics").status

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(scrape, range(50)))
    assert all(status == 200 for _, status in results)
    print(f"50 concurrent connects: slowest {max(s for s, _ in results) * 1000:.1f}ms")
    assert max(seconds for seconds, _ in results) < 0.5


def test_findings_are_off_on_a_non_loopback_bind_by_default(tmp_path: Path, daemons: list[Daemon]) -> None:
    daemon = start_daemon(tmp_path, daemons, bind="0.0.0.0")  # clients still use 127.0.0.1 only
    assert request(daemon, "GET", "/findings").status == 404
    assert request(daemon, "GET", "/healthz").status == 200


def test_findings_behind_a_bearer_token(tmp_path: Path, daemons: list[Daemon], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_FINDINGS_TOKEN", TOKEN)
    daemon = start_daemon(tmp_path, daemons, bind="0.0.0.0", findings_token_env="AUDITOR_FINDINGS_TOKEN")
    missing = request(daemon, "GET", "/findings")
    assert missing.status == 401 and missing.getheader("WWW-Authenticate", "").startswith("Bearer")
    assert request(daemon, "GET", "/findings", {"Authorization": "Bearer wrong"}).status == 401
    assert request(daemon, "GET", "/findings", {"Authorization": f"Basic {TOKEN}"}).status == 401
    assert request(daemon, "GET", "/findings", {"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_the_findings_token_can_come_from_a_file(tmp_path: Path, daemons: list[Daemon]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    daemon = start_daemon(tmp_path, daemons, findings_token_file=str(token_file))
    assert request(daemon, "GET", "/findings").status == 401
    assert request(daemon, "GET", "/findings", {"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_an_unreadable_token_file_is_an_input_error_naming_the_field(tmp_path: Path, daemons: list[Daemon]) -> None:
    with pytest.raises(InputError, match="findings_token_file"):
        start_daemon(tmp_path, daemons, findings_token_file=str(tmp_path / "missing"))


def test_a_token_from_both_a_file_and_the_environment_is_refused(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        target_dict("prod"),
        server={"bind": "127.0.0.1", "port": 0, "findings_token_file": "/t", "findings_token_env": "T"},
    )
    with pytest.raises(InputError, match="not both"):
        load_settings(config)
