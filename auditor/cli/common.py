"""What the commands share: the global options, the arguments several commands take, output and logging."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

Handler = Callable[[argparse.Namespace], int]
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"


def global_options(*, top: bool) -> argparse.ArgumentParser:
    """Options every command accepts, before or after its name (only the top level holds the default)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--log-level", choices=LOG_LEVELS, default=DEFAULT_LOG_LEVEL if top else argparse.SUPPRESS, help="log level"
    )
    return options


_COMMAND_OPTIONS = global_options(top=False)


def command(sub: Subcommands, name: str, handler: Handler | None, **kwargs: Any) -> argparse.ArgumentParser:
    """A sub-command taking the global options; `handler` runs it (None for a group of sub-commands)."""
    parser = sub.add_parser(name, parents=[_COMMAND_OPTIONS] if handler else [], **kwargs)
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


def configure_logging(args: argparse.Namespace, settings: object | None = None) -> None:
    """Logs go to stderr (JSON off a TTY); every secret in the config is masked wherever it appears."""
    from auditor.log import configure_logging as configure
    from auditor.log import register_secrets_from

    configure(level=getattr(args, "log_level", DEFAULT_LOG_LEVEL))
    if settings is not None:
        register_secrets_from(settings)
