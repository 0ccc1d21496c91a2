"""The shipped configs (config/example.yaml and every config/examples/*) validate, their packs exist, and
`${VAR}` / `${VAR:-default}` interpolation behaves as in a POSIX shell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor.cycle import load_packs_for
from auditor.errors import InputError
from auditor.evaluate.registry import builtin_kind_args
from auditor.packs.loader import load_packs
from auditor.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "config" / "example.yaml", *sorted((ROOT / "config" / "examples").glob("*.yaml"))]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")

# Plausible values for the variables the shipped configs read, by what the name says the variable holds.
_PLAUSIBLE = (
    ("HOST", "https://dbc-1234567890123456.cloud.databricks.com"),
    ("WAREHOUSE_ID", "8a6f3d2c1b0e9f47"),
    ("CLIENT_ID", "a0d1703e-0000-4000-8000-000000000001"),
    ("", "not-a-real-secret"),
)

BUNDLED_PACKS = {p.name for p in load_packs(kinds=builtin_kind_args())}


def _values(text: str) -> list[str]:
    """The YAML values of a config, comments left out (a comment may show `${VAR}` as an example)."""
    return [line.split(" #", 1)[0] for line in text.splitlines() if not line.lstrip().startswith("#")]


def required_variables(path: Path) -> set[str]:
    """The variables a config needs: those it reads with no default."""
    lines = _values(path.read_text(encoding="utf-8"))
    return {m[1] for line in lines for m in _ENV_REF.finditer(line) if m[2] is None}


def environment_for(path: Path) -> dict[str, str]:
    return {name: next(v for key, v in _PLAUSIBLE if key in name) for name in required_variables(path)}


def test_the_shipped_configs_are_the_expected_ones() -> None:
    names = {p.stem for p in SHIPPED}
    assert names == {"example"} | BUNDLED_PACKS, "one example per bundled pack, and example.yaml"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_a_shipped_config_validates_with_its_packs(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in environment_for(path).items():
        monkeypatch.setenv(name, value)
    assert main(["config", "validate", str(path)]) == ExitCode.OK, capsys.readouterr().err
    settings = load_settings(path)
    packs = load_packs_for(settings)
    bound = {b.pack for t in settings.targets for b in t.integrations}
    assert bound and bound <= {p.name for p in packs}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_a_shipped_config_names_the_variable_it_misses(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --require-env the structure is checked and the unset variables listed; with it, each is an error."""
    env = environment_for(path)
    for name in env:
        monkeypatch.delenv(name, raising=False)
    assert main(["config", "validate", str(path)]) == ExitCode.OK
    listed = capsys.readouterr().out
    assert "environment variables not set" in listed
    assert main(["config", "validate", "--require-env", str(path)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "environment variable" in err
    for name in env:  # every variable without a default
        assert name in listed and name in err


def test_each_example_binds_the_pack_it_is_named_for() -> None:
    for path in SHIPPED[1:]:
        settings = load_settings(path, env=environment_for(path))
        assert path.stem in {b.pack for t in settings.targets for b in t.integrations}, path.name


def test_example_yaml_binds_every_bundled_pack() -> None:
    path = SHIPPED[0]
    settings = load_settings(path, env=environment_for(path))
    assert {b.pack for t in settings.targets for b in t.integrations} == BUNDLED_PACKS


# ---- ${VAR} and ${VAR:-default} ------------------------------------------------------------------------------

CONFIG = """targets:
  - name: prod
    databricks:
      host: {host}
      auth: {{type: pat, token: "${{TOKEN}}"}}
      warehouse_id: 8a6f3d2c1b0e9f47
    integrations:
      - pack: segment-least-privilege
"""


def host_of(tmp_path: Path, host: str, env: dict[str, str]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(host=host), encoding="utf-8")
    return load_settings(path, env={"TOKEN": "dapi-x", **env}).targets[0].databricks.host


DEFAULT_HOST = "${HOST:-https://dbc-default.cloud.databricks.com}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOST": "https://dbc-set.cloud.databricks.com"}, "https://dbc-set.cloud.databricks.com"),
        ({}, "https://dbc-default.cloud.databricks.com"),  # unset: the default
        ({"HOST": ""}, "https://dbc-default.cloud.databricks.com"),  # empty: the default too, as with :- in sh
    ],
    ids=["set", "unset", "empty"],
)
def test_a_default_applies_when_unset_or_empty(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    assert host_of(tmp_path, DEFAULT_HOST, env).rstrip("/") == expected


def test_a_variable_inside_a_longer_value(tmp_path: Path) -> None:
    host = host_of(tmp_path, "https://${WORKSPACE:-dbc-1}.cloud.databricks.com", {"WORKSPACE": "dbc-2"})
    assert host.rstrip("/") == "https://dbc-2.cloud.databricks.com"


def test_a_required_variable_that_is_unset_names_its_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(host="${HOST}"), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_settings(path, env={"TOKEN": "dapi-x"})
    message = str(caught.value)
    assert "environment variable HOST is not set" in message
    assert ":4" in message and "targets[0].databricks.host" in message


def test_a_secret_read_from_the_environment_stays_secret(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(host="https://dbc-1.cloud.databricks.com"), encoding="utf-8")
    settings = load_settings(path, env={"TOKEN": "dapi-canary-0123"})
    assert "dapi-canary-0123" not in repr(settings) and "dapi-canary-0123" not in settings.model_dump_json()
