"""`sandbox`: serve the local Databricks workspace + AWS IAM emulator (`python -m auditor.sandbox` is the same).

The sandbox owns its options (it imports nothing of the auditor), so every argument after `sandbox` goes to
its own parser: `grants-auditor sandbox --help` lists them.
"""

from __future__ import annotations

import argparse

from auditor.cli.common import Subcommands, command

_NO_OPTIONS_HERE = "\0"  # a prefix no argument starts with: argparse passes every argument on, `-h` included


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
    from auditor.sandbox.cli import main

    return main(args.sandbox_args, prog="grants-auditor sandbox")
