"""`run`: the daemon (scheduled audits, /metrics, /findings, drift). `python -m auditor.daemon` is the same command."""

from __future__ import annotations

import argparse
from pathlib import Path

from auditor.cli.common import Subcommands, add_config, command, configure_logging
from auditor.cli.exit_codes import ExitCode

DEFAULT_GRACE_SECONDS = 30.0


def register(sub: Subcommands) -> None:
    parser = command(
        sub,
        "run",
        run_daemon,
        help="the daemon: scheduled audits, /metrics, /findings, drift",
        examples=(
            "grants-auditor run --config config/example.yaml",
            "grants-auditor run --config config/example.yaml --once --log-format json",
            "python -m auditor.daemon --config config/example.yaml   # the same command",
        ),
    )
    add_config(parser)
    parser.add_argument("--once", action="store_true", help="run one cycle per target, then exit")
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help=f"on SIGTERM/SIGINT, how long running cycles may take to finish (default {DEFAULT_GRACE_SECONDS:g})",
    )


def run_daemon(args: argparse.Namespace) -> int:
    """Exit OK after a clean or grace-limited stop; with --once, FAILING unless every cycle completed."""
    from auditor import daemon
    from auditor.settings import load_settings

    configure_logging(args)
    settings = load_settings(args.config)
    return ExitCode(
        daemon.run_daemon(settings, config_path=Path(args.config), once=args.once, grace_seconds=args.grace_seconds)
    )
