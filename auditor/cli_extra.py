"""Sub-commands whose implementations live beside the core: sandbox, run, demo, baseline.

Kept apart so the core never imports the sandbox, and imported lazily (inside the handlers) so
`grants-auditor check` starts without loading the daemon or the emulator.
"""

from __future__ import annotations

import argparse


def _run_sandbox(args: argparse.Namespace) -> int:
    from auditor.sandbox.cli import run

    return run(args)


def _run_daemon(args: argparse.Namespace) -> int:
    from auditor.daemon import cmd_run

    return cmd_run(args)


def _run_demo(args: argparse.Namespace) -> int:
    from auditor.demo import cmd_demo

    return cmd_demo(args)


def add_extra_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = sub.add_parser("sandbox", help="run the local Databricks workspace + AWS IAM emulator")
    sandbox.add_argument("--scenario", default="healthy", help="healthy | drifted | legacy | a scenario YAML file")
    sandbox.add_argument("--port", type=int, default=0, help="workspace port (default: a free one)")
    sandbox.add_argument("--write-config", metavar="PATH", help="write an auditor config pointing at the sandbox")
    sandbox.add_argument(
        "--auth", choices=["pat", "oauth-m2m"], default="pat", help="how the written config authenticates"
    )
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
