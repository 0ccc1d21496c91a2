"""`baseline approve|show|diff`: approve a target's facts as its baseline, show it, diff the latest cycle against it.

Exit codes: OK done (``diff``: no changes); FAILING ``diff`` found changes; BAD_INPUT bad input or nothing to
work on (no completed cycle, no baseline).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TextIO

from auditor.cli.common import Subcommands, add_config, add_format, add_target, command
from auditor.cli.exit_codes import ExitCode
from auditor.drift.baseline import (
    BaselineDiff,
    BaselineError,
    approve_baseline,
    baseline_diff,
    baseline_summary,
    diff_json,
    render_baseline,
    render_diff,
    snapshot_diff,
)
from auditor.drift.store import StateStore, StoreError, state_path
from auditor.errors import InputError
from auditor.settings import Settings, load_settings


def register(sub: Subcommands) -> None:
    baseline = command(
        sub,
        "baseline",
        None,
        help="approve, show or diff the approved baseline of a target",
        examples=(
            "grants-auditor baseline approve --config config/example.yaml --target prod",
            "grants-auditor baseline diff --config config/example.yaml --target prod",
            "# in CI, without a daemon: approve a snapshot once, then diff each new one against it",
            "grants-auditor baseline approve --config ci.yaml --snapshot approved.json",
            "grants-auditor baseline diff --config ci.yaml --snapshot today.json",
        ),
    )
    actions = baseline.add_subparsers(dest="baseline_command", required=True, metavar="{approve,show,diff}")
    approve = command(
        actions,
        "approve",
        run_baseline,
        help="approve the latest completed snapshot (or --snapshot FILE)",
        examples=(
            "grants-auditor baseline approve --config config/example.yaml --target prod --by alice",
            "grants-auditor baseline approve --config ci.yaml --snapshot approved.json",
        ),
    )
    show = command(
        actions,
        "show",
        run_baseline,
        help="show the approved baseline",
        examples=("grants-auditor baseline show --config config/example.yaml --format json",),
    )
    diff = command(
        actions,
        "diff",
        run_baseline,
        help="changes between the baseline and the latest snapshot (exit 1 when there are any)",
        examples=(
            "grants-auditor baseline diff --config config/example.yaml --target prod",
            "grants-auditor collect --config ci.yaml --out today.json && \\",
            "  grants-auditor baseline diff --config ci.yaml --snapshot today.json --format json",
        ),
    )
    for parser in (approve, show, diff):
        add_config(parser)
        add_target(parser, "the target (default: every target)")
    approve.add_argument("--snapshot", help="approve this snapshot JSON file instead of the latest cycle's")
    approve.add_argument("--by", help="who approves (default: the current user)")
    diff.add_argument(
        "--snapshot",
        metavar="FILE",
        help="diff this snapshot JSON file (of one target) instead of the latest cycle's: no daemon needed",
    )
    for parser in (show, diff):
        add_format(parser)


def _targets(settings: Settings, name: str | None) -> list[str]:
    return [settings.target(name).name] if name else [t.name for t in settings.targets]


def run_baseline(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one ``baseline`` sub-command; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        settings = load_settings(args.config)
        targets = _targets(settings, args.target)
        with StateStore(state_path(settings)) as store:
            if args.baseline_command == "approve":
                return _approve(store, settings, targets, args, out)
            if args.baseline_command == "show":
                return _show(store, targets, args.format, out)
            if args.snapshot:
                return _diff_results([_snapshot_diff(store, settings, args)], args.format, out)
            return _diff_results([baseline_diff(store, target) for target in targets], args.format, out)
    except (InputError, BaselineError, StoreError) as exc:
        print(f"grants-auditor: error: {exc}", file=err)
        return ExitCode.BAD_INPUT


def _approve(store: StateStore, settings: Settings, targets: list[str], args: argparse.Namespace, out: TextIO) -> int:
    if args.snapshot and len(targets) > 1:
        raise InputError(settings.source_path or "config", "several targets: choose one with --target")
    approved_by = args.by or getpass.getuser()
    for target in targets:
        baseline = approve_baseline(store, target, approved_by=approved_by, snapshot_file=args.snapshot)
        print(f"approved: {render_baseline(baseline)}", file=out)
    return ExitCode.OK


def _show(store: StateStore, targets: list[str], output: str, out: TextIO) -> int:
    baselines = []
    for target in targets:
        baseline = store.baseline(target)
        if baseline is None:
            raise BaselineError(f"target {target!r} has no approved baseline")
        baselines.append(baseline)
    if output == "json":
        print(json.dumps({"targets": [baseline_summary(b) for b in baselines]}, indent=2), file=out)
    else:
        for baseline in baselines:
            print(render_baseline(baseline), file=out)
    return ExitCode.OK


def _snapshot_diff(store: StateStore, settings: Settings, args: argparse.Namespace) -> BaselineDiff:
    from auditor.cycle import load_packs_for
    from auditor.evaluate.engine import audited, bind_all
    from auditor.loading import load_snapshot
    from auditor.packs.loader import BindingError

    snapshot = load_snapshot(args.snapshot)
    if args.target and args.target != snapshot.target:
        raise InputError(args.snapshot, f"the snapshot is of target {snapshot.target!r}, not {args.target!r}")
    try:
        bound = bind_all(load_packs_for(settings), snapshot.integrations, where=args.snapshot)
    except BindingError as exc:
        raise InputError(args.snapshot, exc.detail, field=exc.field) from exc
    return snapshot_diff(store, snapshot, audited(bound))


def _diff_results(results: list[BaselineDiff], output: str, out: TextIO) -> int:
    if output == "json":
        print(diff_json(results), file=out)
    else:
        print("\n".join(render_diff(r) for r in results), file=out)
    return ExitCode.FAILING if any(r.changes for r in results) else ExitCode.OK
