"""Bulk work over millions of small objects: parsing a snapshot, evaluating it.

CPython's cyclic garbage collector runs every few hundred allocations of container objects and, now and
then, walks every object still alive. Loading or evaluating a snapshot of a million grants allocates
millions of containers that form no reference cycles (grants, index lists, remediation statements), so
the collector would walk the same snapshot again and again for nothing: about a third of the time at a
million grants. `paused_cycle_collection` switches it off for such a step and back on after (reference
counting still frees everything as usual; any cycle made meanwhile is collected once it is back on).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_cycle_collection() -> Iterator[None]:
    """No cyclic garbage collection inside the block (nested blocks and a disabled collector are respected)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
