"""`check` (collect once or read snapshots, then evaluate: for CI) and `collect` (facts into a snapshot file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditor.cli.common import (
    Subcommands,
    add_config,
    add_format,
    add_target,
    command,
    configure_logging,
    parse_now,
    write_output,
)
from auditor.cli.exit_codes import ExitCode, for_reports
from auditor.errors import InputError
from auditor.model.facts import ReadState
from auditor.model.findings import Report


def register(sub: Subcommands) -> None:
    from auditor.outputs.formats import FORMATS

    check = command(sub, "check", run_check, help="collect once (or read a snapshot) and evaluate: for CI")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--snapshot", nargs="+", metavar="FILE", help="evaluate facts snapshot file(s) offline")
    source.add_argument("--config", metavar="FILE", help="collect from the config's target(s), then evaluate")
    add_target(check)
    check.add_argument("--rules", nargs="*", default=[], metavar="DIR", help="extra rule pack directories")
    add_format(check, tuple(sorted(FORMATS)))
    check.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    check.add_argument(
        "--now",
        help="evaluate as of this ISO-8601 time (credential expiry); default: now, or a snapshot's collection time",
    )

    collect = command(sub, "collect", run_collect, help="collect one target's facts into a snapshot file")
    add_config(collect)
    add_target(collect, "the target (required when the config has several)")
    collect.add_argument("--out", required=True, metavar="FILE")
    collect.add_argument("--now", help=argparse.SUPPRESS)


def run_check(args: argparse.Namespace) -> int:
    from auditor.outputs.formats import render

    if args.snapshot:
        reports = _evaluate_snapshots(args)
    elif args.config:
        reports = _audit_config(args)
    else:
        raise InputError("command line", "give --snapshot FILE or --config FILE")
    write_output("".join(render(r, args.format) for r in reports), args.output)
    return for_reports(reports)


def _evaluate_snapshots(args: argparse.Namespace) -> list[Report]:
    """Offline, facts are judged as of their collection time, so results are reproducible."""
    from auditor.evaluate.engine import evaluate
    from auditor.evaluate.registry import builtin_kind_args
    from auditor.loading import load_snapshot
    from auditor.packs.loader import BindingError, load_packs

    packs = load_packs([Path(d) for d in args.rules], kinds=builtin_kind_args())
    reports: list[Report] = []
    for path in args.snapshot:
        snapshot = load_snapshot(path)
        try:
            reports.append(evaluate(snapshot, packs, now=parse_now(args.now) or snapshot.collected_at))
        except BindingError as exc:  # the snapshot's integrations name an unknown pack or parameter
            raise InputError(path, exc.detail, field=exc.field) from exc
    return reports


def _audit_config(args: argparse.Namespace) -> list[Report]:
    from auditor.cycle import load_packs_for, run_cycle, suppressed
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    configure_logging(args, settings)
    packs = load_packs_for(settings)
    targets = [settings.target(args.target)] if args.target else list(settings.targets)
    return [suppressed(run_cycle(target, packs, now=parse_now(args.now)).report, settings) for target in targets]


def run_collect(args: argparse.Namespace) -> int:
    from auditor.collect.snapshot import collect_target
    from auditor.cycle import load_packs_for, plan_target
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    configure_logging(args, settings)
    packs = load_packs_for(settings)
    target = settings.target(args.target)
    result = collect_target(target, plan_target(target, packs), now=parse_now(args.now))
    write_output(result.snapshot.to_json() + "\n", args.out)
    unread = [r for r in result.snapshot.reads if r.state is not ReadState.READ]
    print(
        f"collected {target.name}: {len(result.snapshot.grants)} grants, {sum(result.stats.requests.values())} "
        f"requests, {result.stats.statements} statements, {len(unread)} unread fact scopes",
        file=sys.stderr,
    )
    return ExitCode.OK
