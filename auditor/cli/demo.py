"""`demo`: the sandbox (drifted scenario) and the daemon against it, catching a drift someone causes."""

from __future__ import annotations

import argparse
import logging

from auditor.cli.common import Subcommands, command
from auditor.cli.exit_codes import ExitCode
from auditor.cli.sandbox import sandbox_installed


def register(sub: Subcommands) -> None:
    parser = command(
        sub,
        "demo",
        run_demo,
        help="the sandbox (drifted) + the daemon against it, catching a drift",
        examples=("grants-auditor demo", "grants-auditor demo --keep-running   # then browse /metrics and /findings"),
    )
    parser.add_argument("--keep-running", action="store_true", help="stay up after the drift was shown")
    parser.add_argument("--interval", type=float, help=argparse.SUPPRESS)  # seconds between cycles


def run_demo(args: argparse.Namespace) -> int:
    if not sandbox_installed("demo"):
        return ExitCode.BAD_INPUT
    from auditor.cli import demo_session as demo
    from auditor.log import configure_logging

    configure_logging(level="WARNING")
    logging.getLogger("databricks.sql").setLevel(logging.ERROR)  # connector notices are noise here
    return demo.run_demo(keep_running=args.keep_running, interval=args.interval or demo.DEMO_INTERVAL_SECONDS)
