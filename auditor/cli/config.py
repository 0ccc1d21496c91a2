"""`config validate FILE`: the config's structure, and every integration binding to a known pack with valid
parameters, checked without its secrets. Environment variables it needs and that are not set are listed;
`--require-env` makes them an error (exit 2), as they are for every command that uses the config.
"""

from __future__ import annotations

import argparse
import sys

from auditor.cli.common import Subcommands, command
from auditor.cli.exit_codes import ExitCode
from auditor.errors import InputError


def register(sub: Subcommands) -> None:
    config = command(
        sub,
        "config",
        None,
        help="validate a config file",
        examples=("grants-auditor config validate config/example.yaml",),
    )
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = command(
        actions,
        "validate",
        run_validate,
        help="check the config's structure and bindings without its secrets; list unset environment variables",
        examples=(
            "grants-auditor config validate config/example.yaml",
            "# in the deployment, where the secrets must be present:",
            "grants-auditor config validate --require-env /etc/grants-auditor/config.yaml",
        ),
    )
    validate.add_argument("config", metavar="FILE")
    validate.add_argument(
        "--require-env",
        action="store_true",
        help="fail (exit 2) when an environment variable the config needs is not set",
    )


def run_validate(args: argparse.Namespace) -> int:
    from auditor.cycle import load_packs_for
    from auditor.settings import MissingVariable, load_settings

    missing: list[MissingVariable] = []
    settings = load_settings(args.config, missing=missing)
    load_packs_for(settings)
    if missing and args.require_env:
        for unset in missing:
            error = InputError(
                args.config, f"environment variable {unset.name} is not set", line=unset.line, field=unset.field
            )
            print(f"grants-auditor: error: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    targets = settings.targets
    print(f"OK: {len(targets)} target(s), {sum(len(t.integrations) for t in targets)} integration(s)")
    if missing:
        names = sorted({m.name for m in missing})
        print(f"environment variables not set ({len(names)}); every other command needs them:")
        for unset in missing:
            line = f"line {unset.line}, " if unset.line else ""
            print(f"  {unset.name}  ({line}{unset.field})")
    return ExitCode.OK
