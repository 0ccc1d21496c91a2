"""Sandbox fixtures: a shared read-only `healthy` sandbox and fresh ones for tests that change state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor_sandbox import Sandbox
from tests.sandbox.clients import NOW


@pytest.fixture(scope="session")
def healthy() -> Iterator[Sandbox]:
    """The `healthy` scenario, shared: do not change its state or faults."""
    with Sandbox.start("healthy", now=NOW) as sandbox:
        yield sandbox


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A `healthy` sandbox of the test's own, free to change."""
    with Sandbox.start("healthy", now=NOW) as sandbox:
        yield sandbox
