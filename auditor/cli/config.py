"""`config validate FILE`: the config loads, and every integration binds to a known pack with valid parameters."""

from __future__ import annotations

import argparse

from auditor.cli.common import Subcommands, command
from auditor.cli.exit_codes import ExitCode


def register(sub: Subcommands) -> None:
    config = command(sub, "config", None, help="validate a config file")
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = command(actions, "validate", run_validate, help="load the config and bind its integrations")
    validate.add_argument("config", metavar="FILE")


def run_validate(args: argparse.Namespace) -> int:
    from auditor.cycle import load_packs_for
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    load_packs_for(settings)
    targets = settings.targets
    print(f"OK: {len(targets)} target(s), {sum(len(t.integrations) for t in targets)} integration(s)")
    return ExitCode.OK
