"""A terminal people enjoy, and pipes that stay byte-clean: the real console script on a pseudo-terminal and on pipes.

On a terminal `check` prints a coloured table and `check --config` draws one progress bar per fact family on
stderr; `NO_COLOR` keeps the table and drops the colour; in a pipe the output is the plain text format byte for
byte, with no escape sequence and no progress. Machine formats never carry colour, whatever the environment.
"""

from __future__ import annotations

import io
import json
import os
import pty
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from auditor.console import is_terminal, wants_color
from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.loading import load_snapshot
from auditor.log import configure_logging
from auditor.outputs.formats import render
from auditor.packs.loader import load_packs
from auditor_sandbox import Sandbox
from tests.cli.terminal import ANSI, environment, on_pipes, on_terminal

ROOT = Path(__file__).resolve().parents[2]
DRIFTED = ROOT / "examples" / "snapshots" / "drifted.json"
TABLE_HEADING = "finding and fix"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def plain_text_report() -> str:
    snapshot = load_snapshot(DRIFTED)
    return render(evaluate(snapshot, load_packs(kinds=builtin_kind_args()), now=snapshot.collected_at), "text")


# ---- the report ----------------------------------------------------------------------------------------------


def test_on_a_terminal_check_prints_a_coloured_table() -> None:
    run = on_terminal(["check", "--snapshot", str(DRIFTED)], environment())
    assert run.code == 1
    assert ANSI in run.out, "colour on a terminal"
    assert TABLE_HEADING in run.out and "─" in run.out
    assert "drifted: 55 findings" in run.out
    for rule in ("DG-3", "DL-5", "AWS-6", "X-1", "X-2", "AWS-9"):
        assert rule in run.out


def test_no_color_on_a_terminal_keeps_the_table_without_colour() -> None:
    run = on_terminal(["check", "--snapshot", str(DRIFTED)], environment(NO_COLOR="1"))
    assert run.code == 1
    assert TABLE_HEADING in run.out
    assert "\x1b" not in run.out


def test_color_never_on_a_terminal_and_always_in_a_pipe() -> None:
    never = on_terminal(["--color", "never", "check", "--snapshot", str(DRIFTED)], environment())
    assert TABLE_HEADING in never.out and "\x1b" not in never.out
    always = on_pipes(["check", "--snapshot", str(DRIFTED), "--color", "always"], environment(NO_COLOR="1"))
    assert TABLE_HEADING in always.out and ANSI in always.out, "the command line wins over NO_COLOR"


def test_in_a_pipe_check_prints_the_plain_text_format_byte_for_byte() -> None:
    run = on_pipes(["check", "--snapshot", str(DRIFTED)], environment())
    assert run.code == 1
    assert run.out == plain_text_report()
    assert "\x1b" not in run.out + run.err


def test_force_color_gives_the_table_in_a_pipe() -> None:
    """CI log viewers render ANSI: FORCE_COLOR asks for the terminal layout where there is no TTY."""
    run = on_pipes(["check", "--snapshot", str(DRIFTED)], environment(FORCE_COLOR="1"))
    assert TABLE_HEADING in run.out and ANSI in run.out


@pytest.mark.parametrize("fmt", ["json", "junit", "markdown", "sql"])
def test_machine_formats_are_byte_clean_on_a_terminal_and_forced(fmt: str, tmp_path: Path) -> None:
    piped = on_pipes(["check", "--snapshot", str(DRIFTED), "--format", fmt], environment())
    forced = on_pipes(["check", "--snapshot", str(DRIFTED), "--format", fmt, "--color", "always"], environment())
    assert piped.out == forced.out and "\x1b" not in piped.out
    terminal = on_terminal(["check", "--snapshot", str(DRIFTED), "--format", fmt], environment(FORCE_COLOR="1"))
    assert "\x1b" not in terminal.out
    assert terminal.out == piped.out.replace("\r\n", "\n")
    if fmt == "json":
        assert json.loads(terminal.out)["target"] == "drifted"


def test_a_workspace_name_cannot_style_or_move_the_terminal(tmp_path: Path) -> None:
    """Names are text, not markup, and control characters are shown escaped."""
    data = json.loads(DRIFTED.read_text(encoding="utf-8"))
    data["target"] = "evil[bold red]x\x1b[2J"
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    run = on_terminal(["check", "--snapshot", str(path)], environment(NO_COLOR="1"))
    assert "evil[bold red]x\\x1b[2J: 55 findings" in run.out
    assert "\x1b" not in run.out


# ---- the policy and the logs ---------------------------------------------------------------------------------


@pytest.fixture
def terminal_stream() -> Iterator[io.TextIOWrapper]:
    leader, follower = pty.openpty()
    stream = open(follower, "w", encoding="utf-8", closefd=True)  # noqa: SIM115 - closed below
    try:
        yield stream
    finally:
        stream.close()
        os.close(leader)


def test_colour_policy(terminal_stream: io.TextIOWrapper) -> None:
    pipe = io.StringIO()
    assert wants_color(terminal_stream, env={}) and is_terminal(terminal_stream, env={})
    assert not wants_color(terminal_stream, env={"NO_COLOR": "1"}) and is_terminal(
        terminal_stream, env={"NO_COLOR": "1"}
    )
    assert wants_color(terminal_stream, env={"NO_COLOR": ""}), "an empty NO_COLOR does not count"
    assert not wants_color(terminal_stream, env={"TERM": "dumb"})
    assert not wants_color(pipe, env={}) and not is_terminal(pipe, env={})
    assert wants_color(pipe, env={"FORCE_COLOR": "1"}) and is_terminal(pipe, env={"FORCE_COLOR": "1"})
    assert not wants_color(pipe, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert wants_color(pipe, "always", env={"NO_COLOR": "1"}) and not wants_color(terminal_stream, "never", env={})


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    import logging

    import structlog

    root = logging.getLogger()
    saved_handlers, saved_level, saved = list(root.handlers), root.level, structlog.get_config()
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
    structlog.configure(**saved)


def _log_line(stream: io.TextIOWrapper, monkeypatch: pytest.MonkeyPatch, no_color: str | None) -> str:
    import structlog

    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    capture = io.StringIO()
    capture.isatty = lambda: True  # type: ignore[method-assign]
    configure_logging(stream=capture)
    structlog.get_logger("auditor.test").info("collection finished", target="prod")
    return capture.getvalue()


@pytest.mark.usefixtures("_restore_logging")
def test_console_log_lines_are_coloured_on_a_terminal_unless_no_color(
    terminal_stream: io.TextIOWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    coloured = _log_line(terminal_stream, monkeypatch, None)
    assert "collection finished" in coloured and ANSI in coloured
    plain = _log_line(terminal_stream, monkeypatch, "1")
    assert "collection finished" in plain and "target=prod" in plain and "\x1b" not in plain


def test_log_format_and_color_options_reach_the_log_lines() -> None:
    """On a terminal, `--log-format json` gives JSON lines; `--log-format console --color never` plain lines."""
    argv = ["config", "validate", "no-such-file.yaml"]
    run = on_terminal(["--log-format", "console", "--color", "never", *argv], environment())
    assert run.code == 2 and "\x1b" not in run.out


# ---- the progress of a collection --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        path = tmp_path_factory.mktemp("terminal") / "sandbox.yaml"
        config = sandbox.config_dict(auth="pat")
        config["state"] = {"path": str(path.parent / "state.sqlite")}
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        yield path


def test_progress_per_fact_family_on_a_terminal(sandbox_config: Path) -> None:
    run = on_terminal(["check", "--config", str(sandbox_config), "--now", NOW.isoformat()], environment())
    assert run.code == 1, run.out
    for family in ("identity", "grants", "principals", "warehouse_acls", "trust_policies"):
        assert f"sandbox {family}" in run.out, family
    assert "collection finished" in run.out, "a log line written meanwhile is shown too"
    assert TABLE_HEADING in run.out


def test_no_progress_and_no_escapes_in_a_pipe(sandbox_config: Path) -> None:
    run = on_pipes(
        ["check", "--config", str(sandbox_config), "--now", NOW.isoformat(), "--log-level", "WARNING"], environment()
    )
    assert run.code == 1, run.err
    assert "\x1b" not in run.out + run.err
    assert "trust_policies" not in run.err and "━" not in run.err
    assert run.out.startswith("sandbox: ")
