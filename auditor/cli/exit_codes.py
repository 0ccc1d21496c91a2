"""The exit codes of every `grants-auditor` command (also in the README)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from auditor.evaluate.selection import at_least
from auditor.model.findings import Report, Severity, Status


class ExitCode(IntEnum):
    OK = 0
    """Nothing failing (pass and warn only, or only below `--fail-on`); the command did what it was asked."""
    FAILING = 1
    """At least one rule fails (`baseline diff`: the baseline changed; `demo`: the drift was not caught;
    `conformance`: the workspace answers differently from what the collectors assume)."""
    BAD_INPUT = 2
    """Config, rule pack, snapshot or command line (the message names file, line and field; `config validate
    --require-env`: an environment variable the config needs is not set)."""
    CANNOT_EVALUATE = 3
    """Nothing fails, but at least one rule could not be evaluated (`preflight`: a blind spot; `conformance`:
    an assumption could not be checked)."""
    INTERRUPTED = 130
    """Ctrl-C: 128 + SIGINT, the shells' convention."""


def for_reports(reports: Sequence[Report], *, fail_on: Severity | None = None) -> ExitCode:
    """A failing rule wins over an unevaluated one: `error` only decides when nothing fails.

    With ``fail_on``, only findings of that severity or above decide (both `fail` and `error`).
    """
    statuses = {f.status for r in reports for f in r.findings if fail_on is None or at_least(f.severity, fail_on)}
    if Status.FAIL in statuses:
        return ExitCode.FAILING
    if Status.ERROR in statuses:
        return ExitCode.CANNOT_EVALUATE
    return ExitCode.OK
