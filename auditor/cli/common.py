"""What the commands share: the global options, the arguments several commands take, output and logging."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from auditor.console import COLOR_MODES, ColorMode
from auditor.errors import InputError

if TYPE_CHECKING:
    from auditor.evaluate.selection import Selection
    from auditor.model.findings import Severity
    from auditor.outputs.review import AuditRecord

Handler = Callable[[argparse.Namespace], int]
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"
LOG_FORMATS = ("auto", "json", "console")
GLOBAL_DEFAULTS: dict[str, str] = {"log_level": DEFAULT_LOG_LEVEL, "log_format": "auto", "color": "auto"}


def global_options(*, top: bool) -> argparse.ArgumentParser:
    """Options every command accepts, before or after its name, at any level of sub-commands.

    Only the top level holds the defaults: below it an option left out does not overwrite one given earlier.
    """

    def default(name: str) -> str:
        return GLOBAL_DEFAULTS[name] if top else argparse.SUPPRESS

    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("global options (before or after the command)")
    group.add_argument("--log-level", choices=LOG_LEVELS, default=default("log_level"), help="log level (INFO)")
    group.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default("log_format"),
        help="log lines on stderr: console (readable) or json; auto: console on a TTY, json elsewhere",
    )
    group.add_argument(
        "--color",
        choices=COLOR_MODES,
        default=default("color"),
        help="colour on stdout/stderr; auto: on a TTY unless NO_COLOR is set (FORCE_COLOR forces it)",
    )
    return options


_COMMAND_OPTIONS = global_options(top=False)


def examples_epilog(examples: Sequence[str]) -> str:
    """The ``Examples:`` section every ``--help`` ends with (lines starting with ``#`` are comments)."""
    return "Examples:\n" + "\n".join(f"  {line}" for line in examples)


def command(
    sub: Subcommands, name: str, handler: Handler | None, *, examples: Sequence[str] = (), **kwargs: Any
) -> argparse.ArgumentParser:
    """A sub-command taking the global options; `handler` runs it (None for a group of sub-commands).

    ``examples`` end its ``--help``, laid out as written.
    """
    if examples:
        kwargs.setdefault("epilog", examples_epilog(examples))
    kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    kwargs.setdefault("description", kwargs.get("help"))
    parser = sub.add_parser(name, parents=[_COMMAND_OPTIONS], **kwargs)
    if handler:
        parser.set_defaults(handler=handler)
    return parser


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="the auditor's config file")


def add_target(parser: argparse.ArgumentParser, text: str = "only this target of the config") -> None:
    parser.add_argument("--target", help=text)


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    parser.add_argument("--format", choices=choices, default="text")


def write_output(text: str, output: str | None) -> None:
    """To the file named, or to stdout for none or `-`."""
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def parse_now(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def color_mode(args: argparse.Namespace) -> ColorMode:
    mode: ColorMode = getattr(args, "color", "auto")
    return mode


def configure_logging(args: argparse.Namespace, settings: object | None = None) -> None:
    """Logs go to stderr (JSON off a TTY); every secret in the config is masked wherever it appears."""
    from auditor.log import configure_logging as configure
    from auditor.log import register_secrets_from

    log_format = getattr(args, "log_format", "auto")
    mode = color_mode(args)
    configure(
        level=getattr(args, "log_level", DEFAULT_LOG_LEVEL),
        json=None if log_format == "auto" else log_format == "json",
        colors=None if mode == "auto" else mode == "always",
    )
    if settings is not None:
        register_secrets_from(settings)


def add_rule_dirs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rule-dir",
        dest="rule_dirs",
        action="extend",
        nargs="+",
        default=[],
        metavar="DIR",
        help="extra rule pack directory (repeatable)",
    )


def add_selection(parser: argparse.ArgumentParser) -> None:
    """``--rules``, ``--skip``, ``--min-severity`` and ``--fail-on``, for every command that reports findings."""
    from auditor.model.findings import Severity

    severities = [s.value for s in Severity]
    group = parser.add_argument_group("selecting findings and the exit code")
    group.add_argument(
        "--rules",
        action="extend",
        nargs="+",
        default=[],
        type=_patterns,
        metavar="GLOB",
        help="only these rule IDs (globs, comma-separated or repeated: 'DL-*,AWS-9')",
    )
    group.add_argument(
        "--skip",
        action="extend",
        nargs="+",
        default=[],
        type=_patterns,
        metavar="GLOB",
        help="leave these rule IDs out",
    )
    group.add_argument("--min-severity", choices=severities, help="leave out findings below this severity")
    group.add_argument(
        "--fail-on",
        choices=severities,
        help="exit non-zero only for a fail (1) or error (3) at or above this severity; default: any",
    )


def _patterns(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def selection_of(args: argparse.Namespace, rule_ids: Iterable[str]) -> Selection:
    """The selection the command line asks for; a pattern matching no known rule is bad input."""
    from auditor.evaluate.selection import Selection
    from auditor.model.findings import Severity

    rules = tuple(p for group in args.rules for p in group)
    skip = tuple(p for group in args.skip for p in group)
    selection = Selection(
        rules=rules, skip=skip, min_severity=Severity(args.min_severity) if args.min_severity else None
    )
    unmatched = selection.unmatched(rule_ids)
    if unmatched:
        raise InputError("command line", f"no rule matches {', '.join(repr(p) for p in unmatched)}")
    return selection


def fail_on(args: argparse.Namespace) -> Severity | None:
    from auditor.model.findings import Severity

    return Severity(args.fail_on) if getattr(args, "fail_on", None) else None


def print_reports(records: Sequence[AuditRecord], fmt: str, output: str | None, mode: ColorMode) -> None:
    """The reports in ``fmt`` to ``output``; ``text`` for a terminal is the coloured table instead."""
    from auditor.console import is_terminal, rich_console
    from auditor.outputs.formats import render

    to_stdout = not output or output == "-"
    if fmt == "text" and to_stdout and is_terminal(sys.stdout, mode):
        from auditor.outputs.terminal import print_reports as print_table

        print_table([r.report for r in records], rich_console(sys.stdout, mode))
        return
    write_output("".join(render(r, fmt) for r in records), output)
