"""`/metrics` sends bytes rendered once per change of the published state, never rendered during a cycle."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from auditor.daemon import Daemon
from auditor.settings import TargetSettings
from tests.daemon.test_daemon import WAIT, Result, daemons, get, make, result_for, target_dict, write_config

__all__ = ["daemons"]  # the fixture, used by name


def test_scrapes_between_changes_send_the_same_rendering(tmp_path: Path, daemons: list[Daemon]) -> None:
    second_cycle = threading.Event()
    cycles = 0

    def runner(target: TargetSettings, packs: Any) -> Result:
        nonlocal cycles
        cycles += 1
        if cycles > 1:
            second_cycle.wait(WAIT)
        return result_for(target, granted=True)

    daemon = make(daemons, write_config(tmp_path, target_dict("prod", interval=0.1)), runner)
    daemon.start()
    assert daemon.wait_for_cycles("prod", 1, WAIT)
    published = daemon.published
    first, content_type = published.exposition("")
    assert published.exposition("")[0] is first  # rendered when the cycle published, not per scrape
    assert content_type.startswith("text/plain") and b'outcome="success"' in first
    assert get(f"{daemon.url}/metrics")[2] == first
    openmetrics, openmetrics_type = published.exposition("application/openmetrics-text; version=1.0.0")
    assert openmetrics_type.startswith("application/openmetrics-text") and openmetrics.endswith(b"# EOF\n")
    second_cycle.set()
    assert daemon.wait_for_cycles("prod", 2, WAIT)
    assert published.exposition("")[0] != first  # a new cycle, a new rendering
