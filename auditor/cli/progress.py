"""The collection's progress on a terminal: one bar per fact family, reads done of reads planned.

Shown only when stderr is a TTY; in a pipe, a file or the daemon nothing is drawn (`NoProgress`). Log
lines written meanwhile appear above the bars (the log handler follows ``sys.stderr``, which the display
takes over while it runs).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from auditor.collect.progress import CollectionProgress, NoProgress
from auditor.console import ColorMode, isatty, rich_console
from auditor.model.facts import FactFamily, ReadState

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class FamilyProgress:
    """A `CollectionProgress` drawing one task per fact family on a `rich` progress display."""

    def __init__(self, progress: Progress, target: str) -> None:
        self._progress = progress
        self._target = target
        self._lock = threading.Lock()
        self._planned: dict[FactFamily, set[str]] = {}
        self._done: dict[FactFamily, set[str]] = {}
        self._unread: dict[FactFamily, int] = {}
        self._tasks: dict[FactFamily, TaskID] = {}

    def planned(self, scopes: Sequence[tuple[FactFamily, str]]) -> None:
        with self._lock:
            for family, scope in scopes:
                self._planned.setdefault(family, set()).add(scope)
            for family in FactFamily:  # in the enum's order, which reads from the auditor outwards
                if family in self._planned:
                    self._task(family)

    def recorded(self, family: FactFamily, scope: str, state: ReadState) -> None:
        with self._lock:
            self._done.setdefault(family, set()).add(scope)
            if state is not ReadState.READ:
                self._unread[family] = self._unread.get(family, 0) + 1
            self._task(family)

    def _task(self, family: FactFamily) -> None:
        """Create or update the family's task (under the lock)."""
        done = self._done.get(family, set())
        total = len(self._planned.get(family, set()) | done)
        unread = self._unread.get(family, 0)
        note = f"{unread} not read" if unread else ""
        if family not in self._tasks:
            label = f"{self._target} {family.value}"
            self._tasks[family] = self._progress.add_task(label, total=total, completed=len(done), note=note)
        else:
            self._progress.update(self._tasks[family], total=total, completed=len(done), note=note)


@contextmanager
def collection_progress(
    target: str, *, stream: TextIO | None = None, mode: ColorMode = "auto"
) -> Iterator[CollectionProgress]:
    """A progress display for one target's collection while the block runs, on a TTY; elsewhere silence."""
    stream = stream if stream is not None else sys.stderr
    if not isatty(stream):
        yield NoProgress()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}", style="red"),
    )
    with Progress(*columns, console=rich_console(stream, mode), refresh_per_second=8) as display:
        yield FamilyProgress(display, target)
