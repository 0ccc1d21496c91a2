"""`grants-auditor-sandbox`, `python -m auditor_sandbox` and `grants-auditor sandbox`: ready, addresses printed,
config written, stops; without the sandbox installed, the auditor says how to install it."""

from __future__ import annotations

import argparse
import io
import signal
import subprocess
import sys
import threading
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config

from auditor.cli import main as auditor_main
from auditor.settings import load_settings
from auditor_sandbox.cli import add_arguments, run
from tests.present import present


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_module_entry_point_serves_drifted_until_interrupted(tmp_path: Path) -> None:
    config = tmp_path / "auditor.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor_sandbox", "--scenario", "drifted", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("ready"):
                break
        output = "".join(lines)
        assert "scenario:  drifted" in output and "workspace: http://127.0.0.1:" in output
        assert "dapi-" not in output and "dose-" not in output  # credentials are in the config only
        databricks = load_settings(config, env={}).targets[0].databricks
        assert f"workspace: {databricks.host}" in output
        assert databricks.auth.type == "pat"
        token = databricks.auth.token.get_secret_value()
        w = WorkspaceClient(config=Config(host=databricks.host, token=token, retry_timeout_seconds=10))
        assert w.current_user.me().user_name == "a0d1703e-0000-4000-8000-000000000001"
        permissions = w.warehouses.get_permissions("8a6f3d2c1b0e9f47").access_control_list or []
        levels = {
            e.service_principal_name: present(present(e.all_permissions)[0].permission_level).value for e in permissions
        }
        assert levels["5e9e0003-0000-4000-8000-000000000003"] == "CAN_VIEW"  # drifted, problem 2
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_run_in_process_with_oauth_config(tmp_path: Path) -> None:
    stop = threading.Event()
    out = io.StringIO()
    config = tmp_path / "c.yaml"
    args = _args("--scenario", "legacy", "--write-config", str(config), "--auth", "oauth-m2m")
    result: list[int] = []

    def serve() -> None:
        with redirect_stdout(out):
            result.append(run(args, stop=stop))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        for _ in range(600):
            if "ready" in out.getvalue():
                break
            stop.wait(0.05)
        target = load_settings(config, env={}).targets[0]
        assert target.databricks.auth.type == "oauth-m2m"
        assert target.integrations[0].params["catalog"] == "hive_metastore"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [0]


def test_bad_scenario_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args("--scenario", "no-such-scenario")) == 2
    assert "no scenario named 'no-such-scenario'" in capsys.readouterr().err


def test_the_auditors_sandbox_command_hands_its_arguments_to_the_sandboxs_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert auditor_main(["sandbox", "--scenario", "no-such-scenario"]) == 2
    assert capsys.readouterr().err.startswith("grants-auditor sandbox: no scenario named 'no-such-scenario'")


def test_the_auditors_sandbox_help_is_the_sandboxs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        auditor_main(["sandbox", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: grants-auditor sandbox") and "--write-config" in out


def test_the_console_script_serves_until_interrupted() -> None:
    script = Path(sys.executable).with_name("grants-auditor-sandbox")
    process = subprocess.Popen([str(script), "--scenario", "healthy"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert any(line.startswith("ready") for line in process.stdout)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


@pytest.mark.parametrize("command", [["sandbox", "--scenario", "drifted"], ["demo"]])
def test_without_the_sandbox_the_auditor_says_in_one_line_how_to_install_it(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "auditor_sandbox", None)  # as in an environment without the distribution
    assert auditor_main(command) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "pip install ./sandbox" in captured.err
