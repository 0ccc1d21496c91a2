"""The daemon's own behaviour with local cycle runners: failures, overlap, bounds, grace, reload, HTTP.

The cycle runner is the one seam replaced here (the collectors and the sandbox are exercised end to end
in test_daemon_e2e.py); everything else is real: the scheduler, the store, the metrics, the HTTP server.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
import structlog.testing
import yaml

from auditor.daemon import Daemon, build_trigger
from auditor.daemon.service import CycleOutput
from auditor.drift.store import StateStore
from auditor.errors import InputError
from auditor.model.facts import FactFamily, Grant, ReadState, ReadStatus, SecurableType, Snapshot, Watch
from auditor.model.findings import Finding, Remediation, Report, Severity, Status
from auditor.model.stats import CollectionStats
from auditor.packs.loader import PackSet
from auditor.settings import TargetSettings, load_settings
from auditor.web import findings_document
from tests.present import present

SP = "5e9e0003-0000-4000-8000-000000000003"
CANARY = "dapi-canary-0000-never-log-me"
WAIT = 20.0


@dataclass(frozen=True)
class Result:
    snapshot: Snapshot
    report: Report
    stats: CollectionStats


def target_dict(name: str, interval: float = 0.2, **schedule: Any) -> dict[str, Any]:
    return {
        "name": name,
        "databricks": {"host": "http://127.0.0.1:9", "auth": {"type": "pat", "token": CANARY}},
        "schedule": {"interval_seconds": interval, **schedule},
        "watch": {"catalogs": ["segment_events"]},
        "integrations": [
            {
                "pack": "delta-lake-destination",
                "params": {"client_id": SP, "warehouse_id": "8a6f3d2c1b0e9f47", "catalog": "segment_events"},
            }
        ],
    }


def write_config(tmp_path: Path, *targets: dict[str, Any], **top: Any) -> Path:
    config = {
        "state": {"path": str(tmp_path / "state.sqlite")},
        "server": {"bind": "127.0.0.1", "port": 0},
        "targets": list(targets),
        **top,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def result_for(target: TargetSettings, *, granted: bool = True, status: Status = Status.PASS) -> Result:
    now = datetime.now(UTC)
    grants = (
        (
            Grant(
                principal=SP,
                privilege="ALL_PRIVILEGES",
                securable_type=SecurableType.CATALOG,
                securable_name="segment_events",
            ),
        )
        if granted
        else ()
    )
    snapshot = Snapshot(
        target=target.name,
        collected_at=now,
        integrations=target.integrations,
        watch=Watch(catalogs=("segment_events",)),
        reads=tuple(ReadStatus(family=f, state=ReadState.READ) for f in FactFamily),
        grants=grants,
    )
    finding = Finding(
        rule_id="DL-3",
        pack="delta-lake-destination",
        integration="delta-lake-destination",
        target=target.name,
        status=status,
        severity=Severity.HIGH,
        title="ALL PRIVILEGES on the catalog",
        subject="CATALOG:segment_events",
        message="the service principal holds ALL PRIVILEGES" if granted else "missing ALL PRIVILEGES",
        remediation=Remediation(grant_sql=(f"GRANT ALL PRIVILEGES ON CATALOG segment_events TO `{SP}`",)),
    )
    report = Report(target=target.name, evaluated_at=now, snapshot_collected_at=now, findings=(finding,))
    return Result(snapshot=snapshot, report=report, stats=CollectionStats(statements=2, requests={"sql": 2}))


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.request_abandon()
        daemon.stop(grace_seconds=0)


def make(daemons: list[Daemon], config: Path, runner: Callable[..., Any], **kwargs: Any) -> Daemon:
    daemon = Daemon(load_settings(config), config_path=config, run_cycle=runner, **kwargs)
    daemons.append(daemon)
    return daemon


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def test_a_failing_cycle_is_recorded_redacted_and_the_daemon_keeps_going(tmp_path: Path, daemons: list[Daemon]) -> None:
    calls = {"n": 0}

    def runner(target: TargetSettings, packs: Any) -> Result:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError(f"workspace said no to Bearer {CANARY}")
        return result_for(target)

    daemon = make(daemons, write_config(tmp_path, target_dict("prod")), runner)
    daemon.start()
    assert daemon.wait_for_cycles("prod", 4, WAIT)
    daemon.stop()
    with StateStore(tmp_path / "state.sqlite") as store:
        outcomes = [c.outcome for c in store.cycles("prod")]
        failed = [c for c in store.cycles("prod") if c.outcome == "failed"]
    assert outcomes[:3] == ["completed", "failed", "completed"]
    assert failed[0].error is not None and failed[0].error.startswith("ConnectionError:")
    assert CANARY not in failed[0].error
    assert daemon.metrics is not None
    assert (
        daemon.registry.get_sample_value("grants_auditor_cycles_total", {"target": "prod", "outcome": "error"}) == 1.0
    )


def test_a_huge_failure_message_is_recorded_as_one_bounded_redacted_line(tmp_path: Path, daemons: list[Daemon]) -> None:
    def runner(target: TargetSettings, packs: Any) -> Result:
        raise ConnectionError(f"Bearer {CANARY}\n" + "x\n" * 10_000_000)

    daemon = make(daemons, write_config(tmp_path, target_dict("prod")), runner)
    assert daemon.run_target_cycle("prod") == "failed"
    with StateStore(tmp_path / "state.sqlite") as store:
        (failed,) = store.cycles("prod")
    assert failed.error is not None
    assert len(failed.error) <= 600 and "\n" not in failed.error and CANARY not in failed.error
    assert failed.error.startswith("ConnectionError:") and "characters)" in failed.error


def test_one_target_never_runs_two_cycles_at_once(tmp_path: Path, daemons: list[Daemon]) -> None:
    release = threading.Event()
    entered = threading.Event()

    def runner(target: TargetSettings, packs: Any) -> Result:
        entered.set()
        release.wait(WAIT)
        return result_for(target)

    daemon = make(daemons, write_config(tmp_path, target_dict("prod")), runner)
    first = threading.Thread(target=daemon.run_target_cycle, args=("prod",))
    first.start()
    assert entered.wait(WAIT)
    assert daemon.run_target_cycle("prod") == "skipped"
    release.set()
    first.join(WAIT)
    assert daemon.run_target_cycle("prod") == "completed"


def test_targets_run_concurrently_up_to_the_bound(tmp_path: Path, daemons: list[Daemon]) -> None:
    lock = threading.Lock()
    active = {"now": 0, "max": 0}
    release = threading.Event()

    def runner(target: TargetSettings, packs: Any) -> Result:
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        release.wait(0.5)
        with lock:
            active["now"] -= 1
        return result_for(target)

    config = write_config(tmp_path, *(target_dict(f"t{i}", interval=30) for i in range(4)), max_concurrent_targets=2)
    daemon = make(daemons, config, runner)
    daemon.start(serve_http=False)
    for i in range(4):
        assert daemon.wait_for_cycles(f"t{i}", 1, WAIT)
    assert active["max"] == 2


def test_once_mode_runs_each_target_once(tmp_path: Path, daemons: list[Daemon]) -> None:
    seen: list[str] = []

    def runner(target: TargetSettings, packs: Any) -> Result:
        seen.append(target.name)
        return result_for(target)

    daemon = make(daemons, write_config(tmp_path, target_dict("a"), target_dict("b")), runner)
    assert daemon.run_once() == 0
    assert sorted(seen) == ["a", "b"]


def test_stop_waits_for_a_running_cycle_within_grace(tmp_path: Path, daemons: list[Daemon]) -> None:
    entered = threading.Event()

    def runner(target: TargetSettings, packs: Any) -> Result:
        entered.set()
        threading.Event().wait(0.3)
        return result_for(target)

    daemon = make(daemons, write_config(tmp_path, target_dict("prod", interval=30)), runner)
    daemon.start(serve_http=False)
    assert entered.wait(WAIT)
    assert daemon.stop(grace_seconds=10) is True
    with StateStore(tmp_path / "state.sqlite") as store:
        assert [c.outcome for c in store.cycles("prod")] == ["completed"]


def test_stop_abandons_a_cycle_that_outlives_the_grace_period(tmp_path: Path, daemons: list[Daemon]) -> None:
    entered, release = threading.Event(), threading.Event()

    def runner(target: TargetSettings, packs: Any) -> Result:
        entered.set()
        release.wait(WAIT)
        return result_for(target)

    daemon = make(daemons, write_config(tmp_path, target_dict("prod", interval=30)), runner)
    daemon.start(serve_http=False)
    assert entered.wait(WAIT)
    assert daemon.stop(grace_seconds=0.2) is False
    release.set()  # the abandoned cycle finishes later and cannot commit into the closed store
    assert daemon.wait_for_cycles("prod", 1, WAIT)
    with StateStore(tmp_path / "state.sqlite") as store:
        assert store.cycles("prod") == []


def test_http_endpoints_and_readiness(tmp_path: Path, daemons: list[Daemon]) -> None:
    release = threading.Event()

    def runner(target: TargetSettings, packs: Any) -> Result:
        release.wait(WAIT)
        return result_for(target, granted=True)

    config = write_config(tmp_path, target_dict("prod", interval=30))
    daemon = make(daemons, config, runner)
    daemon.start()
    assert get(f"{daemon.url}/healthz")[0] == 200
    assert get(f"{daemon.url}/readyz")[0] == 503  # the first cycle is still running
    status, content_type, body = get(f"{daemon.url}/metrics")  # a scrape does not wait on the cycle
    assert status == 200 and content_type.startswith("text/plain")
    assert b"grants_auditor_build_info" in body
    assert json.loads(get(f"{daemon.url}/findings")[2])["targets"] == {}
    release.set()
    assert daemon.wait_for_cycles("prod", 1, WAIT)
    assert get(f"{daemon.url}/readyz")[0] == 200
    status, content_type, body = get(f"{daemon.url}/findings")
    assert status == 200 and content_type == "application/json"
    prod = json.loads(body)["targets"]["prod"]
    (finding,) = prod["findings"]
    assert (finding["status"], finding["rule"], finding["pack"], finding["subject"]) == (
        "pass",
        "DL-3",
        "delta-lake-destination",
        "CATALOG:segment_events",
    )
    assert finding["remediation"]["grant_sql"]
    assert prod["outcome"] == "completed" and prod["baseline"] is None
    assert json.loads(get(f"{daemon.url}/findings?target=other")[2])["targets"] == {}
    assert get(f"{daemon.url}/nope")[0] == 404


def test_restart_is_ready_from_state_before_its_first_cycle(tmp_path: Path, daemons: list[Daemon]) -> None:
    config = write_config(tmp_path, target_dict("prod", interval=30))
    first = make(daemons, config, lambda target, packs: result_for(target))
    assert first.run_once() == 0
    first.stop(grace_seconds=0)

    release = threading.Event()

    def blocked(target: TargetSettings, packs: Any) -> Result:
        release.wait(WAIT)
        return result_for(target)

    second = make(daemons, config, blocked)
    second.start()
    assert get(f"{second.url}/readyz")[0] == 200
    prod = json.loads(get(f"{second.url}/findings")[2])["targets"]["prod"]
    assert prod["restored_from_state"] is True and prod["findings"][0]["rule"] == "DL-3"
    release.set()


def test_drift_is_debounced_logged_counted_and_compared_with_the_baseline(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    config = write_config(tmp_path, target_dict("prod", interval=0.1), drift={"debounce_cycles": 2})
    granted = {"value": True}
    daemon = make(daemons, config, lambda target, packs: result_for(target, granted=granted["value"]))
    daemon.start(serve_http=False)
    assert daemon.wait_for_cycles("prod", 2, WAIT)  # the first 2 reads establish the drift baseline
    daemon.store.approve_baseline(
        "prod", present(daemon.store.latest_snapshot("prod")), approved_by="test", source="latest"
    )
    granted["value"] = False
    count = daemon.cycles_finished("prod")
    assert daemon.wait_for_cycles("prod", count + 3, WAIT)
    view = daemon.views["prod"]
    assert [e.kind.value for e in view.drift_events] == ["grant_removed"]
    assert view.baseline_changes is not None
    assert [c.kind.value for c in view.baseline_changes] == ["grant_removed"]
    sample = daemon.registry.get_sample_value(
        "grants_auditor_drift_events_total", {"target": "prod", "kind": "grant_removed"}
    )
    assert sample == 1.0
    document = findings_document(daemon.views)
    assert document["targets"]["prod"]["baseline"]["changes"][0]["kind"] == "grant_removed"


def test_reload_reschedules_added_and_removed_targets_and_keeps_old_config_on_error(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    config = write_config(tmp_path, target_dict("a", interval=0.2))
    daemon = make(daemons, config, lambda target, packs: result_for(target))
    daemon.start(serve_http=False)
    assert daemon.wait_for_cycles("a", 1, WAIT)

    write_config(tmp_path, target_dict("b", interval=0.2))
    assert daemon.reload() is True
    assert [t.name for t in daemon.settings.targets] == ["b"]
    assert daemon.wait_for_cycles("b", 1, WAIT)
    assert "a" not in daemon.views

    config.write_text(config.read_text().replace("interval_seconds: 0.2", "interval_seconds: -1"))
    assert daemon.reload() is False  # invalid: logged with file/line/field, the running config stays
    assert [t.name for t in daemon.settings.targets] == ["b"]
    count = daemon.cycles_finished("b")
    assert daemon.wait_for_cycles("b", count + 1, WAIT)


def test_settings_that_need_a_restart_are_kept_on_reload(tmp_path: Path, daemons: list[Daemon]) -> None:
    config = write_config(tmp_path, target_dict("a", interval=30))
    daemon = make(daemons, config, lambda target, packs: result_for(target))
    moved = yaml.safe_load(config.read_text())
    moved["server"]["port"] = 1
    config.write_text(yaml.safe_dump(moved))
    assert daemon.reload() is True
    assert daemon.settings.server.port == 0


def test_any_failure_while_reloading_keeps_the_running_config_and_logs_one_bounded_reason(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    from auditor.cycle import load_packs_for

    calls: list[int] = []

    def packs_then_fail(settings: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("boom\n" + "x" * 1_000_000)
        return load_packs_for(settings)

    config = write_config(tmp_path, target_dict("a", interval=30))
    daemon = make(daemons, config, lambda target, packs: result_for(target), load_packs=packs_then_fail)
    write_config(tmp_path, target_dict("b", interval=30))
    with structlog.testing.capture_logs() as logs:
        assert daemon.reload() is False
    assert [t.name for t in daemon.settings.targets] == ["a"]
    (failed,) = [e for e in logs if e["event"] == "config_reload_failed"]
    assert failed["error"].startswith("RuntimeError: boom\\n") and len(failed["error"]) < 600
    assert failed["file"] == str(config)


def test_a_reload_still_being_built_when_the_daemon_stops_is_dropped(tmp_path: Path, daemons: list[Daemon]) -> None:
    from auditor.cycle import load_packs_for

    building, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_packs(settings: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            building.set()
            release.wait(WAIT)
        return load_packs_for(settings)

    config = write_config(tmp_path, target_dict("a", interval=30))
    daemon = make(daemons, config, lambda target, packs: result_for(target), load_packs=slow_packs)
    daemon.start(serve_http=False)
    write_config(tmp_path, target_dict("b", interval=30))
    outcome: list[bool] = []
    reloading = threading.Thread(target=lambda: outcome.append(daemon.reload()))
    reloading.start()
    assert building.wait(WAIT)
    assert daemon.stop(grace_seconds=1) is True  # not held up by the reload
    release.set()
    reloading.join(WAIT)
    assert outcome == [False]
    assert [t.name for t in daemon.settings.targets] == ["a"]


def test_triggers_from_the_schedule() -> None:
    interval = TargetSettings.model_validate(target_dict("x", interval=120, jitter_seconds=5))
    trigger = build_trigger(interval)
    assert trigger.interval.total_seconds() == 120 and trigger.jitter == 5
    cron = TargetSettings.model_validate(target_dict("x", cron="*/5 * * * *"))
    assert type(build_trigger(cron)).__name__ == "CronTrigger"


def _never_runs(target: TargetSettings, packs: PackSet) -> CycleOutput:
    raise AssertionError("no cycle may start when the config is refused")


def test_an_invalid_cron_is_an_input_error_naming_the_field(tmp_path: Path) -> None:
    config = write_config(tmp_path, target_dict("prod", cron="every five minutes"))
    with pytest.raises(InputError) as caught:
        Daemon(load_settings(config), config_path=config, run_cycle=_never_runs)
    assert caught.value.field == "targets[0].schedule.cron"
    assert caught.value.line is not None


def test_cycles_that_read_nothing_or_ran_out_of_time_are_not_successes(tmp_path: Path, daemons: list[Daemon]) -> None:
    outcomes = iter(["blind", "late", "ok"])

    def runner(target: TargetSettings, packs: Any) -> Result:
        result = result_for(target)
        match next(outcomes):
            case "blind":
                unread = tuple(ReadStatus(family=f, state=ReadState.FAILED) for f in FactFamily)
                return Result(result.snapshot.model_copy(update={"reads": unread}), result.report, result.stats)
            case "late":
                return Result(result.snapshot, result.report, CollectionStats(deadline_exceeded=True))
            case _:
                return result

    daemon = make(daemons, write_config(tmp_path, target_dict("prod", interval=30)), runner)
    for _ in range(3):
        assert daemon.run_target_cycle("prod") == "completed"
    value = daemon.registry.get_sample_value
    assert value("grants_auditor_cycles_total", {"target": "prod", "outcome": "failed"}) == 1.0
    assert value("grants_auditor_cycles_total", {"target": "prod", "outcome": "timeout"}) == 1.0
    assert value("grants_auditor_cycles_total", {"target": "prod", "outcome": "success"}) == 1.0
    assert value("grants_auditor_last_success_timestamp_seconds", {"target": "prod"}) is not None
