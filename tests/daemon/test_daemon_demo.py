"""`grants-auditor demo`: the README's "run it" command catches the drift it causes."""

from __future__ import annotations

import io

import pytest

from auditor.cli.demo_session import run_demo


@pytest.mark.timeout(60)  # the demo must finish well under a minute
def test_demo_shows_a_drift_being_caught() -> None:
    out = io.StringIO()
    assert run_demo(interval=1.0, out=out) == 0
    text = out.getvalue()
    assert "/metrics" in text and "/findings" in text
    assert "REVOKE ALL PRIVILEGES ON CATALOG segment_events" in text
    assert "grant_removed CATALOG:segment_events: 5e9e0003-0000-4000-8000-000000000003 lost ALL_PRIVILEGES" in text
    assert "rule DL-3: pass -> fail" in text
