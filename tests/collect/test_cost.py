"""What a cycle costs: watched catalogs in bulk on the SQL path, capped one-call-per-table on REST."""

from __future__ import annotations

from typing import Any

from auditor.collect import CollectionResult, collect_target
from auditor.collect.rest_grants import REST_WATCH_TABLE_CAP
from auditor.model.facts import FactFamily, ReadState
from auditor.model.plan import CollectionPlan
from auditor_sandbox import Sandbox
from tests.collect.conftest import NOW, grant_set, target_for, unread

WATCH = CollectionPlan(families=frozenset({FactFamily.GRANTS}), watched_catalogs=frozenset({"gen_catalog_0"}))


def generated(schemas: int, tables: int) -> dict[str, Any]:
    """`healthy` plus one generated catalog ``gen_catalog_0`` of ``schemas`` x ``tables`` tables."""
    shape = {"catalogs": 1, "schemas_per_catalog": schemas, "tables_per_schema": tables, "principals": 10}
    return {
        "base": "healthy",
        "name": f"gen-{schemas}x{tables}",
        "generate": {**shape, "groups": 2, "group_depth": 1},
    }


def watch(scenario: dict[str, Any], **overrides: Any) -> tuple[CollectionResult, dict[str, int]]:
    with Sandbox.start(generated(**scenario), now=NOW) as sandbox:
        sandbox.reset_request_counts()
        result = collect_target(target_for(sandbox, **overrides), WATCH, now=NOW)
        return result, sandbox.request_counts()


def test_sql_path_cost_does_not_grow_with_the_number_of_tables() -> None:
    small, small_served = watch({"schemas": 10, "tables": 10})
    large, large_served = watch({"schemas": 100, "tables": 100})

    for result in (small, large):
        assert unread(result.snapshot) == {}
        assert result.stats.strategy == "sql"
    assert len(large.snapshot.grants) > 50 * len(small.snapshot.grants)  # every table's grants were read
    assert large.stats.statements == small.stats.statements == 3
    assert large.stats.requests == small.stats.requests
    assert large_served == small_served


def test_rest_path_reads_the_same_grants_for_a_small_catalog() -> None:
    with Sandbox.start(generated(schemas=2, tables=10), now=NOW) as sandbox:
        over_sql = collect_target(target_for(sandbox), WATCH, now=NOW)
        over_rest = collect_target(target_for(sandbox, collection="api"), WATCH, now=NOW)

    assert unread(over_rest.snapshot) == {}
    assert over_rest.stats.strategy == "api"
    assert grant_set(over_rest.snapshot) == grant_set(over_sql.snapshot)
    assert {g.securable_type.value for g in over_rest.snapshot.grants} == {"CATALOG", "SCHEMA", "TABLE"}


def test_rest_path_refuses_to_watch_a_catalog_past_its_table_cap() -> None:
    tables_per_schema = REST_WATCH_TABLE_CAP // 4 + 1
    result, served = watch({"schemas": 4, "tables": tables_per_schema}, collection="api")

    status = result.snapshot.read_status(FactFamily.GRANTS, "watch:gen_catalog_0")
    assert status.state is ReadState.FAILED
    assert status.reason is not None and "REST" in status.reason and "SQL" in status.reason
    # it stopped after listing: no table's grants were read one by one
    assert served["unity-catalog"] < 10
    assert not [g for g in result.snapshot.grants if g.securable_type.value == "TABLE"]
