"""Suite-wide options.

Long drills (``slow``) and runs against a live workspace (``online``) are deselected unless asked for, so the
default suite stays fast and never reports them as skipped. Under CI (``CI`` set), any other skip is a missing
prerequisite, and it fails the run instead of hiding a test that did not run.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

OPT_IN_MARKERS = {"slow": "--run-slow", "online": "--run-online"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the slow drills (benchmark, long soak, ...)")
    parser.addoption("--run-online", action="store_true", help="also run tests against a live Databricks workspace")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = {marker for marker, option in OPT_IN_MARKERS.items() if config.getoption(option)}
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        opt_in = {marker for marker in OPT_IN_MARKERS if marker in item.keywords}
        (deselected if opt_in - wanted else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where every prerequisite must be installed: {report.longrepr}"
    return report
