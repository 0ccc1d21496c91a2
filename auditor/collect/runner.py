"""Bounded concurrency with a deadline: reads run on at most N worker threads; waiting stops at the deadline.

Workers are daemon threads, so a read stuck on a connection that never answers cannot keep the process
alive or the cycle waiting: the cycle abandons it at the deadline and records its scopes as FAILED.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, TypeVar

from auditor.collect.budget import Deadline

_STOP = object()
T = TypeVar("T")


class Runner:
    """A small pool of daemon worker threads."""

    def __init__(self, workers: int, *, name: str = "collect") -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Schedule ``fn``; its result or exception arrives in the returned future."""
        future: Future[Any] = Future()
        self._queue.put((future, fn))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def close(self) -> None:
        """Cancel what has not started and let idle workers exit; running ones finish on their own."""
        for _ in self._threads:
            self._queue.put(_STOP)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until(futures: Iterable[Future[Any]], deadline: Deadline) -> bool:
    """Wait for every future or the deadline, whichever comes first. True if all finished."""
    pending = set(futures)
    while pending:
        remaining = deadline.remaining()
        if remaining <= 0:
            return False
        _, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
    return True


class Memo:
    """Compute each key once, even when several threads ask at the same time (failures are remembered too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Any, tuple[threading.Event, list[Any]]] = {}

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if entry is None:
                entry = (threading.Event(), [])
                self._entries[key] = entry
        event, box = entry
        if owner:
            try:
                box.append(("ok", compute()))
            except BaseException as exc:
                box.append(("error", exc))
                raise
            finally:
                event.set()
        else:
            event.wait()
        status, value = box[0]
        if status == "error":
            raise value
        return value  # type: ignore[no-any-return]
