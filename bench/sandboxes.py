"""Sandbox metastores for the benchmark, each served by its own process with latency on every request.

The sandbox runs as `python -m auditor_sandbox --latency-ms 30` so that its CPU work (building the state,
answering Thrift) never shares an interpreter with what is measured. Its `/_sandbox/counts` endpoint is
the witness for how many requests a measured step sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

TABLES_PER_SCHEMA = 100
SCHEMAS_PER_CATALOG = 100
GENERATED_PREFIX = "gen"


@dataclass(frozen=True)
class Metastore:
    """A generated metastore on top of the `healthy` scenario: `tables` tables in catalogs of up to
    10,000 (100 schemas of 100 tables), `principals` users and service principals, groups nested
    `group_depth` deep, two grants on every catalog, schema and table."""

    tables: int
    principals: int = 100
    group_depth: int = 3
    groups: int = 20

    @property
    def schemas(self) -> int:
        return max(1, -(-self.tables // TABLES_PER_SCHEMA))

    @property
    def catalogs(self) -> int:
        return max(1, -(-self.schemas // SCHEMAS_PER_CATALOG))

    @property
    def catalog_names(self) -> list[str]:
        return [f"{GENERATED_PREFIX}_catalog_{c}" for c in range(self.catalogs)]

    def scenario(self) -> dict[str, Any]:
        schemas_per_catalog = self.schemas // self.catalogs
        return {
            "base": "healthy",
            "name": f"bench-{self.tables}t-{self.principals}p-{self.group_depth}d",
            "generate": {
                "catalogs": self.catalogs,
                "schemas_per_catalog": schemas_per_catalog,
                "tables_per_schema": self.tables // (self.catalogs * schemas_per_catalog),
                "principals": self.principals,
                "groups": max(self.groups, self.group_depth),
                "group_depth": self.group_depth,
                "grants_per_object": 2,
                "prefix": GENERATED_PREFIX,
            },
        }


class SandboxProcess:
    """A sandbox serving `metastore` in a child process; the auditor config it wrote watches every
    generated catalog besides the scenario's own."""

    def __init__(self, metastore: Metastore, *, latency_ms: float, workdir: Path) -> None:
        self.metastore = metastore
        self.latency_ms = latency_ms
        self._dir = Path(tempfile.mkdtemp(prefix="sandbox-", dir=workdir))
        self.config_path = self._dir / "config.yaml"
        self.host = ""
        self.ready_seconds = 0.0
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SandboxProcess:
        scenario = self._dir / "scenario.yaml"
        scenario.write_text(yaml.safe_dump(self.metastore.scenario()), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "auditor_sandbox",
            "--scenario",
            str(scenario),
            "--write-config",
            str(self.config_path),
            "--latency-ms",
            str(self.latency_ms),
        ]
        start = time.perf_counter()
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith("workspace:"):
                self.host = line.split()[1]
            if line.startswith("ready"):
                break
        else:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the sandbox for {self.metastore} exited before it was ready")
        self.ready_seconds = time.perf_counter() - start
        self._watch_generated_catalogs()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def _watch_generated_catalogs(self) -> None:
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        watch = config["targets"][0].setdefault("watch", {})
        watch["catalogs"] = [*watch.get("catalogs", []), *self.metastore.catalog_names]
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    def config(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        return loaded

    def write_config(self, name: str, *, schedule: dict[str, Any] | None = None, **top_level: Any) -> Path:
        """A copy of the config with top-level sections (`server`, `state`, ...) and the target's
        `schedule` set."""
        config = self.config()
        config.update(top_level)
        if schedule is not None:
            config["targets"][0]["schedule"] = schedule
        path = self._dir / name
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    def requests(self) -> int:
        """Requests the sandbox served since the last `reset`."""
        return sandbox_requests(self.host)

    def reset(self) -> None:
        reset_sandbox_requests(self.host)


def sandbox_requests(host: str) -> int:
    """Workspace and warehouse requests a sandbox served since its counts were last reset."""
    with urllib.request.urlopen(f"{host}/_sandbox/counts", timeout=30) as response:
        counts: dict[str, int] = json.load(response)
    return sum(counts.values())


def reset_sandbox_requests(host: str) -> None:
    request = urllib.request.Request(f"{host}/_sandbox/counts", method="DELETE")
    with urllib.request.urlopen(request, timeout=30):
        pass
