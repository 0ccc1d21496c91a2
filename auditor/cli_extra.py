"""Sub-commands whose implementations live beside the core: sandbox, run, demo, baseline.

Kept apart so the core never imports the sandbox, and imported lazily (inside the handlers) so
`grants-auditor check` starts without loading the daemon or the emulator.
"""

from __future__ import annotations

import argparse


def _run_sandbox(args: argparse.Namespace) -> int:
    from auditor.sandbox.cli import run

    return run(args)


def add_extra_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sandbox = sub.add_parser("sandbox", help="run the local Databricks workspace + AWS IAM emulator")
    sandbox.add_argument("--scenario", default="healthy", help="healthy | drifted | legacy | a scenario YAML file")
    sandbox.add_argument("--port", type=int, default=0, help="workspace port (default: a free one)")
    sandbox.add_argument("--write-config", metavar="PATH", help="write an auditor config pointing at the sandbox")
    sandbox.add_argument("--auth", choices=["pat", "oauth-m2m"], default="pat",
                         help="how the written config authenticates")
    sandbox.set_defaults(handler=_run_sandbox)
