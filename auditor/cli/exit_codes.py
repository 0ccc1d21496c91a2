"""The exit codes of every `grants-auditor` command (also in the README)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from auditor.model.findings import Report, Status


class ExitCode(IntEnum):
    OK = 0
    """Nothing failing (pass and warn only); the command did what it was asked."""
    FAILING = 1
    """At least one rule fails (`baseline diff`: the baseline changed; `demo`: the drift was not caught;
    `conformance`: the workspace answers differently from what the collectors assume)."""
    BAD_INPUT = 2
    """Config, rule pack, snapshot or command line (the message names file, line and field)."""
    CANNOT_EVALUATE = 3
    """Nothing fails, but at least one rule could not be evaluated (`preflight`: a blind spot; `conformance`:
    an assumption could not be checked)."""
    INTERRUPTED = 130
    """Ctrl-C: 128 + SIGINT, the shells' convention."""


def for_reports(reports: Sequence[Report]) -> ExitCode:
    """A failing rule wins over an unevaluated one: `error` only decides when nothing fails."""
    statuses = {f.status for r in reports for f in r.findings}
    if Status.FAIL in statuses:
        return ExitCode.FAILING
    if Status.ERROR in statuses:
        return ExitCode.CANNOT_EVALUATE
    return ExitCode.OK
