"""The parser and `main`: parse, build, call, choose the exit code. No audit logic lives here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from auditor import __version__
from auditor.cli import baseline, check, config, conformance, demo, preflight, report, rules, run, sandbox
from auditor.cli.common import Handler, examples_epilog, global_options
from auditor.cli.exit_codes import ExitCode
from auditor.errors import InputError

COMMANDS = (
    check,
    report,
    preflight,
    conformance,
    rules,
    config,
    sandbox,
    run,
    demo,
    baseline,
)  # in the order `--help` lists them


EXAMPLES = (
    "grants-auditor demo                                     # the sandbox and the daemon catching a drift",
    "grants-auditor config validate config/example.yaml",
    "grants-auditor preflight --config config/example.yaml",
    "grants-auditor check --config config/example.yaml --fail-on high",
    "grants-auditor check --snapshot examples/snapshots/drifted.json --format markdown",
    "grants-auditor COMMAND --help                           # each command's options and examples",
)


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code.value:<3} {code.name.lower().replace('_', ' ')}" for code in ExitCode)
    parser = argparse.ArgumentParser(
        prog="grants-auditor",
        description="Prove that a Databricks workspace and its AWS side grant exactly what Segment's\n"
        "Databricks integrations need.",
        epilog=f"exit codes:\n{codes}\n\n{examples_epilog(EXAMPLES)}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
