"""Tokens and client secrets never reach a snapshot, the stats, a reason or a log line."""

from __future__ import annotations

import logging

import pytest

from auditor.collect import collect_target, preflight
from auditor.model.facts import ReadState
from auditor_sandbox import Sandbox
from tests.collect.conftest import CLIENT_SECRET, NOW, PAT, full_plan, target_for, unread


@pytest.mark.parametrize("auth", ["pat", "oauth-m2m"])
def test_no_secret_in_outputs_or_logs_even_when_auth_fails(
    fresh: Sandbox, auth: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    target = target_for(fresh, auth=auth)
    healthy_run = collect_target(target, full_plan(), now=NOW)
    for family in ("oauth", "scim", "unity-catalog", "permissions", "sql"):
        fresh.set_fault(family, "expired-credentials")
    failing_run = collect_target(target, full_plan(), now=NOW)
    checked = preflight(target)

    assert unread(failing_run.snapshot)  # the failures were real
    assert all(s.state is not ReadState.READ for s in checked.blind_spots())
    captured = capsys.readouterr()
    texts = [
        healthy_run.snapshot.to_json(),
        failing_run.snapshot.to_json(),
        healthy_run.stats.model_dump_json(),
        failing_run.stats.model_dump_json(),
        repr(checked),
        repr(target),
        caplog.text,
        captured.out,
        captured.err,
    ]
    for text in texts:
        assert PAT not in text
        assert CLIENT_SECRET not in text
