"""One command, one parser: every `python -m` entry point, the global options and the exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import __version__
from auditor.cli import build_parser, main
from auditor.cli.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]


def python_m(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("module", ["auditor", "auditor.cli"])
def test_python_m_is_the_console_script(module: str) -> None:
    done = python_m(module, "--version")
    assert (done.returncode, done.stdout) == (ExitCode.OK, f"grants-auditor {__version__}\n")
    assert python_m(module, "rules", "validate").stdout == "OK: 6 pack file(s), 49 rules\n"


def test_python_m_auditor_daemon_is_the_run_command() -> None:
    done = python_m("auditor.daemon", "--help")
    assert done.returncode == ExitCode.OK and done.stdout.startswith("usage: grants-auditor run ")
    missing = python_m("auditor.daemon")
    assert missing.returncode == ExitCode.BAD_INPUT and "--config" in missing.stderr


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["rules", "kinds"], "INFO"),
        (["--log-level", "DEBUG", "rules", "kinds"], "DEBUG"),
        (["rules", "kinds", "--log-level", "WARNING"], "WARNING"),
        (["run", "--config", "c.yaml", "--log-level", "ERROR"], "ERROR"),
    ],
)
def test_log_level_is_one_global_option_before_or_after_the_command(argv: list[str], level: str) -> None:
    assert build_parser().parse_args(argv).log_level == level


def test_sandbox_takes_the_sandbox_s_own_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--scenario", "no-such-scenario"]) == ExitCode.BAD_INPUT
    assert "no scenario named 'no-such-scenario'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as shown:
        main(["sandbox", "--help"])
    assert shown.value.code == 0
    assert capsys.readouterr().out.startswith("usage: grants-auditor sandbox ")


def test_the_readme_documents_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| (\d) \|", readme, flags=re.MULTILINE)}
    assert documented == {code.value for code in ExitCode if code is not ExitCode.INTERRUPTED}
