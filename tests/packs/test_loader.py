"""Bad rule packs and bad configs: one clear `InputError` naming file, line and field, and nothing starts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor.cycle import load_packs_for, validate_bindings
from auditor.errors import InputError
from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import Binding
from auditor.model.findings import Status
from auditor.packs.loader import load_pack_file, load_packs
from auditor.settings import load_settings
from tests.rules.documented import NOW, RETL, healthy

PACK = """\
pack: demo
title: Demo pack
document: reverse-etl-source.md
parameters:
  principal:
    type: principal
    required: true
    description: who Segment connects as
  schemas:
    type: list
    default: []
    description: schemas the model reads
rules:
  - id: DEMO-1
    requirements: [DEMO-1]
    title: Demo rule one
    severity: high
    source: {document: reverse-etl-source.md, section: Required permissions}
    check:
      kind: required_grant
      args:
        principal: "${principal}"
        securable_type: SCHEMA
        securables: "${schemas}"
        privileges: [USE SCHEMA, SELECT]
    remediation: Grant it.
"""
SECOND_RULE = PACK[PACK.index("  - id: DEMO-1") :]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def load_error(tmp_path: Path, text: str) -> tuple[InputError, Path]:
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_packs([tmp_path], include_default=False, kinds=builtin_kind_args())
    return raised.value, path


def test_the_template_pack_is_valid(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(PACK, encoding="utf-8")
    packs = load_packs([tmp_path], include_default=False, kinds=builtin_kind_args())
    assert packs.names() == ["demo"]


def swap(old: str, new: str) -> Callable[[str], str]:
    return lambda text: edit(text, old, new)


def after(anchor: str, line: str) -> Callable[[str], str]:
    """Insert ``line`` after the line ``anchor`` (both without their newline)."""
    return swap(anchor + "\n", f"{anchor}\n{line}\n")


# (case, edit of the template, the line the error must name (needle#occurrence), field, message fragment)
PACK_ERRORS = [
    ("unknown top-level key", lambda t: t + "colour: blue\n", "colour: blue", "colour", "unknown key"),
    ("unknown rule key", after("    severity: high", "    owner: me"), "owner: me", "rules[0].owner", "unknown key"),
    (
        "unknown check key",
        after("      kind: required_grant", "      retry: 1"),
        "retry: 1",
        "rules[0].check.retry",
        "unknown key",
    ),
    (
        "unknown check argument",
        after("        securable_type: SCHEMA", "        principle: x"),
        "principle: x",
        "rules[0].check.args.principle",
        "unknown key",
    ),
    (
        "unknown check kind",
        swap("kind: required_grant", "kind: required_grants"),
        "kind: required_grants",
        "rules[0].check.kind",
        "unknown check kind 'required_grants' (did you mean 'required_grant'?)",
    ),
    (
        "unknown privilege",
        swap("[USE SCHEMA, SELECT]", "[SELECT, USE SCHEMAS]"),
        "USE SCHEMAS",
        "rules[0].check.args.privileges",
        "unknown privilege 'USE SCHEMAS' (did you mean 'USE SCHEMA'?)",
    ),
    (
        "undeclared parameter",
        swap('"${principal}"', '"${principle}"'),
        "${principle}",
        "rules[0].check.args.principal",
        "${principle} is not a parameter of pack 'demo' (did you mean 'principal'?)",
    ),
    (
        "missing required field",
        swap("    title: Demo rule one\n", ""),
        "- id: DEMO-1",
        "rules[0].title",
        "required field is missing",
    ),
    (
        "wrong type",
        swap("severity: high", "severity: urgent"),
        "severity: urgent",
        "rules[0].severity",
        "Input should be 'critical', 'high', 'medium', 'low' or 'info'",
    ),
    (
        "wrong type of argument",
        swap("securable_type: SCHEMA", "securable_type: SCHEME"),
        "securable_type: SCHEME",
        "rules[0].check.args.securable_type",
        "Input should be 'CATALOG', 'SCHEMA'",
    ),
    (
        "wrong type of pack version",
        after("title: Demo pack", "version: two"),
        "version: two",
        "version",
        "valid integer",
    ),
    (
        "wrong type of default",
        swap("    default: []\n", "    default: nope\n"),
        "default: nope",
        "parameters.schemas.default",
        "default 'nope' is not a list",
    ),
    (
        "duplicate rule id",
        lambda t: t + SECOND_RULE,
        "- id: DEMO-1#2",
        "rules[1].id",
        "rule id 'DEMO-1' is used twice (first at rules[0])",
    ),
    (
        "unknown condition parameter",
        after("    severity: high", "    when: {param: auht, equals: pat}"),
        "when: {param: auht",
        "rules[0].when.param",
        "unknown parameter 'auht'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "needle", "field", "says"), [c[1:] for c in PACK_ERRORS], ids=[c[0] for c in PACK_ERRORS]
)
def test_bad_pack_names_file_line_and_field(tmp_path: Path, mutate: object, needle: str, field: str, says: str) -> None:
    text = mutate(PACK)  # type: ignore[operator]
    needle, _, nth = needle.partition("#")
    error, path = load_error(tmp_path, text)
    assert (error.path, error.line, error.field) == (str(path), line_of(text, needle, int(nth or 1)), field)
    assert says in error.detail
    assert str(error).startswith(f"{path}:{error.line}: {field}: ")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = edit(PACK, "    title: Demo rule one\n", "    title: Demo: rule one\n")
    error, path = load_error(tmp_path, text)
    assert (error.path, error.line) == (str(path), line_of(text, "Demo: rule one"))
    assert error.detail.startswith("invalid YAML: mapping values are not allowed")


def test_a_pack_that_is_not_a_mapping(tmp_path: Path) -> None:
    error, path = load_error(tmp_path, "- just\n- a list\n")
    assert (error.path, error.line) == (str(path), 1)


def test_duplicate_pack_name_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(PACK, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# the same pack again\n" + PACK, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_packs([tmp_path], include_default=False, kinds=builtin_kind_args())
    error = raised.value
    assert (error.path, error.line, error.field) == (str(tmp_path / "b.yaml"), 2, "pack")
    assert f"pack 'demo' is already defined in {tmp_path / 'a.yaml'}" in error.detail


def test_a_user_pack_shadowing_a_bundled_pack_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(edit(PACK, "pack: demo", "pack: data-graph"), encoding="utf-8")
    with pytest.raises(InputError, match="pack 'data-graph' is already defined in"):
        load_packs([tmp_path], kinds=builtin_kind_args())


def test_rules_validate_stops_on_the_first_bad_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "demo.yaml").write_text(edit(PACK, "kind: required_grant", "kind: required_grants"), encoding="utf-8")
    assert main(["rules", "validate", str(tmp_path)]) == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == ""
    (message,) = captured.err.splitlines()
    assert message.startswith(f"grants-auditor: error: {tmp_path / 'demo.yaml'}:20: rules[0].check.kind: ")


def test_user_pack_in_an_extra_directory_needs_no_code(tmp_path: Path) -> None:
    user_dir = tmp_path / "user-packs"
    user_dir.mkdir()
    (user_dir / "demo.yml").write_text(PACK, encoding="utf-8")
    packs = load_packs([user_dir], kinds=builtin_kind_args())
    assert "demo" in packs.names() and "reverse-etl-source" in packs.names()
    binding = Binding(pack="demo", params={"principal": RETL, "schemas": ["main.analytics"]})
    report = evaluate(healthy(), packs, now=NOW, bindings=[binding])
    assert [(f.rule_id, f.subject, f.status) for f in report.findings] == [
        ("DEMO-1", "SCHEMA:main.analytics", Status.PASS)
    ]


def test_every_bundled_pack_file_loads_on_its_own() -> None:
    for pack in load_packs(kinds=builtin_kind_args()):
        assert load_pack_file(pack.path, builtin_kind_args()).spec == pack.spec


# ---- configs ---------------------------------------------------------------------------------------------

CONFIG = """\
targets:
  - name: prod
    databricks:
      host: https://example.cloud.databricks.com
      auth: {type: pat, token: "${DATABRICKS_TOKEN}"}
    integrations:
      - pack: reverse-etl-source
        params:
          principal: 5e9e0001-0000-4000-8000-000000000001
          warehouse_id: abc123
          model_schemas: [main.analytics]
"""
TOKEN = "dapi-not-a-real-token-0123456789"
ENV = {"DATABRICKS_TOKEN": TOKEN}


def config_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[InputError, Path]:
    path = tmp_path / "auditor.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as raised:
        settings = load_settings(path, env=ENV if env is None else env)
        validate_bindings(settings, load_packs(kinds=builtin_kind_args()))
    assert TOKEN not in str(raised.value), "a secret never appears in an error"
    return raised.value, path


def test_the_template_config_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "auditor.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(path, env=ENV)
    assert "reverse-etl-source" in load_packs_for(settings).names()


BINDING = "targets[0].integrations[0]"
CONFIG_ERRORS = [
    ("unknown key", after("  - name: prod", "    colour: blue"), "colour: blue", "targets[0].colour", "unknown key"),
    (
        "unknown pack",
        swap("pack: reverse-etl-source", "pack: reverse-etl-sourc"),
        "pack: reverse-etl-sourc",
        f"{BINDING}.pack",
        "unknown pack 'reverse-etl-sourc' (did you mean 'reverse-etl-source'?)",
    ),
    (
        "unknown parameter",
        after("          warehouse_id: abc123", "          principle: x"),
        "principle: x",
        f"{BINDING}.params.principle",
        "unknown parameter 'principle' for pack 'reverse-etl-source' (did you mean 'principal'?)",
    ),
    (
        "missing parameter",
        swap("          warehouse_id: abc123\n", ""),
        "params:",
        f"{BINDING}.params.warehouse_id",
        "required parameter 'warehouse_id' is missing",
    ),
    (
        "mistyped parameter",
        swap("model_schemas: [main.analytics]", "model_schemas: main.analytics"),
        "model_schemas:",
        f"{BINDING}.params.model_schemas",
        "parameter 'model_schemas' must be a list, got 'main.analytics'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "needle", "field", "says"), [c[1:] for c in CONFIG_ERRORS], ids=[c[0] for c in CONFIG_ERRORS]
)
def test_bad_config_names_file_line_and_field(
    tmp_path: Path, mutate: object, needle: str, field: str, says: str
) -> None:
    text = mutate(CONFIG)  # type: ignore[operator]
    error, path = config_error(tmp_path, text)
    assert (error.path, error.line, error.field) == (str(path), line_of(text, needle), field)
    assert says in error.detail


def test_parameter_the_check_kind_rejects(tmp_path: Path) -> None:
    text = edit(
        CONFIG,
        """      - pack: reverse-etl-source
        params:
          principal: 5e9e0001-0000-4000-8000-000000000001
          warehouse_id: abc123
          model_schemas: [main.analytics]
""",
        """      - pack: data-graph
        params:
          client_id: 5e9e0002-0000-4000-8000-000000000002
          warehouse_id: abc123
          profiles_sync_catalog: segment_profiles
          read_scopes: {crm: {scope: schema}}
""",
    )
    error, path = config_error(tmp_path, text)
    assert (error.path, error.line, error.field) == (str(path), line_of(text, "params:"), f"{BINDING}.params")
    assert "rule DG-3 check argument scopes.crm" in error.detail
    assert "scope 'schema' needs the list of schemas" in error.detail


def test_missing_environment_variable(tmp_path: Path) -> None:
    error, path = config_error(tmp_path, CONFIG, env={})
    assert (error.path, error.line, error.field) == (str(path), 5, "targets[0].databricks.auth.token")
    assert error.detail == "environment variable DATABRICKS_TOKEN is not set"


def test_config_error_beside_a_secret_does_not_print_it(tmp_path: Path) -> None:
    text = edit(CONFIG, 'token: "${DATABRICKS_TOKEN}"}', f'token: "{TOKEN}", extra: 1}}')
    error, _ = config_error(tmp_path, text)
    assert error.line == 5 and "unknown key" in error.detail


def test_duplicate_target_names_are_rejected(tmp_path: Path) -> None:
    error, path = config_error(tmp_path, CONFIG + CONFIG[CONFIG.index("  - name: prod") :])
    assert error.path == str(path)
    assert "target names must be unique: prod" in error.detail


def test_duplicate_target_names_point_at_the_second_target(tmp_path: Path) -> None:
    text = CONFIG + CONFIG[CONFIG.index("  - name: prod") :]
    error, _ = config_error(tmp_path, text)
    assert (error.line, error.field) == (line_of(text, "- name: prod", 2), "targets[1].name")


def test_unknown_pack_points_at_the_pack_key_whatever_the_key_order(tmp_path: Path) -> None:
    text = edit(CONFIG, "      - pack: reverse-etl-source\n", "      - name: retl\n        pack: reverse-etl-sourc\n")
    error, _ = config_error(tmp_path, text)
    assert error.line == line_of(text, "pack: reverse-etl-sourc")


def test_config_validate_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(CONFIG, encoding="utf-8")
    bad.write_text(edit(CONFIG, "model_schemas: [main.analytics]", "model_schemas: 3"), encoding="utf-8")
    assert main(["config", "validate", str(good)]) == 0
    assert capsys.readouterr().out == "OK: 1 target(s), 1 integration(s)\n"
    assert main(["config", "validate", str(bad)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"grants-auditor: error: {bad}:11: {BINDING}.params.model_schemas: ")
    assert TOKEN not in err
