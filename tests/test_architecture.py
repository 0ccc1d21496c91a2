"""Boundaries the design depends on: the product and the sandbox never import each other (except the
product's lazy command shells); the evaluation core does no I/O."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SANDBOX = ROOT / "sandbox" / "src" / "auditor_sandbox"
# The product's commands that drive the sandbox; they import it inside their handlers only.
LAZY_SANDBOX_SHELLS = ["cli", "demo.py"]
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


def _is_sandbox(module: str) -> bool:
    return module == "auditor_sandbox" or module.startswith("auditor_sandbox.")


def _is_product(module: str) -> bool:
    return module == "auditor" or module.startswith("auditor.")


def _module_level_imports(path: Path) -> set[str]:
    """Imports executed when the module loads (not those inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        pending.extend(ast.iter_child_nodes(node))
    return found


PRODUCT_FILES = sorted((ROOT / "auditor").rglob("*.py"))
SHELL_FILES = _files(LAZY_SANDBOX_SHELLS)


@pytest.mark.parametrize("path", PRODUCT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_product_imports_the_sandbox_only_lazily_from_its_command_shells(path: Path) -> None:
    imported = _imports(path) if path not in SHELL_FILES else _module_level_imports(path)
    assert not any(_is_sandbox(m) for m in imported)


def test_the_command_shells_do_use_the_sandbox() -> None:
    """Guards the test above against a stale shell list: the sandbox and demo commands import it lazily."""
    assert any(_is_sandbox(m) for path in SHELL_FILES for m in _imports(path))


@pytest.mark.parametrize("path", sorted(SANDBOX.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_sandbox_never_imports_the_auditor(path: Path) -> None:
    """The emulator is an independent witness: it keeps its own implementation of the platform's semantics."""
    assert not any(_is_product(m) for m in _imports(path))


def test_the_product_ships_no_emulator() -> None:
    assert not (ROOT / "auditor" / "sandbox").exists()
    assert SANDBOX.is_dir()


@pytest.mark.parametrize("path", _files(PURE), ids=lambda p: str(p.relative_to(ROOT)))
def test_evaluation_core_does_no_io(path: Path) -> None:
    roots = {m.split(".")[0] for m in _imports(path)}
    assert not roots & IO_MODULES


def test_the_rule_packs_ship_inside_the_package() -> None:
    """The packs are package data in auditor/rules/, declared for the wheel, with no copy or link elsewhere."""
    from auditor.packs.loader import bundled_rules, pack_files

    packs = sorted(p.name for p in pack_files([bundled_rules()]))
    assert packs == sorted(p.name for p in (ROOT / "auditor" / "rules").glob("*.yaml")) and packs
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "rules/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["auditor"]
    assert not (ROOT / "rules").exists() and not (ROOT / "auditor" / "bundled").exists()


def test_the_products_distribution_installs_no_emulator() -> None:
    """`pip install .` is the product alone: no moto, Flask or sandbox, not even through an extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"].values()
    requirements = list(project["dependencies"]) + [requirement for extra in extras for requirement in extra]
    names = {re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0].lower() for requirement in requirements}
    assert not names & {"moto", "flask", "werkzeug", "grants-auditor-sandbox"}
    assert not any("sandbox" in requirement for requirement in requirements)


def test_only_the_cli_parses_command_lines() -> None:
    """Arguments are defined once, in auditor/cli/ (the sandbox, a separate distribution, owns its own)."""
    shells = {ROOT / "auditor" / "cli"}
    parsers = [
        path.relative_to(ROOT)
        for path in (ROOT / "auditor").rglob("*.py")
        if "argparse" in _imports(path) and not shells & set(path.parents)
    ]
    assert parsers == []
