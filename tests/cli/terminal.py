"""Run the real console script with its output on a pseudo-terminal, or on pipes, and keep what it wrote."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CONSOLE_SCRIPT = Path(sys.executable).with_name("grants-auditor")
ANSI = "\x1b["
COLOUR_VARIABLES = ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS")


def environment(**overrides: str) -> dict[str, str]:
    """The test's environment without anything that decides colour, a wide terminal, and ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_VARIABLES and not k.startswith("DATABRICKS_")}
    env.update({"TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"}, **overrides)
    return env


@dataclass(frozen=True)
class Run:
    code: int
    out: str  # on a terminal: stdout and stderr together, as a person sees them
    err: str = ""


def on_terminal(argv: list[str], env: dict[str, str], *, timeout: float = 120) -> Run:
    """``grants-auditor argv`` with stdout and stderr on one pseudo-terminal (as in an interactive shell)."""
    leader, follower = pty.openpty()
    os.set_blocking(leader, False)
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), *argv], stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every writer has closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None and not select.select([leader], [], [], 0.2)[0]:
                break
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return Run(code, b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n"))


def on_pipes(argv: list[str], env: dict[str, str], *, timeout: float = 120) -> Run:
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)
