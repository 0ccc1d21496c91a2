"""Whether a stream is a terminal a person reads, and whether to colour it: one policy for reports, progress and logs.

A terminal gets the table, the progress display and the readable log lines; a pipe or file gets plain text
(and JSON log lines), byte for byte what a script expects. Colour follows https://no-color.org: the command
line's ``--color always|never`` wins, then ``NO_COLOR`` (any non-empty value: no colour), then ``FORCE_COLOR``
(any non-empty value: colour, and the terminal layout even in a pipe, as CI log viewers render ANSI), then
whether the stream is a TTY (and ``TERM`` is not ``dumb``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, TextIO

if TYPE_CHECKING:
    from rich.console import Console

ColorMode = Literal["auto", "always", "never"]
COLOR_MODES: tuple[ColorMode, ...] = ("auto", "always", "never")


def isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def is_terminal(stream: TextIO, mode: ColorMode = "auto", env: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` gets the terminal layout (table, progress): a TTY, or forced by ``FORCE_COLOR``/``always``."""
    return mode == "always" or bool(_env(env).get("FORCE_COLOR")) or isatty(stream)


def wants_color(stream: TextIO, mode: ColorMode = "auto", env: Mapping[str, str] | None = None) -> bool:
    """Whether to write ANSI colour to ``stream``."""
    values = _env(env)
    if mode != "auto":
        return mode == "always"
    if values.get("NO_COLOR"):
        return False
    if values.get("FORCE_COLOR"):
        return True
    return isatty(stream) and values.get("TERM") != "dumb"


def rich_console(stream: TextIO, mode: ColorMode = "auto", env: Mapping[str, str] | None = None) -> Console:
    """A `rich` console on ``stream`` that follows this policy rather than its own reading of the environment."""
    from rich.console import Console

    color = wants_color(stream, mode, env)
    return Console(
        file=stream,
        force_terminal=is_terminal(stream, mode, env),
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        emoji=False,
        markup=False,
        # A width rich cannot measure (a pipe, forced by FORCE_COLOR) falls back to COLUMNS, then 80.
    )
