"""`sandbox`: serve the local Databricks workspace + AWS IAM emulator (the `grants-auditor-sandbox` distribution).

The sandbox is a distribution of its own that imports nothing of the auditor, so it owns its options: every
argument after `sandbox` goes to its parser (`grants-auditor sandbox --help` lists them). Where it is not
installed, the command says in one line how to install it.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from auditor.cli.common import Subcommands, command, global_options
from auditor.cli.exit_codes import ExitCode

_NO_OPTIONS_HERE = "\0"  # a prefix no argument starts with: argparse passes every argument on, `-h` included

SANDBOX_MISSING = (
    "grants-auditor {command}: needs the sandbox, a separate distribution: "
    "pip install ./sandbox (from the repository) or pip install grants-auditor-sandbox"
)


def sandbox_installed(command_name: str) -> bool:
    """Whether `auditor_sandbox` can be imported; if not, say in one line how to install it."""
    if importlib.util.find_spec("auditor_sandbox") is not None:
        return True
    print(SANDBOX_MISSING.format(command=command_name), file=sys.stderr)
    return False


def register(sub: Subcommands) -> None:
    parser = command(
        sub,
        "sandbox",
        run_sandbox,
        help="run the local Databricks workspace + AWS IAM emulator (--help for its options)",
        add_help=False,
        prefix_chars=_NO_OPTIONS_HERE,
    )
    parser.add_argument("sandbox_args", nargs="*", metavar="ARG")


def run_sandbox(args: argparse.Namespace) -> int:
    if not sandbox_installed("sandbox"):
        return ExitCode.BAD_INPUT
    from auditor_sandbox.cli import main

    # The global options may follow `sandbox` too; they are the auditor's, not the sandbox's.
    _, sandbox_args = global_options(top=False).parse_known_args(args.sandbox_args)
    return main(sandbox_args, prog="grants-auditor sandbox")
