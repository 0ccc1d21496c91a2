"""Boundaries the design depends on: the core never imports the sandbox; the evaluation core does no I/O."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["model", "privileges", "packs", "evaluate", "remediate", "outputs", "collect", "drift"]
PURE = ["model", "privileges", "packs/schema.py", "evaluate", "remediate"]
IO_MODULES = {
    "requests",
    "urllib3",
    "boto3",
    "botocore",
    "databricks",
    "socket",
    "sqlite3",
    "subprocess",
    "http",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _files(parts: list[str]) -> list[Path]:
    files: list[Path] = []
    for part in parts:
        target = ROOT / "auditor" / part
        files += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return files


@pytest.mark.parametrize("path", _files(CORE), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_the_sandbox(path: Path) -> None:
    assert not any(m == "auditor.sandbox" or m.startswith("auditor.sandbox.") for m in _imports(path))


@pytest.mark.parametrize("path", _files(PURE), ids=lambda p: str(p.relative_to(ROOT)))
def test_evaluation_core_does_no_io(path: Path) -> None:
    roots = {m.split(".")[0] for m in _imports(path)}
    assert not roots & IO_MODULES


def test_sandbox_imports_nothing_from_the_core() -> None:
    for path in (ROOT / "auditor" / "sandbox").rglob("*.py"):
        for module in _imports(path):
            if module.startswith("auditor."):
                assert module.startswith("auditor.sandbox"), f"{path.name} imports {module}"


def test_the_rule_packs_ship_inside_the_package() -> None:
    """The packs are package data in auditor/rules/, declared for the wheel, with no copy or link elsewhere."""
    from auditor.packs.loader import bundled_rules, pack_files

    packs = sorted(p.name for p in pack_files([bundled_rules()]))
    assert packs == sorted(p.name for p in (ROOT / "auditor" / "rules").glob("*.yaml")) and packs
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "rules/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["auditor"]
    assert not (ROOT / "rules").exists() and not (ROOT / "auditor" / "bundled").exists()


def test_only_the_cli_parses_command_lines() -> None:
    """Arguments are defined once, in auditor/cli/ (the sandbox, a separate program, owns its own)."""
    shells = {ROOT / "auditor" / "cli", ROOT / "auditor" / "sandbox"}
    parsers = [
        path.relative_to(ROOT)
        for path in (ROOT / "auditor").rglob("*.py")
        if "argparse" in _imports(path) and not shells & set(path.parents)
    ]
    assert parsers == []
