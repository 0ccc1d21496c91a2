"""A watched catalog that no integration names is still judged for exposure (X-2), not `error`.

X-2 reads the catalog's owner (who may hold anything) as well as every grant in it, so the plan reads both for
every watched catalog, not only for those an integration's rules already read.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

import auditor_sandbox
from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())


def with_an_archive_catalog(outsider: bool) -> dict[str, Any]:
    folder = Path(auditor_sandbox.__file__).parent / "scenarios"
    scenario: dict[str, Any] = yaml.safe_load((folder / "healthy.yaml").read_text())
    scenario["name"] = "watch-only"
    grants = {"analyst@example.com": ["USE CATALOG", "SELECT"]} if outsider else {}
    scenario["catalogs"].append({"name": "profiles_archive", "owner": "admins", "grants": grants})
    scenario["auditor"]["watch"]["catalogs"].append("profiles_archive")
    return scenario


def x2(outsider: bool) -> Status:
    with Sandbox.start(with_an_archive_catalog(outsider), now=NOW) as sandbox:
        config = copy.deepcopy(sandbox.config_dict(auth="oauth-m2m"))
        report = run_cycle(Settings.model_validate(config).targets[0], PACKS, now=NOW).report
    (finding,) = [f for f in report.findings if f.rule_id == "X-2" and f.subject == "CATALOG:profiles_archive"]
    return finding.status


def test_a_catalog_only_watched_passes_when_nobody_else_holds_anything() -> None:
    assert x2(outsider=False) is Status.PASS


def test_a_catalog_only_watched_fails_on_an_outsider() -> None:
    assert x2(outsider=True) is Status.FAIL
