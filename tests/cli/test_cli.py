"""The `grants-auditor` command: rule validation and listing, offline checks with their exit codes, every
output format parsed by a real parser, and the JSON Schemas validated with `jsonschema`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from xml.etree import ElementTree

import jsonschema
import pytest
import sqlglot
import yaml
from sqlglot import exp

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import FactFamily, ReadState, ReadStatus
from auditor.model.findings import Status
from auditor.outputs.formats import FORMATS
from auditor.packs.loader import bundled_rules, load_packs
from auditor.schemas import config_schema, rule_pack_schema
from tests.golden import Problem, non_pass, summary
from tests.rules.documented import (
    AWS,
    DG,
    DL,
    NOW,
    RETL,
    WAREHOUSE,
    change,
    healthy,
    plus_grants,
    revoke,
    unread,
    with_warehouse,
)

CONSOLE_SCRIPT = Path(sys.executable).with_name("grants-auditor")


BUNDLED = load_packs(kinds=builtin_kind_args())
RULE_COUNT = sum(len(pack.spec.rules) for pack in BUNDLED)
FINDING_COUNT = len(evaluate(healthy(), BUNDLED, now=NOW).findings)  # one per rule and subject it judges

# What mixed_snapshot plants, in its order, and the findings each problem breaks; everything else passes.
MIXED: tuple[Problem, ...] = (
    Problem("the Reverse ETL SP lacks SELECT on main.analytics", (("RETL-3", "SCHEMA:main.analytics", Status.FAIL),)),
    Problem(
        "the Data Graph SP lacks USE SCHEMA on segment_profiles, so it cannot read it either",
        (("DG-3", "CATALOG:segment_profiles", Status.FAIL), ("DG-8", "CATALOG:segment_profiles", Status.FAIL)),
    ),
    Problem("the Delta Lake SP holds ALL PRIVILEGES and SELECT on main", (("X-1", f"principal:{DL}", Status.FAIL),)),
    Problem(
        "the warehouse is Large, not the advised Small",
        (("DL-6", f"warehouse:{WAREHOUSE}", Status.WARN), ("PS-6", f"warehouse:{WAREHOUSE}", Status.WARN)),
    ),
    Problem(
        "tokens could not be read: the token rules and the auditor's own visibility cannot be judged",
        (
            ("RETL-6", f"pat:{RETL}", Status.ERROR),
            ("AWS-9", f"pat:{AWS}", Status.ERROR),
            ("X-3", "auditor", Status.ERROR),
        ),
    ),
)
MIXED_SUMMARY = summary(MIXED, healthy_total=FINDING_COUNT)
FAILS, ERRORS, WARNS, PASSES = (MIXED_SUMMARY[k] for k in ("fail", "error", "warn", "pass"))


def mixed_snapshot(path: Path) -> Path:
    """Fails (missing grants, an excess grant), warnings, errors and many passes: the problems of MIXED."""
    snapshot = revoke(healthy(), RETL, "SELECT", "main.analytics")
    snapshot = revoke(snapshot, DG, "USE SCHEMA", "segment_profiles")
    snapshot = plus_grants(snapshot, f"GRANT ALL PRIVILEGES, SELECT ON CATALOG main TO `{DL}`;")
    snapshot = with_warehouse(snapshot, cluster_size="Large")
    snapshot = unread(snapshot, FactFamily.TOKENS)
    snapshot.dump(path)
    return path


def snapshots(tmp_path: Path) -> dict[str, Path]:
    """One snapshot file per expected exit code."""
    healthy().dump(tmp_path / "healthy.json")
    all_unread = change(
        healthy(), reads=tuple(ReadStatus(family=f, state=ReadState.FAILED, reason="timeout") for f in FactFamily)
    )
    all_unread.dump(tmp_path / "unread.json")
    (tmp_path / "malformed.json").write_text('{"target": "x", "collected_at": ', encoding="utf-8")
    return {
        "healthy": tmp_path / "healthy.json",
        "failing": mixed_snapshot(tmp_path / "failing.json"),
        "unread": tmp_path / "unread.json",
        "malformed": tmp_path / "malformed.json",
    }


# ---- rules ------------------------------------------------------------------------------------------------


def test_rules_validate_the_bundled_packs(capsys: pytest.CaptureFixture[str]) -> None:
    expected = f"OK: {len(BUNDLED.names())} pack file(s), {RULE_COUNT} rules\n"
    assert main(["rules", "validate"]) == ExitCode.OK
    assert capsys.readouterr().out == expected
    assert main(["rules", "validate", str(bundled_rules())]) == ExitCode.OK
    assert capsys.readouterr().out == expected


def test_rules_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list", "--format", "json"]) == ExitCode.OK
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == RULE_COUNT
    dl6 = next(r for r in rows if r["id"] == "DL-6")
    assert dl6 == {
        "pack": "delta-lake-destination",
        "id": "DL-6",
        "requirements": ["DL-6"],
        "severity": "low",
        "advisory": True,
        "kind": "warehouse_config",
        "title": "The warehouse is Small, Serverless (else Pro), with 2 to 6 clusters",
        "source": "delta-lake-destination.md \u00a7 Warehouse size",
    }
    assert main(["rules", "list"]) == ExitCode.OK
    text = capsys.readouterr().out.splitlines()
    assert len(text) == RULE_COUNT and any("DL-6" in line and line.endswith("(advisory)") for line in text)


def test_rules_kinds_lists_every_registered_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "kinds"]) == ExitCode.OK
    out = capsys.readouterr().out
    for kind in ("required_grant", "any_grant", "read_access", "trust_policy", "excess_privilege"):
        assert f"\n{kind} " in f"\n{out}"


# ---- check --snapshot: exit codes ------------------------------------------------------------------------

EXIT_CODES = {
    "healthy": ExitCode.OK,
    "failing": ExitCode.FAILING,
    "unread": ExitCode.CANNOT_EVALUATE,
    "malformed": ExitCode.BAD_INPUT,
}


@pytest.mark.parametrize("name", sorted(EXIT_CODES))
def test_check_exit_codes_in_process(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = snapshots(tmp_path)[name]
    assert main(["check", "--snapshot", str(path)]) == EXIT_CODES[name]
    captured = capsys.readouterr()
    if name == "malformed":
        assert captured.out == "" and captured.err.startswith(f"grants-auditor: error: {path}:1: invalid JSON")
    else:
        assert captured.out.startswith(f"documented: {FINDING_COUNT} findings")


def test_check_exit_codes_of_the_console_script(tmp_path: Path) -> None:
    paths = snapshots(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    for name, expected in EXIT_CODES.items():
        command = [str(CONSOLE_SCRIPT), "check", "--snapshot", str(paths[name]), "--format", "json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
        assert done.returncode == expected, (name, done.stderr)
        if name == "malformed":
            assert str(paths[name]) in done.stderr and "invalid JSON" in done.stderr
        else:
            assert json.loads(done.stdout)["target"] == "documented"


def test_check_a_missing_snapshot_or_rule_dir_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--snapshot", str(tmp_path / "nope.json")]) == ExitCode.BAD_INPUT
    assert f"{tmp_path / 'nope.json'}: cannot read snapshot" in capsys.readouterr().err
    healthy().dump(tmp_path / "ok.json")
    assert main(["check", "--snapshot", str(tmp_path / "ok.json"), "--rules", str(tmp_path / "none")]) == 2
    assert "no such rule file or directory" in capsys.readouterr().err


def test_check_several_snapshots_takes_the_worst(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = snapshots(tmp_path)
    assert main(["check", "--snapshot", str(paths["healthy"]), str(paths["unread"])]) == ExitCode.CANNOT_EVALUATE
    assert main(["check", "--snapshot", str(paths["unread"]), str(paths["failing"])]) == ExitCode.FAILING
    capsys.readouterr()


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(503)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_bad_config_stops_before_anything_is_collected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = tmp_path / "auditor.yaml"
        host = f"http://127.0.0.1:{server.server_address[1]}"
        config.write_text(
            f"""targets:
  - name: prod
    databricks: {{host: "{host}", auth: {{type: pat, token: "${{TOKEN}}"}}}}
    integrations:
      - pack: reverse-etl-source
        params: {{principal: {RETL}, warehouse_id: abc, model_schemas: main.analytics}}
""",
            encoding="utf-8",
        )
        monkeypatch.setenv("TOKEN", "dapi-0123456789")
        assert main(["check", "--config", str(config)]) == ExitCode.BAD_INPUT
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert err.startswith(f"grants-auditor: error: {config}:6: ")
    assert "targets[0].integrations[0].params.model_schemas: " in err
    assert "dapi-0123456789" not in err
    assert _Recorder.seen == [], "no request may reach the workspace before the config is valid"


# ---- every format renders and parses ----------------------------------------------------------------------


def render(tmp_path: Path, fmt: str) -> str:
    out = tmp_path / f"report.{fmt}"
    code = main(
        ["check", "--snapshot", str(mixed_snapshot(tmp_path / "mixed.json")), "--format", fmt, "--output", str(out)]
    )
    assert code == ExitCode.FAILING
    return out.read_text(encoding="utf-8")


def test_formats_are_the_documented_five() -> None:
    assert sorted(FORMATS) == ["json", "junit", "markdown", "sql", "text"]


def test_json_format(tmp_path: Path) -> None:
    data = json.loads(render(tmp_path, "json"))
    assert data["summary"] == MIXED_SUMMARY
    assert len(data["findings"]) == FINDING_COUNT and len({f["id"] for f in data["findings"]}) == FINDING_COUNT
    broken = {(f["rule_id"], f["subject"], Status(f["status"])) for f in data["findings"] if f["status"] != "pass"}
    assert broken == non_pass(MIXED)
    retl3 = next(f for f in data["findings"] if f["rule_id"] == "RETL-3")
    assert retl3["status"] == "fail" and retl3["expected"] == "SELECT, READ_METADATA"
    assert retl3["found"] == "READ_METADATA"


def test_junit_format(tmp_path: Path) -> None:
    suite = ElementTree.fromstring(render(tmp_path, "junit"))
    assert suite.tag == "testsuite"
    counts = (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
    assert counts == tuple(str(n) for n in (FINDING_COUNT, FAILS, ERRORS, WARNS))  # a warning is a skipped case
    cases = suite.findall("testcase")
    assert len(cases) == FINDING_COUNT
    assert len([c for c in cases if c.find("failure") is not None]) == FAILS
    assert len([c for c in cases if c.find("error") is not None]) == ERRORS
    for case in cases:
        json.loads(case.findtext("system-out") or "")


def test_markdown_format(tmp_path: Path) -> None:
    text = render(tmp_path, "markdown")
    assert text.startswith("# grants-auditor report: documented\n")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert len([h for h in headings if h.startswith("## FAIL: ")]) == FAILS
    assert len([h for h in headings if h.startswith("## ERROR: ")]) == ERRORS
    assert len([h for h in headings if h.startswith("## WARN: ")]) == WARNS
    assert headings[-1] == "## Passing"
    assert f"GRANT SELECT ON SCHEMA `main`.`analytics` TO `{RETL}`;" in text
    assert text.count("```") % 2 == 0, "every code fence is closed"


def test_sql_format_parses(tmp_path: Path) -> None:
    script = render(tmp_path, "sql")
    lines = [line for line in script.splitlines() if line.strip()]
    statements = [line for line in lines if not line.startswith("--")]
    assert statements and all(line.startswith("GRANT ") for line in statements)
    parsed = [sqlglot.parse_one(line, read="databricks") for line in statements]
    grants = [p for p in parsed if isinstance(p, exp.Grant)]  # CATALOG grants parse as an opaque Command
    assert any(g.sql(dialect="databricks") == f"GRANT SELECT ON SCHEMA `main`.`analytics` TO `{RETL}`" for g in grants)
    revokes = [line.removeprefix("-- ") for line in lines if line.startswith("-- REVOKE ")]
    assert revokes == [
        f"REVOKE ALL PRIVILEGES ON CATALOG `main` FROM `{DL}`;",
        f"REVOKE SELECT ON CATALOG `main` FROM `{DL}`;",
    ]
    for revoke_sql in revokes:
        sqlglot.parse_one(revoke_sql, read="databricks")


def test_text_format(tmp_path: Path) -> None:
    text = render(tmp_path, "text")
    first, *rest = text.splitlines()
    counts = f"{FAILS} fail, {ERRORS} error, {WARNS} warn, 0 suppressed, {PASSES} pass"
    assert first == f"documented: {FINDING_COUNT} findings ({counts})"
    statuses = [line.split("]")[0] for line in rest if line.startswith("[")]
    assert statuses[:FAILS] == ["[FAIL "] * FAILS and statuses[FAILS : FAILS + ERRORS] == ["[ERROR"] * ERRORS
    assert "not applicable: data-graph/DG-5, delta-lake-destination-aws/AWS-11" in text


# ---- JSON Schemas ------------------------------------------------------------------------------------------


def test_rule_pack_schema_validates_the_bundled_packs() -> None:
    validator = jsonschema.Draft202012Validator(rule_pack_schema())
    for pack in load_packs(kinds=builtin_kind_args()):
        data = yaml.safe_load(pack.path.read_text(encoding="utf-8"))
        assert list(validator.iter_errors(data)) == [], pack.path


def test_rule_pack_schema_rejects_an_unknown_kind_and_key() -> None:
    validator = jsonschema.Draft202012Validator(rule_pack_schema())
    pack = yaml.safe_load((bundled_rules() / "reverse-etl-source.yaml").read_text(encoding="utf-8"))
    pack["rules"][0]["check"]["kind"] = "warehouse_permissions"
    assert not validator.is_valid(pack)
    pack = yaml.safe_load((bundled_rules() / "reverse-etl-source.yaml").read_text(encoding="utf-8"))
    pack["rules"][0]["owner"] = "me"
    assert not validator.is_valid(pack)


EXAMPLE_CONFIG = """
rule_dirs: [./site-rules]
targets:
  - name: prod
    databricks:
      host: https://dbc-1234.cloud.databricks.com
      auth: {type: oauth-m2m, client_id: a0d1703e-0000-4000-8000-000000000001, client_secret: "${SECRET}"}
      warehouse_id: 8a6f3d2c1b0e9f47
    aws: {region: us-east-1}
    watch: {catalogs: [segment_profiles]}
    integrations:
      - pack: data-graph
        params: {client_id: 5e9e0002-0000-4000-8000-000000000002, warehouse_id: 8a6f3d2c1b0e9f47,
                 profiles_sync_catalog: segment_profiles}
      - pack: segment-least-privilege
"""


def test_config_schema_validates_an_example_config() -> None:
    validator = jsonschema.Draft202012Validator(config_schema())
    config = yaml.safe_load(EXAMPLE_CONFIG)
    assert list(validator.iter_errors(config)) == []
    config["targets"][0]["colour"] = "blue"
    assert not validator.is_valid(config)
