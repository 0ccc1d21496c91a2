"""`check` (collect once or read snapshots, then evaluate: for CI) and `collect` (facts into a snapshot file)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.cli.common import (
    Subcommands,
    add_config,
    add_format,
    add_rule_dirs,
    add_selection,
    add_target,
    color_mode,
    command,
    configure_logging,
    fail_on,
    parse_now,
    print_reports,
    selection_of,
    write_output,
)
from auditor.cli.exit_codes import ExitCode, for_reports
from auditor.errors import InputError
from auditor.model.facts import ReadState
from auditor.outputs.review import AuditRecord

if TYPE_CHECKING:
    from auditor.packs.loader import PackSet

CHECK_EXAMPLES = (
    "grants-auditor check --snapshot examples/snapshots/drifted.json",
    "grants-auditor check --config config/example.yaml --format junit -o report.xml",
    "grants-auditor check --config config/example.yaml --rules 'DL-*' --skip DL-6 --fail-on high",
    "grants-auditor check --snapshot snap.json --min-severity medium --format markdown > review.md",
)
COLLECT_EXAMPLES = (
    "grants-auditor collect --config config/example.yaml --out snapshot.json",
    "grants-auditor check --snapshot snapshot.json      # then evaluate it, as often as you like",
)


def register(sub: Subcommands) -> None:
    from auditor.outputs.formats import FORMATS

    check = command(
        sub,
        "check",
        run_check,
        help="collect once (or read a snapshot) and evaluate: for CI",
        examples=CHECK_EXAMPLES,
    )
    source = check.add_mutually_exclusive_group()
    source.add_argument("--snapshot", nargs="+", metavar="FILE", help="evaluate facts snapshot file(s) offline")
    source.add_argument("--config", metavar="FILE", help="collect from the config's target(s), then evaluate")
    add_target(check)
    add_rule_dirs(check)
    add_format(check, tuple(sorted(FORMATS)))
    check.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    check.add_argument(
        "--now",
        help="evaluate as of this ISO-8601 time (credential expiry); default: now, or a snapshot's collection time",
    )
    add_selection(check)

    collect = command(
        sub, "collect", run_collect, help="collect one target's facts into a snapshot file", examples=COLLECT_EXAMPLES
    )
    add_config(collect)
    add_target(collect, "the target (required when the config has several)")
    collect.add_argument("--out", required=True, metavar="FILE")
    collect.add_argument("--now", help=argparse.SUPPRESS)


def run_check(args: argparse.Namespace) -> int:
    if args.snapshot:
        records, packs = _evaluate_snapshots(args)
    elif args.config:
        records, packs = _audit_config(args)
    else:
        raise InputError("command line", "give --snapshot FILE or --config FILE")
    selection = selection_of(args, (r.id for p in packs for r in p.spec.rules))
    records = [dataclasses.replace(r, report=selection.apply(r.report)) for r in records]
    print_reports(records, args.format, args.output, color_mode(args))
    return for_reports([r.report for r in records], fail_on=fail_on(args))


def _evaluate_snapshots(args: argparse.Namespace) -> tuple[list[AuditRecord], PackSet]:
    """Offline, facts are judged as of their collection time, so results are reproducible."""
    from auditor.evaluate.engine import evaluate
    from auditor.evaluate.registry import builtin_kind_args
    from auditor.loading import load_snapshot
    from auditor.outputs.review import pack_infos
    from auditor.packs.loader import BindingError, load_packs

    packs = load_packs([Path(d) for d in args.rule_dirs], kinds=builtin_kind_args())
    records: list[AuditRecord] = []
    for path in args.snapshot:
        snapshot = load_snapshot(path)
        try:
            report = evaluate(snapshot, packs, now=parse_now(args.now) or snapshot.collected_at)
        except BindingError as exc:  # the snapshot's integrations name an unknown pack or parameter
            raise InputError(path, exc.detail, field=exc.field) from exc
        records.append(AuditRecord(report=report, snapshot=snapshot, packs=pack_infos(packs)))
    return records, packs


def _audit_config(args: argparse.Namespace) -> tuple[list[AuditRecord], PackSet]:
    from auditor.settings import load_settings

    settings = load_settings(args.config)  # before the collectors and their clients are even imported
    from auditor.cli.progress import collection_progress
    from auditor.cycle import load_packs_for, run_cycle, suppressed
    from auditor.outputs.review import pack_infos

    configure_logging(args, settings)
    if args.rule_dirs:
        extra = tuple(str(Path(d).resolve()) for d in args.rule_dirs)  # relative to here, not to the config
        settings = settings.model_copy(update={"rule_dirs": (*settings.rule_dirs, *extra)})
    packs = load_packs_for(settings)
    targets = [settings.target(args.target)] if args.target else list(settings.targets)
    records: list[AuditRecord] = []
    for target in targets:
        with collection_progress(target.name, mode=color_mode(args)) as progress:
            result = run_cycle(target, packs, now=parse_now(args.now), progress=progress)
        records.append(
            AuditRecord(report=suppressed(result.report, settings), snapshot=result.snapshot, packs=pack_infos(packs))
        )
    return records, packs


def run_collect(args: argparse.Namespace) -> int:
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    from auditor.cli.progress import collection_progress
    from auditor.collect.snapshot import collect_target
    from auditor.cycle import load_packs_for, plan_target

    configure_logging(args, settings)
    packs = load_packs_for(settings)
    target = settings.target(args.target)
    with collection_progress(target.name, mode=color_mode(args)) as progress:
        result = collect_target(target, plan_target(target, packs), now=parse_now(args.now), progress=progress)
    write_output(result.snapshot.to_json() + "\n", args.out)
    unread = [r for r in result.snapshot.reads if r.state is not ReadState.READ]
    print(
        f"collected {target.name}: {len(result.snapshot.grants)} grants, {sum(result.stats.requests.values())} "
        f"requests, {result.stats.statements} statements, {len(unread)} unread fact scopes",
        file=sys.stderr,
    )
    return ExitCode.OK
