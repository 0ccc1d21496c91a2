"""Sub-commands whose implementations live beside the core: sandbox, run, demo, baseline.

Kept apart so the core never imports the sandbox (`auditor_sandbox`, a distribution of its own), and
imported lazily (inside the handlers) so `grants-auditor check` starts without loading the daemon or the
emulator, and works where the sandbox is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

SANDBOX_MISSING = (
    "grants-auditor {command}: needs the sandbox, a separate distribution: "
    "pip install ./sandbox (from the repository) or pip install grants-auditor-sandbox"
)


def _sandbox_installed(command: str) -> bool:
    """Whether `auditor_sandbox` can be imported; if not, say in one line how to install it."""
    if importlib.util.find_spec("auditor_sandbox") is not None:
        return True
    print(SANDBOX_MISSING.format(command=command), file=sys.stderr)
    return False


def _run_sandbox(args: argparse.Namespace) -> int:
    if not _sandbox_installed("sandbox"):
        return 2
    from auditor_sandbox.cli import main

    return main(args.sandbox_argv, prog="grants-auditor sandbox")


def _run_daemon(args: argparse.Namespace) -> int:
    from auditor.daemon import cmd_run

    return cmd_run(args)


def _run_demo(args: argparse.Namespace) -> int:
    if not _sandbox_installed("demo"):
        return 2
    from auditor.demo import cmd_demo

    return cmd_demo(args)


def add_extra_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # The sandbox's own CLI defines its arguments (`grants-auditor-sandbox --help`); everything after
    # `sandbox` is handed to it untouched. A prefix character no argument uses keeps argparse from parsing them.
    sandbox = sub.add_parser(
        "sandbox",
        help="run the local Databricks workspace + AWS IAM emulator (the grants-auditor-sandbox distribution)",
        add_help=False,
        prefix_chars="\0",
    )
    sandbox.add_argument("sandbox_argv", nargs=argparse.REMAINDER)
    sandbox.set_defaults(handler=_run_sandbox)

    run = sub.add_parser("run", help="the daemon: scheduled audits, /metrics, /findings, drift")
    run.add_argument("--config", required=True, metavar="FILE")
    run.add_argument("--once", action="store_true", help="run one cycle per target, then exit")
    run.add_argument(
        "--grace-seconds",
        type=float,
        default=30.0,
        help="on SIGTERM/SIGINT, how long running cycles may take to finish (default 30)",
    )
    run.set_defaults(handler=_run_daemon)
    demo = sub.add_parser("demo", help="the sandbox (drifted) + the daemon against it, catching a drift")
    demo.add_argument("--keep-running", action="store_true", help="stay up after the drift was shown")
    demo.add_argument("--interval", type=float, default=3.0, help=argparse.SUPPRESS)
    demo.set_defaults(handler=_run_demo)
    from auditor.drift.cli import add_baseline_arguments

    add_baseline_arguments(sub)
