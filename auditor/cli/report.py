"""`report`: render the state store's latest completed cycle of each target, without collecting again.

The daemon stores every cycle's snapshot and report; this renders them in any output format, with the drift
the store recorded since the approved baseline. Exit codes as for `check`: FAILING when a rule fails,
CANNOT_EVALUATE when one could not be evaluated and none fails, BAD_INPUT when there is nothing to render.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from auditor.cli.common import (
    Subcommands,
    add_config,
    add_selection,
    add_target,
    color_mode,
    command,
    configure_logging,
    fail_on,
    print_reports,
    selection_of,
    write_output,
)
from auditor.cli.exit_codes import ExitCode, for_reports
from auditor.errors import InputError


def register(sub: Subcommands) -> None:
    from auditor.outputs.formats import FORMATS

    report = command(
        sub,
        "report",
        run_report,
        help="render the latest stored cycle (html, markdown, sarif, plan ...) without collecting again",
        description="Render the state store's latest completed cycle of each target, with the drift since its "
        "baseline, without collecting again.",
        examples=(
            "grants-auditor report --config auditor.yaml --format html --out report.html",
            "grants-auditor report --config auditor.yaml --target prod --format plan --out fixes.md",
            "grants-auditor report --config auditor.yaml --format sarif --out grants.sarif",
        ),
    )
    add_config(report)
    add_target(report, "only this target (default: every target in the config)")
    add_selection(report)
    report.add_argument("--format", choices=tuple(sorted(FORMATS)), default="html")
    report.add_argument(
        "--out",
        "--output",
        "-o",
        dest="output",
        metavar="PATH",
        help="write here (default stdout); with several targets, one file each: PATH's name plus .<target>",
    )


def run_report(args: argparse.Namespace) -> int:
    from auditor.cycle import load_packs_for
    from auditor.drift.store import StateStore, StoreError, state_path
    from auditor.outputs.formats import render
    from auditor.outputs.review import pack_infos
    from auditor.outputs.stored import stored_record
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    configure_logging(args, settings)
    loaded = load_packs_for(settings)
    packs = pack_infos(loaded)
    selection = selection_of(args, (rule.id for pack in loaded for rule in pack.spec.rules))
    targets = [settings.target(args.target).name] if args.target else [t.name for t in settings.targets]
    path = state_path(settings)
    if not path.exists():
        raise InputError(str(path), "no state store yet: run the daemon (`grants-auditor run`) for one cycle first")
    try:
        with StateStore(path) as store:
            stored = [stored_record(store, target, packs) for target in targets]
    except StoreError as exc:
        raise InputError(str(path), str(exc)) from exc
    records = [dataclasses.replace(r, report=selection.apply(r.report)) for r in stored]
    if args.output and args.output != "-" and len(records) > 1:  # one document per file: PATH.<target>.<suffix>
        out = Path(args.output)
        for record in records:
            write_output(
                render(record, args.format), str(out.with_name(f"{out.stem}.{record.report.target}{out.suffix}"))
            )
    else:
        print_reports(records, args.format, args.output, color_mode(args))
    return for_reports([record.report for record in records], fail_on=fail_on(args)) if records else ExitCode.OK
