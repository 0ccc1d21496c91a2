"""The command line as a new user meets it: examples in every `--help`, global options anywhere, `config validate`
without secrets, `baseline diff --snapshot` without a daemon, and choosing rules and the exit-code threshold."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from auditor.cli import build_parser, main
from auditor.cli.exit_codes import ExitCode, for_reports
from auditor.evaluate.selection import Selection
from auditor.loading import load_snapshot
from auditor.model.facts import Snapshot
from auditor.model.findings import Finding, Report, Severity, Status
from tests.cli.terminal import environment, on_pipes

ROOT = Path(__file__).resolve().parents[2]
DRIFTED = ROOT / "examples" / "snapshots" / "drifted.json"
EXAMPLE_CONFIG = ROOT / "config" / "example.yaml"
DELTA_LAKE_SP = "5e9e0003-0000-4000-8000-000000000003"

# ---- --help -------------------------------------------------------------------------------------------------


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path the parser knows: (), ("check",), ("baseline", "diff"), ..."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


COMMANDS = list(_commands(build_parser()))


def test_the_walk_finds_every_command() -> None:
    assert {("check",), ("baseline", "diff"), ("config", "validate"), ("rules", "list"), ("sandbox",)} <= set(COMMANDS)
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "grants-auditor")
def test_every_help_ends_with_examples(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "Examples:" in out, out
    examples = out[out.rindex("Examples:") :].splitlines()[1:]
    assert examples and all(line.startswith("  ") for line in examples), "the examples are the help's last section"
    command = " ".join(("grants-auditor", *path))
    assert any(line.strip().startswith(command) for line in examples), f"an example of {command}"


# ---- global options, before or after ------------------------------------------------------------------------

GLOBAL = ["--log-level", "DEBUG", "--log-format", "json", "--color", "never"]


@pytest.mark.parametrize(
    "argv",
    [
        [*GLOBAL, "baseline", "diff", "--config", "c.yaml"],
        ["baseline", *GLOBAL, "diff", "--config", "c.yaml"],
        ["baseline", "diff", "--config", "c.yaml", *GLOBAL],
        ["baseline", "diff", *GLOBAL[:2], "--config", "c.yaml", *GLOBAL[2:]],
        ["config", *GLOBAL, "validate", "c.yaml"],
        ["config", "validate", "c.yaml", *GLOBAL],
        ["check", "--snapshot", "s.json", *GLOBAL],
        ["rules", "kinds", *GLOBAL],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_global_options_before_or_after_any_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.log_level, args.log_format, args.color) == ("DEBUG", "json", "never")


def test_global_options_left_out_keep_their_defaults() -> None:
    args = build_parser().parse_args(["baseline", "diff", "--config", "c.yaml"])
    assert (args.log_level, args.log_format, args.color) == ("INFO", "auto", "auto")


def test_log_level_after_the_command_runs_it() -> None:
    """In a real process, not only in the parser: the issue saw exit 2 here."""
    run = on_pipes(["config", "validate", str(EXAMPLE_CONFIG), "--log-level", "DEBUG"], environment())
    assert run.code == ExitCode.OK, run.err


def test_global_options_after_sandbox_are_not_the_sandbox_s(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--log-level", "DEBUG", "--scenario", "no-such-scenario"]) == ExitCode.BAD_INPUT
    assert "no scenario named 'no-such-scenario'" in capsys.readouterr().err


# ---- config validate ----------------------------------------------------------------------------------------

EXAMPLE_VARIABLES = ("GRANTS_AUDITOR_CLIENT_ID", "GRANTS_AUDITOR_CLIENT_SECRET")


def test_config_validate_without_the_environment_lists_what_is_missing() -> None:
    env = {k: v for k, v in environment().items() if not k.startswith("GRANTS_AUDITOR")}
    run = on_pipes(["config", "validate", str(EXAMPLE_CONFIG)], env)
    assert run.code == ExitCode.OK, run.err
    assert run.out.startswith("OK: 1 target(s), 6 integration(s)\n")
    for name in EXAMPLE_VARIABLES:
        assert name in run.out
    line = next(n for n, text in enumerate(EXAMPLE_CONFIG.read_text().splitlines(), 1) if "CLIENT_ID}" in text)
    assert f"line {line}, targets[0].databricks.auth.client_id" in run.out
    assert run.err == ""


def test_config_validate_require_env_fails_on_each_missing_variable() -> None:
    env = {k: v for k, v in environment().items() if not k.startswith("GRANTS_AUDITOR")}
    run = on_pipes(["config", "validate", "--require-env", str(EXAMPLE_CONFIG)], env)
    assert run.code == ExitCode.BAD_INPUT
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == len(EXAMPLE_VARIABLES)
    for line, name in zip(lines, EXAMPLE_VARIABLES, strict=True):
        assert line.startswith(f"grants-auditor: error: {EXAMPLE_CONFIG}:") and f"{name} is not set" in line


def test_config_validate_require_env_passes_when_everything_is_set() -> None:
    env = {**environment(), **{name: "set-for-the-test" for name in EXAMPLE_VARIABLES}}
    run = on_pipes(["config", "validate", "--require-env", str(EXAMPLE_CONFIG)], env)
    assert (run.code, run.out) == (ExitCode.OK, "OK: 1 target(s), 6 integration(s)\n")


def test_config_validate_still_finds_structural_errors_without_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    config["targets"][0]["databricks"]["auth"]["client_secret"] = "${NOT_SET_ANYWHERE}"
    config["targets"][0]["schedule"]["interval_seconds"] = "${NOT_SET_ANYWHERE}"  # fits the placeholder
    config["targets"][0]["collection"] = "${NOT_SET_ANYWHERE}"  # does not: says the variable is needed
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["config", "validate", str(path)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "targets[0].collection: environment variable NOT_SET_ANYWHERE is not set (needed to check it)" in err
    config["targets"][0]["collection"] = "sometimes"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["config", "validate", str(path)]) == ExitCode.BAD_INPUT
    assert "targets[0].collection:" in capsys.readouterr().err


# ---- baseline diff --snapshot -------------------------------------------------------------------------------


def _ci_config(tmp_path: Path) -> Path:
    """A CI user's config: the drifted snapshot's target, a state file of its own, never a daemon."""
    snapshot = json.loads(DRIFTED.read_text(encoding="utf-8"))
    config = {
        "state": {"path": str(tmp_path / "ci-state.sqlite")},
        "targets": [
            {
                "name": "drifted",
                "databricks": {"host": "https://dbc-1.cloud.databricks.com", "auth": {"type": "pat", "token": "x"}},
                "integrations": snapshot["integrations"],
            }
        ],
    }
    path = tmp_path / "ci.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _without_a_grant(tmp_path: Path) -> tuple[Path, Snapshot]:
    """The drifted snapshot a day later, after someone revoked the Delta Lake SP's grant on segment_events."""
    snapshot = load_snapshot(DRIFTED)
    kept = tuple(
        g for g in snapshot.grants if not (g.principal == DELTA_LAKE_SP and g.securable_name == "segment_events")
    )
    assert len(kept) < len(snapshot.grants)
    later = snapshot.model_copy(update={"grants": kept, "collected_at": snapshot.collected_at.replace(day=2)})
    path = tmp_path / "today.json"
    later.dump(path)
    return path, later


def test_baseline_diff_of_a_snapshot_file_needs_no_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _ci_config(tmp_path)
    today, _ = _without_a_grant(tmp_path)
    common = ["--config", str(config)]
    assert main(["baseline", "diff", *common, "--snapshot", str(today)]) == ExitCode.BAD_INPUT
    assert "no approved baseline" in capsys.readouterr().err

    assert main(["baseline", "approve", *common, "--snapshot", str(DRIFTED), "--by", "ci"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["baseline", "diff", *common, "--snapshot", str(DRIFTED)]) == ExitCode.OK
    assert "no changes" in capsys.readouterr().out

    assert main(["baseline", "diff", *common, "--snapshot", str(today), "--format", "json"]) == ExitCode.FAILING
    result = json.loads(capsys.readouterr().out)["targets"][0]
    assert result["target"] == "drifted" and result["latest_collected_at"].startswith("2026-")
    removed = [c for c in result["changes"] if c["kind"] == "grant_removed"]
    assert removed and all(c["principal"] == DELTA_LAKE_SP for c in removed)
    assert removed[0]["subject"].lower() == "catalog:segment_events"

    assert main(["baseline", "diff", *common, "--snapshot", str(today), "--target", "prod"]) == ExitCode.BAD_INPUT
    capsys.readouterr()


# ---- --rules, --skip, --min-severity, --fail-on ---------------------------------------------------------------


def check(*options: str) -> tuple[int, dict[str, object]]:
    run = on_pipes(["check", "--snapshot", str(DRIFTED), "--format", "json", *options], environment())
    return run.code, (json.loads(run.out) if run.out else {"error": run.err})


def _rule_ids(report: dict[str, object]) -> set[str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return {f["rule_id"] for f in findings}


def test_without_options_every_failure_counts() -> None:
    code, report = check()
    assert code == ExitCode.FAILING and len(_rule_ids(report)) > 30


def test_rules_selects_by_id_glob_and_skip_leaves_out() -> None:
    code, report = check("--rules", "DL-*")
    assert code == ExitCode.FAILING and _rule_ids(report) == {r for r in _rule_ids(check()[1]) if r.startswith("DL-")}
    code, report = check("--rules", "DL-*", "--skip", "DL-5")
    assert code == ExitCode.OK and "DL-5" not in _rule_ids(report) and "DL-1" in _rule_ids(report)
    code, report = check("--rules", "dl-5,aws-6")  # comma-separated, any case
    assert code == ExitCode.FAILING and _rule_ids(report) == {"DL-5", "AWS-6"}
    code, report = check("--rules", "DL-5", "--rules", "X-?")
    assert _rule_ids(report) == {"DL-5", "X-1", "X-2", "X-3"}


def test_a_rule_pattern_matching_nothing_is_bad_input() -> None:
    code, report = check("--rules", "DL-99")
    assert code == ExitCode.BAD_INPUT and "no rule matches 'DL-99'" in str(report["error"])
    code, _ = check("--skip", "NOPE-*")
    assert code == ExitCode.BAD_INPUT


def test_min_severity_leaves_out_the_findings_below_it() -> None:
    code, report = check("--min-severity", "critical")
    findings = report["findings"]
    assert isinstance(findings, list) and findings
    assert {f["severity"] for f in findings} == {"critical"}
    assert code == ExitCode.FAILING
    code, report = check("--rules", "X-1", "--min-severity", "critical")  # X-1 is high: nothing left to fail
    assert code == ExitCode.OK and report["findings"] == []


def test_fail_on_sets_the_threshold_of_the_exit_code() -> None:
    """X-1 fails at high severity: it decides the exit code at --fail-on high, not at --fail-on critical."""
    assert check("--rules", "X-1")[0] == ExitCode.FAILING
    assert check("--rules", "X-1", "--fail-on", "high")[0] == ExitCode.FAILING
    code, report = check("--rules", "X-1", "--fail-on", "critical")
    assert code == ExitCode.OK and "X-1" in _rule_ids(report), "the failure is still reported"
    assert check("--fail-on", "critical")[0] == ExitCode.FAILING  # DG-3, DL-5, AWS-6, X-2 are critical


def _finding(status: Status, severity: Severity) -> Finding:
    return Finding(rule_id="R-1", pack="p", integration="p", target="t", status=status, severity=severity, title="t")


def _report(*findings: Finding) -> Report:
    moment = load_snapshot(DRIFTED).collected_at
    return Report(target="t", evaluated_at=moment, snapshot_collected_at=moment, findings=findings)


def test_fail_on_weighs_errors_by_severity_too() -> None:
    low_error = _report(_finding(Status.ERROR, Severity.LOW), _finding(Status.WARN, Severity.CRITICAL))
    assert for_reports([low_error]) == ExitCode.CANNOT_EVALUATE
    assert for_reports([low_error], fail_on=Severity.MEDIUM) == ExitCode.OK
    assert for_reports([low_error], fail_on=Severity.LOW) == ExitCode.CANNOT_EVALUATE
    mixed = _report(_finding(Status.ERROR, Severity.CRITICAL), _finding(Status.FAIL, Severity.LOW))
    assert for_reports([mixed]) == ExitCode.FAILING
    assert for_reports([mixed], fail_on=Severity.HIGH) == ExitCode.CANNOT_EVALUATE


def test_selection_keeps_not_applicable_rules_it_selects() -> None:
    report = _report(_finding(Status.FAIL, Severity.LOW)).model_copy(
        update={"skipped": ("data-graph/DG-5", "delta-lake-destination-aws/AWS-11")}
    )
    assert Selection(rules=("DG-*",)).apply(report).skipped == ("data-graph/DG-5",)
    assert Selection(skip=("DG-*",)).apply(report).skipped == ("delta-lake-destination-aws/AWS-11",)
    assert Selection().apply(report) is report
