"""Suite-wide options: long drills run only with --run-slow (CI's default suite stays fast)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the slow drills (benchmark smoke run, ...)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow drill: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
