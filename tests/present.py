"""`present(x)`: the SDK types every response field as optional; a test that expects one asserts it is there."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None) -> T:
    assert value is not None
    return value
