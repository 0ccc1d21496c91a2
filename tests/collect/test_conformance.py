"""`grants-auditor conformance` against the sandbox through the real clients, and against a real workspace (online).

Every sandbox scenario answers as the collectors assume (no row `no`, none `unread`, exit 0); a sandbox made to
behave differently (a privilege view missing, a privilege spelling the auditor does not know) gives `no` and
exit 1; `--out` writes fixtures with no secret and no real name in them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.cli.app import main
from auditor.cli.conformance import render_table
from auditor.cli.exit_codes import ExitCode
from auditor.collect.conformance import Check, ConformanceResult, Verdict, probe_conformance
from auditor.collect.conformance_shapes import PLATFORM_NAMES, REMOVED, Redactor, write_shapes
from auditor.cycle import load_packs_for, plan_target
from auditor.settings import Settings, load_settings
from auditor_sandbox import Sandbox
from tests.collect.conftest import CLIENT_SECRET, NOW, PAT

SCENARIOS = sorted(
    p.name.removesuffix(".yaml")
    for p in resources.files("auditor_sandbox").joinpath("scenarios").iterdir()
    if p.name.endswith(".yaml")
)
SMALL_LARGE = {"catalogs": 2, "schemas_per_catalog": 2, "tables_per_schema": 3, "principals": 5, "groups": 3}


def _scenario(name: str) -> str | dict[str, Any]:
    """The scenario by name; `large` with its generator scaled down (same shapes, seconds instead of minutes)."""
    return {"base": "large", "name": "large", "generate": SMALL_LARGE} if name == "large" else name


def _probe(sandbox: Sandbox, tmp_path: Path) -> tuple[ConformanceResult, Settings]:
    settings = load_settings(sandbox.write_config(tmp_path / "config.yaml"))
    target = settings.targets[0]
    return probe_conformance(target, plan_target(target, load_packs_for(settings))), settings


def _failing(result: ConformanceResult) -> list[Check]:
    return [c for c in result.checks if c.verdict in (Verdict.INCONSISTENT, Verdict.UNREAD)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_sandbox_scenario_answers_as_the_collectors_assume(scenario: str, tmp_path: Path) -> None:
    with Sandbox.start(_scenario(scenario), now=NOW) as sandbox:
        result, settings = _probe(sandbox, tmp_path)
        names = _real_names(sandbox)
    assert not _failing(result), render_table(_failing(result))
    assert sum(c.verdict is Verdict.CONSISTENT for c in result.checks) >= 8
    files = write_shapes(result, tmp_path / "out", settings.targets[0])
    assert not {n for n in names if _mentions(_observed_text(files), n)}


@pytest.fixture
def healthy_config(tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        yield sandbox, sandbox.write_config(tmp_path / "config.yaml")


def test_the_command_prints_the_table_and_exits_0_on_healthy(
    healthy_config: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, config = healthy_config
    assert main(["conformance", "--config", str(config)]) == ExitCode.OK
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("assumption"))
    assert max(len(line) for line in out.splitlines()) < 160  # long cells wrap
    assert re.fullmatch(r"assumption +\| observed +\| consistent", header)
    assert "information_schema.table_privileges: privilege_type in" in out
    assert not [line for line in out.splitlines() if line.rstrip().endswith(("| no", "| unread"))]


def test_a_view_is_probed_when_the_workspace_has_one(tmp_path: Path) -> None:
    scenario = yaml.safe_load(resources.files("auditor_sandbox").joinpath("scenarios/healthy.yaml").read_text())
    main_catalog = next(c for c in scenario["catalogs"] if c["name"] == "main")
    analytics = next(s for s in main_catalog["schemas"] if s["name"] == "analytics")
    analytics["tables"].append(
        {
            "name": "recent_orders",
            "table_type": "VIEW",
            "view_definition": "SELECT * FROM main.analytics.orders",
            "columns": {"order_id": "BIGINT"},
            "grants": {"data-engineers": ["SELECT"]},
        }
    )
    with Sandbox.start(scenario, now=NOW) as sandbox:
        result, _ = _probe(sandbox, tmp_path)
    view_rows = {c.assumption: c for c in result.checks if "VIEW" in c.assumption}
    assert view_rows["a view's REST table_type is VIEW"].verdict is Verdict.CONSISTENT
    spellings = view_rows["SHOW GRANTS ON VIEW (Unity Catalog): actionType and objectType spellings"]
    assert spellings.verdict is Verdict.CONSISTENT, spellings
    assert not _failing(result), render_table(_failing(result))


# ---- a sandbox that answers differently -------------------------------------------------------------------------


def test_a_missing_privilege_view_is_inconsistent_and_exits_1(
    healthy_config: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, config = healthy_config
    sandbox.state.catalog.dropped_privilege_views = frozenset({"table_privileges"})
    assert main(["conformance", "--config", str(config)]) == ExitCode.FAILING
    row = next(line for line in capsys.readouterr().out.splitlines() if "table_privileges exists" in line)
    assert row.rstrip().endswith("| no") and "missing (TABLE_OR_VIEW_NOT_FOUND)" in row


def test_one_credential_view_missing_is_consistent_but_both_missing_is_not(tmp_path: Path) -> None:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        sandbox.state.catalog.dropped_privilege_views = frozenset({"storage_credential_privileges"})
        one, _ = _probe(sandbox, tmp_path)
        sandbox.state.catalog.dropped_privilege_views = frozenset(
            {"storage_credential_privileges", "credential_privileges"}
        )
        both, _ = _probe(sandbox, tmp_path)
    assert not _failing(one), render_table(_failing(one))
    assert {c.assumption for c in both.checks if c.verdict is Verdict.INCONSISTENT} == {
        "information_schema.credential_privileges exists (or storage_credential_privileges)",
        "information_schema.storage_credential_privileges exists (or credential_privileges)",
    }


def test_a_privilege_spelling_the_auditor_does_not_know_is_inconsistent(tmp_path: Path) -> None:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        # what a platform that adds a privilege would answer: the collectors would not understand it
        sandbox.state.catalog.grant("CATALOG", "main", "data-engineers", ["REFLECT_ON_DATA"])
        result, _ = _probe(sandbox, tmp_path)
    inconsistent = {c.assumption: c.observed for c in result.checks if c.verdict is Verdict.INCONSISTENT}
    assert (
        "REFLECT_ON_DATA"
        in inconsistent[
            "information_schema.catalog_privileges: privilege_type in underscore spelling, known to the auditor"
        ]
    )


def test_an_unreadable_family_is_unread_and_exits_3(
    healthy_config: tuple[Sandbox, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, config = healthy_config
    sandbox.set_fault("sql", "server-error", status=500)
    assert main(["conformance", "--config", str(config)]) == ExitCode.CANNOT_EVALUATE
    assert "| unread" in capsys.readouterr().out


def test_a_stopped_warehouse_is_never_started(tmp_path: Path) -> None:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        assert sandbox.warehouse_id is not None
        sandbox.state.compute.set_warehouse_state(sandbox.warehouse_id, "STOPPED", auto_start=True)
        result, _ = _probe(sandbox, tmp_path)
        warehouse = sandbox.state.compute.warehouse(sandbox.warehouse_id)
        assert warehouse is not None and warehouse.state == "STOPPED"
        assert sandbox.request_counts()["sql"] == 0
    [sql] = [c for c in result.checks if c.assumption.startswith("SQL checks")]
    assert sql.verdict is Verdict.UNREAD and "STOPPED" in sql.observed


def test_without_a_warehouse_the_sql_assumptions_do_not_apply(tmp_path: Path) -> None:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        config = sandbox.config_dict()
        for key in ("warehouse_id", "http_path"):
            config["targets"][0]["databricks"].pop(key)
        target = Settings.model_validate(config).targets[0]
        result = probe_conformance(target)
    assert not _failing(result), render_table(_failing(result))
    assert [c.verdict for c in result.checks if c.assumption.startswith("SQL checks")] == [Verdict.NOT_APPLICABLE]


# ---- --out -----------------------------------------------------------------------------------------------------


OWN_WORDS = ("_provenance", "request")


def _observed_text(files: list[Path]) -> str:
    """What the platform answered, without the probe's own words (the command's name, request templates)."""
    return "\n".join(
        json.dumps({k: v for k, v in json.loads(f.read_text(encoding="utf-8")).items() if k not in OWN_WORDS})
        for f in files
    )


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def _real_names(sandbox: Sandbox) -> set[str]:
    """Every customer name of the scenario: catalogs, schemas, tables, principals, warehouses."""
    spec = sandbox.spec.model_dump(mode="python")
    names: set[str] = set()
    for catalog in spec["catalogs"]:
        names.add(catalog["name"])
        for schema in catalog.get("schemas") or ():
            names.add(schema["name"])
            names.update(t["name"] for t in schema.get("tables") or ())
    names.update(u["user_name"] for u in spec["users"])
    names.update(sp["application_id"] for sp in spec["service_principals"])
    names.update(sp["display_name"] for sp in spec["service_principals"] if sp["display_name"])
    names.update(g["name"] for g in spec["groups"])
    names.update(w["id"] for w in spec["warehouses"])
    if spec["metastore"]:
        names.add(spec["metastore"]["metastore_id"])
    return {n for n in names if n.lower() not in PLATFORM_NAMES}


def test_out_writes_fixtures_without_secrets_or_real_names(
    healthy_config: tuple[Sandbox, Path], tmp_path: Path
) -> None:
    sandbox, config = healthy_config
    # plant the auditor's own token where a name would be: a group holding a grant, so it shows in every listing
    sandbox.state.directory.add_group(PAT, account=True)
    sandbox.state.catalog.grant("CATALOG", "main", PAT, ["SELECT"])
    out = tmp_path / "out"

    assert main(["conformance", "--config", str(config), "--out", str(out)]) == ExitCode.OK

    files = sorted(out.glob("*.json"))
    assert {f.name for f in files} >= {
        "conformance_checks.json",
        "conformance_show_grants_rows.json",
        "conformance_info_schema_privilege_rows.json",
        "conformance_scim_me.json",
        "conformance_sp_secrets_list.json",
        "conformance_metastore_summary.json",
    }
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    for secret in (PAT, CLIENT_SECRET, *(t.value.get_secret_value() for t in sandbox.spec.tokens)):
        assert secret not in text
    observed = _observed_text(files)
    assert not {n for n in _real_names(sandbox) if _mentions(observed, n)}
    for path in files:
        body = json.loads(path.read_text(encoding="utf-8"))
        assert body["_provenance"]["repository"] and body["_provenance"]["path"]
        assert body["_provenance"]["commit_or_note"].startswith("conformance probe, ")


def test_a_non_admin_gets_unread_rows_whose_reasons_do_not_name_it_in_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analyst, token = "analyst@example.com", "dapi-sandbox-analyst-0002"
    with Sandbox.start("healthy", now=NOW) as sandbox:
        sandbox.state.credentials.add_token(analyst, token)
        config = sandbox.config_dict()
        config["targets"][0]["databricks"]["auth"]["token"] = token
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        code = main(["conformance", "--config", str(path), "--out", str(tmp_path / "out")])
    table = capsys.readouterr().out
    assert code == ExitCode.CANNOT_EVALUATE
    assert f"not visible to {analyst}" in table  # the terminal says who could not see
    written = "\n".join(f.read_text(encoding="utf-8") for f in (tmp_path / "out").glob("*.json"))
    assert analyst not in written and token not in written and sandbox.host not in written
    assert "not visible to user_" in written


def test_out_keeps_the_spellings_the_fixtures_are_for(healthy_config: tuple[Sandbox, Path], tmp_path: Path) -> None:
    _, config = healthy_config
    out = tmp_path / "out"
    main(["conformance", "--config", str(config), "--out", str(out)])
    show = json.loads((out / "conformance_show_grants_rows.json").read_text(encoding="utf-8"))
    catalog = next(s for s in show["statements"] if s["securable_type"] == "CATALOG")
    assert catalog["columns"] == ["principal", "actionType", "objectType", "objectKey"]
    assert {row["objectType"] for row in catalog["rows"]} == {"CATALOG"}
    views = json.loads((out / "conformance_info_schema_privilege_rows.json").read_text(encoding="utf-8"))["views"]
    inherited = {pair[1] for pair in views["table_privileges"]["distinct_privilege_type_inherited_from"]}
    assert inherited == {"CATALOG", "SCHEMA"}
    secrets = json.loads((out / "conformance_sp_secrets_list.json").read_text(encoding="utf-8"))
    assert {s["status"] for s in secrets["response"]["secrets"]} == {"ACTIVE"}
    assert all(s.get("secret_hash") in (None, "<removed>") for s in secrets["response"]["secrets"])


def test_the_redactor_keeps_shapes_and_spellings_and_replaces_names() -> None:
    redactor = Redactor()
    row = {
        "Principal": "jane@corp.example",
        "ActionType": "DENIED_SELECT",
        "ObjectType": "TABLE",
        "ObjectKey": "`sales`.`orders`",
        "grantee": "5e9e0001-0000-4000-8000-000000000001",
        "grantor": "admins",
        "created_by_id": 1234567890,
        "secret_hash": "abc",
        "inherited_from": None,
        "catalog_name": "hive_metastore",
    }
    assert redactor.walk(row) == {
        "Principal": "user_1@example.com",
        "ActionType": "DENIED_SELECT",
        "ObjectType": "TABLE",
        "ObjectKey": "`name_1`.`name_2`",
        "grantee": "00000000-0000-4000-8000-000000000001",
        "grantor": "admins",
        "created_by_id": 1000000001,
        "secret_hash": REMOVED,
        "inherited_from": None,
        "catalog_name": "hive_metastore",
    }
    assert redactor.walk({"objectKey": "sales.orders"}) == {"objectKey": "name_1.name_2"}  # one name, one placeholder
    assert (
        redactor.text("not visible to jane@corp.example (HTTP 403)") == "not visible to user_1@example.com (HTTP 403)"
    )


# ---- a real workspace ------------------------------------------------------------------------------------------

ONLINE_CONFIG = "GRANTS_AUDITOR_ONLINE_CONFIG"


@pytest.mark.online
def test_conformance_on_the_configured_real_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With ``--run-online`` and ``GRANTS_AUDITOR_ONLINE_CONFIG`` naming an auditor config of a real workspace."""
    config = os.environ.get(ONLINE_CONFIG)
    if not config:
        pytest.skip(f"{ONLINE_CONFIG} names no config of a real workspace")
    code = main(["conformance", "--config", config, "--out", str(tmp_path / "out")])
    table = capsys.readouterr().out
    assert code == ExitCode.OK, table
