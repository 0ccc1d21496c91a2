"""`conformance`: does the workspace answer the way the collectors assume? (read-only; docs/conformance.md)

Exit 0 when every assumption holds, 1 when one does not (the auditor would misread this workspace), 3 when
nothing is inconsistent but something could not be read.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.cli.common import Subcommands, add_config, add_target, command, configure_logging
from auditor.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from auditor.collect.conformance import Check, ConformanceResult

HEADERS = ("assumption", "observed", "consistent")


def register(sub: Subcommands) -> None:
    parser = command(
        sub,
        "conformance",
        run_conformance,
        help="check, read-only, that the workspace behaves as the collectors assume",
    )
    add_config(parser)
    add_target(parser)
    parser.add_argument(
        "--out", metavar="DIR", help="also write the observed shapes there, names replaced and secrets removed"
    )


def run_conformance(args: argparse.Namespace) -> int:
    from auditor.collect.conformance import probe_conformance
    from auditor.collect.conformance_shapes import write_shapes
    from auditor.cycle import load_packs_for, plan_target
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    configure_logging(args, settings)
    packs = load_packs_for(settings)
    targets = [settings.target(args.target)] if args.target else list(settings.targets)
    results: list[ConformanceResult] = []
    for target in targets:
        result = probe_conformance(target, plan_target(target, packs))
        results.append(result)
        print(f"{target.name}:")
        print(render_table(result.checks))
        if args.out:
            out = Path(args.out) / target.name if len(targets) > 1 else Path(args.out)
            written = write_shapes(result, out, target)
            print(f"wrote {len(written)} files to {out} (names replaced, secrets removed)")
    return exit_code(results)


def exit_code(results: list[ConformanceResult]) -> ExitCode:
    """Inconsistent wins over unread, as a failing rule wins over an unevaluated one."""
    from auditor.collect.conformance import Verdict

    verdicts = {v for r in results for v in r.verdicts()}
    if Verdict.INCONSISTENT in verdicts:
        return ExitCode.FAILING
    if Verdict.UNREAD in verdicts:
        return ExitCode.CANNOT_EVALUATE
    return ExitCode.OK


WRAP = 64
"""Assumption and observed cells wrap at this width (continuation lines leave the other cells blank)."""


def render_table(checks: list[Check]) -> str:
    """A plain text table, columns aligned: assumption | observed | consistent (one verdict per check)."""
    rows: list[tuple[str, str, str]] = [HEADERS]
    for check in checks:
        assumption = textwrap.wrap(check.assumption, WRAP) or [""]
        observed = textwrap.wrap(check.observed, WRAP, break_on_hyphens=False) or [""]
        for index in range(max(len(assumption), len(observed))):
            rows.append(
                (
                    assumption[index] if index < len(assumption) else "",
                    observed[index] if index < len(observed) else "",
                    check.verdict.value if index == 0 else "",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
