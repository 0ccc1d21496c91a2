"""The README's first two commands are the contract with a new user and with CI."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_readme_starts_with_the_demo_and_the_test_command() -> None:
    demo, tests = _readme_commands()
    assert demo.endswith("grants-auditor demo")
    assert "pytest" in tests


def test_both_commands_install_the_sandbox_beside_the_product() -> None:
    """The product's distribution does not pull the sandbox; the demo and the tests need it."""
    for command in _readme_commands():
        assert " -e ./sandbox " in command


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = _readme_commands()
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_ci_runs_the_gates_before_the_tests() -> None:
    """ruff, the format check and mypy --strict over product, sandbox, tests and bench, before the README's tests."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    _, tests = _readme_commands()
    gates = [
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/mypy --strict auditor sandbox/src/auditor_sandbox tests bench",
    ]
    positions = [ci.index(gate) for gate in gates]
    assert positions == sorted(positions) and positions[-1] < ci.index(tests)
