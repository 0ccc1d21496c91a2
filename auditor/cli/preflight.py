"""`preflight`: who the auditor is on each target and which fact families it can read (exit 3 on any blind spot)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from auditor.cli.common import Subcommands, add_config, add_format, add_target, command, configure_logging
from auditor.cli.exit_codes import ExitCode
from auditor.model.facts import permission_anchor

if TYPE_CHECKING:
    from auditor.collect.preflight import PreflightResult


def register(sub: Subcommands) -> None:
    parser = command(
        sub,
        "preflight",
        run_preflight,
        help="the auditor's identity and which fact families it can read (exit 3 on a blind spot)",
        examples=(
            "grants-auditor preflight --config config/example.yaml",
            "grants-auditor preflight --config config/example.yaml --target prod --format json",
        ),
    )
    add_config(parser)
    add_target(parser)
    add_format(parser)


def run_preflight(args: argparse.Namespace) -> int:
    from auditor.collect.preflight import preflight
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    configure_logging(args, settings)
    targets = [settings.target(args.target)] if args.target else list(settings.targets)
    blind = False
    for target in targets:
        result = preflight(target)
        blind = blind or bool(result.blind_spots()) or result.identity is None
        print(_as_json(result) if args.format == "json" else _as_text(result))
    return ExitCode.CANNOT_EVALUATE if blind else ExitCode.OK


def _as_json(result: PreflightResult) -> str:
    return json.dumps(
        {
            "target": result.target,
            "identity": result.identity,
            "groups": list(result.groups),
            "warehouse_state": result.warehouse_state,
            "families": [s.model_dump(mode="json") for s in result.families],
        },
        indent=2,
    )


def _as_text(result: PreflightResult) -> str:
    groups = f" (groups: {', '.join(result.groups)})" if result.groups else ""
    lines = [f"{result.target}: the auditor is {result.identity or '(unknown)'}{groups}"]
    for status in result.families:
        reason = f": {status.reason}" if status.reason else ""
        link = "" if status.state.value == "read" else f" (see {permission_anchor(status.family)})"
        lines.append(f"  {status.state.value:12} {status.family.value}{reason}{link}")
    return "\n".join(lines)
