"""The daemon's modules import one way (entry -> service -> schedule, publish; web -> publish), and the drift
fold is pure: nothing below a layer reaches back up, and the fold does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AUDITOR = Path(__file__).resolve().parents[2] / "auditor"

# module -> the auditor modules it must never import (directly, at any level, typing-only included)
FORBIDDEN: dict[str, set[str]] = {
    "daemon/publish.py": {"auditor.daemon.service", "auditor.daemon.entry", "auditor.daemon.schedule", "auditor.web"},
    "daemon/schedule.py": {"auditor.daemon.service", "auditor.daemon.entry", "auditor.daemon.publish", "auditor.web"},
    "daemon/service.py": {"auditor.daemon.entry", "auditor.daemon"},
    "web.py": {"auditor.daemon.service", "auditor.daemon.entry", "auditor.daemon.schedule", "auditor.daemon"},
    "drift/store_schema.py": {"auditor.drift.store", "auditor.drift.cycle"},
    "drift/store.py": {"auditor.drift.cycle", "auditor.drift.facts"},  # persists a fold, never computes one
}
PURE_FOLD = ["drift/debounce.py", "drift/diff.py", "drift/facts.py"]
IO_ROOTS = {"sqlite3", "socket", "requests", "urllib3", "boto3", "botocore", "databricks", "http", "os", "pathlib"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_imports_run_one_way(module: str) -> None:
    assert not imports(AUDITOR / module) & FORBIDDEN[module]


@pytest.mark.parametrize("module", PURE_FOLD)
def test_the_drift_fold_does_no_io(module: str) -> None:
    roots = {name.split(".")[0] for name in imports(AUDITOR / module)}
    assert not roots & IO_ROOTS
    assert not {name for name in imports(AUDITOR / module) if name.startswith("auditor.drift.store")}
