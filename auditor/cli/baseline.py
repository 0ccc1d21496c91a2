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
)
from auditor.drift.store import StateStore, StoreError, state_path
from auditor.errors import InputError
from auditor.settings import Settings, load_settings


def register(sub: Subcommands) -> None:
    baseline = command(sub, "baseline", None, help="approve, show or diff the approved baseline of a target")
    actions = baseline.add_subparsers(dest="baseline_command", required=True, metavar="{approve,show,diff}")
    approve = command(
        actions, "approve", run_baseline, help="approve the latest completed snapshot (or --snapshot FILE)"
    )
    show = command(actions, "show", run_baseline, help="show the approved baseline")
    diff = command(actions, "diff", run_baseline, help="changes between the baseline and the latest snapshot")
    for parser in (approve, show, diff):
        add_config(parser)
        add_target(parser, "the target (default: every target)")
    approve.add_argument("--snapshot", help="approve this snapshot JSON file instead of the latest cycle's")
    approve.add_argument("--by", help="who approves (default: the current user)")
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
            return _diff(store, targets, args.format, out)
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


def _diff(store: StateStore, targets: list[str], output: str, out: TextIO) -> int:
    results: list[BaselineDiff] = [baseline_diff(store, target) for target in targets]
    if output == "json":
        print(diff_json(results), file=out)
    else:
        print("\n".join(render_diff(r) for r in results), file=out)
    return ExitCode.FAILING if any(r.changes for r in results) else ExitCode.OK
