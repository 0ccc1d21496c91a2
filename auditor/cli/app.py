"""The parser and `main`: parse, build, call, choose the exit code. No audit logic lives here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from auditor import __version__
from auditor.cli import baseline, check, config, conformance, demo, preflight, rules, run, sandbox
from auditor.cli.common import Handler, global_options
from auditor.cli.exit_codes import ExitCode
from auditor.errors import InputError

COMMANDS = (
    check,
    preflight,
    conformance,
    rules,
    config,
    sandbox,
    run,
    demo,
    baseline,
)  # in the order `--help` lists them


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grants-auditor",
        description="Prove that a Databricks workspace and its AWS side grant exactly what Segment's "
        "Databricks integrations need.",
        epilog="exit codes: " + ", ".join(f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode),
        parents=[global_options(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"grants-auditor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InputError as exc:
        print(f"grants-auditor: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
