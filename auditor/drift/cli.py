"""``grants-auditor baseline approve|show|diff``: the baseline sub-commands.

Exit codes: 0 done (``diff``: no changes); 1 ``diff`` found changes; 2 bad input or nothing to
work on (no completed cycle, no baseline).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any, TextIO

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
from auditor.settings import Settings, load_settings
from auditor.yamlio import InputError

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_INPUT = 2


def add_baseline_arguments(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``baseline`` with its ``approve``/``show``/``diff`` sub-commands to ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "baseline", help="approve, show or diff the approved baseline of a target"
    )
    commands = parser.add_subparsers(dest="baseline_command", required=True, metavar="{approve,show,diff}")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", required=True, help="the auditor's config file")
        sub.add_argument("--target", help="the target (default: every target)")

    approve = commands.add_parser("approve", help="approve the latest completed snapshot (or --snapshot FILE)")
    common(approve)
    approve.add_argument("--snapshot", help="approve this snapshot JSON file instead of the latest cycle's")
    approve.add_argument("--by", help="who approves (default: the current user)")
    for name, text in (
        ("show", "show the approved baseline"),
        ("diff", "changes between the baseline and the latest snapshot"),
    ):
        sub = commands.add_parser(name, help=text)
        common(sub)
        sub.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run_baseline)
    return parser


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
        print(f"error: {exc}", file=err)
        return EXIT_INPUT


def _approve(store: StateStore, settings: Settings, targets: list[str], args: argparse.Namespace, out: TextIO) -> int:
    if args.snapshot and len(targets) > 1:
        raise InputError(settings.source_path or "config", "several targets: choose one with --target")
    approved_by = args.by or getpass.getuser()
    for target in targets:
        baseline = approve_baseline(store, target, approved_by=approved_by, snapshot_file=args.snapshot)
        print(f"approved: {render_baseline(baseline)}", file=out)
    return EXIT_OK


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
    return EXIT_OK


def _diff(store: StateStore, targets: list[str], output: str, out: TextIO) -> int:
    results: list[BaselineDiff] = [baseline_diff(store, target) for target in targets]
    if output == "json":
        print(diff_json(results), file=out)
    else:
        print("\n".join(render_diff(r) for r in results), file=out)
    return EXIT_CHANGES if any(r.changes for r in results) else EXIT_OK
