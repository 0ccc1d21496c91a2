"""`grants-auditor preflight`: the auditor's identity and blind spots, against the sandbox (X-3)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_preflight_reports_identity_and_blind_spots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        admin = tmp_path / "admin.yaml"
        sandbox.write_config(admin)
        assert main(["preflight", "--config", str(admin)]) == ExitCode.OK
        out = capsys.readouterr().out
        assert f"the auditor is {sandbox.auditor_client_id}" in out and "not_visible" not in out

        sandbox.state.credentials.add_token("analyst@example.com", "dapi-sandbox-analyst-0002")
        config = sandbox.config_dict()
        config["targets"][0]["databricks"]["auth"] = {"type": "pat", "token": "dapi-sandbox-analyst-0002"}
        analyst = tmp_path / "analyst.yaml"
        analyst.write_text(yaml.safe_dump(config), encoding="utf-8")
        assert main(["preflight", "--config", str(analyst)]) == ExitCode.CANNOT_EVALUATE
        out = capsys.readouterr().out
    assert "the auditor is analyst@example.com" in out
    assert "not_visible  tokens: not visible to analyst@example.com" in out
    assert "dapi-sandbox-analyst-0002" not in out
