"""Boundaries the design depends on, checked over every module of the product (relative imports resolved).

- No import cycle between the product's packages (``auditor.collect``, ``auditor.evaluate``, ... and the
  top-level modules such as ``auditor.cli``): dependencies between them form a DAG.
- Collectors never import remediation: both take Databricks names from ``auditor.privileges``.
- The evaluation core does no I/O; the product never imports the sandbox (``auditor_sandbox``, a distribution of
  its own) except lazily from its command shells, nor the sandbox the product.
- Databricks names and IAM policy decoding have one home each (the sandbox keeps its own on purpose).

An import inside ``if TYPE_CHECKING:`` is an annotation, not a dependency at run time, and is not counted;
imports inside functions are.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ROOT / "auditor"
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
SANDBOX = "auditor_sandbox"
SANDBOX_DIR = ROOT / "sandbox" / "src" / "auditor_sandbox"
# The product's commands that drive the sandbox; they import it inside their handlers only.
LAZY_SANDBOX_SHELLS = ["cli"]


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, e.g. "auditor.collect.grants"
    module: str  # the imported module (or package), absolute, e.g. "auditor.privileges.names"
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _product_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PRODUCT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def _absolute(package: str, level: int, module: str | None) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in ``package``."""
    if not level:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


@cache
def _imports(path: Path) -> tuple[Import, ...]:
    importer = _module_name(path)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    modules = _product_modules()
    found: list[Import] = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(importer, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.level, node.module)
            found.append(Import(importer, base, node.lineno))
            # ``from auditor import web`` imports the module auditor.web, not just the package
            found += [
                Import(importer, f"{base}.{alias.name}", node.lineno)
                for alias in node.names
                if f"{base}.{alias.name}" in modules
            ]
    return tuple(found)


def _files(parts: list[str]) -> list[Path]:
    files: list[Path] = []
    for part in parts:
        target = PRODUCT / part
        files += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return files


def _unit(module: str) -> str:
    """The package-level unit a module belongs to: ``auditor.collect.grants`` -> ``auditor.collect``."""
    return ".".join(module.split(".")[:2])


def _unit_graph() -> dict[str, dict[str, Import]]:
    """unit -> {unit it imports: one import that makes the edge}, over every product module."""
    graph: dict[str, dict[str, Import]] = {_unit(module): {} for module in _product_modules()}
    for module, path in _product_modules().items():
        if module.endswith(".__main__"):
            continue  # an entry point (`python -m ...`): run, never imported, so it closes no cycle
        for imp in _imports(path):
            if imp.module != "auditor" and not imp.module.startswith("auditor."):
                continue
            source, target = _unit(imp.importer), _unit(imp.module)
            if source != target:
                graph[source].setdefault(target, imp)
    return graph


def _cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        on_stack.add(unit)
        for target in sorted(graph.get(unit, {})):
            if target not in index:
                visit(target)
                low[unit] = min(low[unit], low[target])
            elif target in on_stack:
                low[unit] = min(low[unit], index[target])
        if low[unit] == index[unit]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == unit:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for unit in sorted(graph):
        if unit not in index:
            visit(unit)
    return components


def test_every_product_module_is_parsed() -> None:
    modules = _product_modules()
    assert "auditor.privileges.names" in modules and "auditor.collect.grants" in modules
    graph = _unit_graph()
    assert {_unit(m) for m in modules} == set(graph)


def test_relative_imports_are_resolved() -> None:
    # written in a module of package auditor.collect (or in auditor/collect/__init__.py)
    assert _absolute("auditor.collect", 1, "grants") == "auditor.collect.grants"
    assert _absolute("auditor.collect", 1, None) == "auditor.collect"
    assert _absolute("auditor.collect", 2, "remediate.sql") == "auditor.remediate.sql"
    assert _absolute("auditor.evaluate.kinds", 3, None) == "auditor"
    assert _absolute("auditor.collect", 0, "auditor.model.facts") == "auditor.model.facts"


def test_no_package_level_import_cycle() -> None:
    graph = _unit_graph()
    problems = []
    for component in _cycles(graph):
        edges = [
            f"  {imp.importer} imports {imp.module} (line {imp.line})"
            for source in component
            for target, imp in sorted(graph[source].items())
            if target in component
        ]
        problems.append(" <-> ".join(component) + "\n" + "\n".join(edges))
    assert not problems, "import cycles between packages:\n" + "\n".join(problems)


def test_the_cycle_check_sees_a_cycle() -> None:
    a = Import("auditor.a.x", "auditor.b.y", 1)
    b = Import("auditor.b.y", "auditor.a.x", 1)
    graph = {"auditor.a": {"auditor.b": a}, "auditor.b": {"auditor.a": b}, "auditor.c": {"auditor.a": a}}
    assert _cycles(graph) == [["auditor.a", "auditor.b"]]


@pytest.mark.parametrize("path", _files(["collect"]), ids=lambda p: str(p.relative_to(ROOT)))
def test_collectors_never_import_remediation(path: Path) -> None:
    for imp in _imports(path):
        assert _unit(imp.module) != "auditor.remediate", f"line {imp.line}: imports {imp.module}"


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
    imported = {imp.module for imp in _imports(path)} if path not in SHELL_FILES else _module_level_imports(path)
    assert not any(_is_sandbox(m) for m in imported)


def test_the_command_shells_do_use_the_sandbox() -> None:
    """Guards the test above against a stale shell list: the sandbox and demo commands import it lazily."""
    assert any(_is_sandbox(imp.module) for path in SHELL_FILES for imp in _imports(path))


@pytest.mark.parametrize("path", sorted(SANDBOX_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_sandbox_never_imports_the_auditor(path: Path) -> None:
    """The emulator is an independent witness: it keeps its own implementation of the platform's semantics."""
    assert not any(_is_product(imp.module) for imp in _imports(path))


def test_the_product_ships_no_emulator() -> None:
    assert not (ROOT / "auditor" / "sandbox").exists()
    assert SANDBOX_DIR.is_dir()


@pytest.mark.parametrize("path", _files(PURE), ids=lambda p: str(p.relative_to(ROOT)))
def test_evaluation_core_does_no_io(path: Path) -> None:
    roots = {imp.module.split(".")[0] for imp in _imports(path)}
    assert not roots & IO_MODULES


# One home: these are defined once, where the comment says, and imported everywhere else.
ONE_HOME = {
    "is_hive": "auditor.privileges.names",
    "is_hive_metastore": None,
    "split_full_name": "auditor.privileges.names",
    "split_quoted_name": "auditor.privileges.names",
    "split_name": None,
    "quote_identifier": "auditor.privileges.names",
    "quote_identifier_if_needed": "auditor.privileges.names",
    "normalize_privilege": "auditor.privileges.names",
    "sql_privilege": "auditor.privileges.names",
    "principal_kind_of": "auditor.privileges.names",
    "lineage": "auditor.privileges.names",
    "ancestors": "auditor.privileges.names",
    "with_ancestors": None,
    "decode_policy": "auditor.privileges.iam_policy",
    "canonical_policy": "auditor.privileges.iam_policy",
    "UC_PRIVILEGES": "auditor.privileges.names",
    "HIVE_PRIVILEGES": "auditor.privileges.names",
    "SECURABLE_KEYWORDS": "auditor.privileges.names",
    "HIVE_METASTORE": "auditor.privileges.names",
    "ACL_PRINCIPAL_KEYS": "auditor.privileges.names",
    "SCIM_RESOURCES": "auditor.privileges.names",
}


def _definitions(path: Path) -> Iterator[str]:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            yield node.name
        elif isinstance(node, ast.Assign):
            yield from (t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id


def test_databricks_names_and_iam_policy_decoding_have_one_home() -> None:
    homes: dict[str, list[str]] = {}
    for module, path in _product_modules().items():
        for name in _definitions(path):
            if name in ONE_HOME:
                homes.setdefault(name, []).append(module)
    for name, home in ONE_HOME.items():
        assert homes.get(name, []) == ([home] if home else []), f"{name} is defined in {homes.get(name)}"


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
        if "argparse" in {imp.module for imp in _imports(path)} and not shells & set(path.parents)
    ]
    assert parsers == []
