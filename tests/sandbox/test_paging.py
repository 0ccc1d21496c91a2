"""Paging as the platform does it, read through the real SDK: UC grants, lists, SCIM, secrets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databricks.sdk.errors import BadRequest, InvalidParameterValue

from auditor_sandbox import Sandbox
from auditor_sandbox.control import Limits
from tests.present import present
from tests.sandbox.clients import NOW, pat_client

SMALL = {
    "base": "healthy",
    "generate": {
        "catalogs": 2,
        "schemas_per_catalog": 2,
        "tables_per_schema": 30,
        "principals": 40,
        "groups": 6,
        "group_depth": 3,
        "grants_per_object": 5,
        "seed": 3,
    },
}


@pytest.fixture(scope="module")
def generated() -> Iterator[Sandbox]:
    limits = Limits(uc_grants_page_size=2, scim_page_size=7, secrets_page_size=1)
    with Sandbox.start(SMALL, now=NOW, limits=limits) as sandbox:
        yield sandbox


def test_grants_page_with_max_results_and_tokens(generated: Sandbox) -> None:
    w = pat_client(generated)
    unpaged = w.grants.get("catalog", "gen_catalog_0")  # no max_results: everything, no token
    assert unpaged.next_page_token is None
    everyone = [a.principal for a in unpaged.privilege_assignments or []]
    assert len(everyone) == 5
    generated.reset_request_counts()
    paged: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = w.grants.get("catalog", "gen_catalog_0", max_results=0, page_token=token)
        paged += [present(a.principal) for a in page.privilege_assignments or []]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert paged == everyone
    assert pages == 3 == generated.request_counts()["unity-catalog"]
    assert len(w.grants.get("catalog", "gen_catalog_0", max_results=150).privilege_assignments or []) == 2


def test_a_full_last_page_is_followed_by_an_empty_page_with_no_token(generated: Sandbox) -> None:
    w = pat_client(generated)
    generated.state.catalog.grant(
        "CATALOG", "crm", "admins", ["BROWSE"]
    )  # crm: Data Graph SP + admins = 2 = a full page
    first = w.grants.get("catalog", "crm", max_results=0)
    assert len(first.privilege_assignments or []) == 2 and first.next_page_token
    last = w.grants.get("catalog", "crm", max_results=0, page_token=first.next_page_token)
    assert not last.privilege_assignments and not last.next_page_token
    generated.state.catalog.revoke("CATALOG", "crm", "admins", ["BROWSE"])


def test_effective_grants_page_too(generated: Sandbox) -> None:
    w = pat_client(generated)
    table = "gen_catalog_1.schema_1.table_4"
    principals = {a.principal for a in w.grants.list_effective("table", table, page_size=0)}
    assert principals == {g.principal for g in generated.state.catalog.effective_grants("TABLE", table)}
    direct = {a.principal for a in w.grants.list("table", table)}
    assert direct == {p for p, _ in generated.state.catalog.direct_grants("TABLE", table)}


@pytest.mark.parametrize("bad", [1, 149, -1])
def test_max_results_below_150_is_rejected(generated: Sandbox, bad: int) -> None:
    w = pat_client(generated)
    with pytest.raises((InvalidParameterValue, BadRequest)):
        w.grants.get("catalog", "main", max_results=bad)
    with pytest.raises((InvalidParameterValue, BadRequest)):
        w.grants.get_effective("catalog", "main", max_results=bad)


def test_tables_and_catalogs_page_through_the_sdk(generated: Sandbox) -> None:
    w = pat_client(generated)
    generated.reset_request_counts()
    tables = list(w.tables.list("gen_catalog_0", "schema_1", max_results=7))
    assert [t.name for t in tables] == [f"table_{i}" for i in range(30)]
    assert generated.request_counts()["unity-catalog"] == 5  # 7+7+7+7+2
    assert len(list(w.catalogs.list(max_results=3))) == 8


def test_scim_lists_page_by_start_index(generated: Sandbox) -> None:
    w = pat_client(generated)
    generated.reset_request_counts()
    users = list(w.users.list())
    assert len(users) == 2 + 20  # the scenario's users + half of the 40 generated principals
    assert len({u.id for u in users}) == len(users)
    assert generated.request_counts()["scim"] == 5  # pages of 7 (the server's cap), then an empty page
    raw = w.api_client.do("GET", "/api/2.0/preview/scim/v2/Groups", query={"startIndex": 3, "count": 2})
    assert (raw["startIndex"], raw["itemsPerPage"], raw["totalResults"]) == (
        3,
        2,
        11,
    )  # with the built-in `users` group


def test_nested_generated_groups(generated: Sandbox) -> None:
    w = pat_client(generated)
    by_name = {g.display_name: g for g in w.groups.list()}
    inner = w.groups.get(present(by_name["gen-group-2"].id))
    assert {(p.display, p.type) for p in inner.groups or []} == {("gen-group-1", "direct")}
    assert generated.state.directory.groups_of("gen-group-2") == ["gen-group-1", "gen-group-0"]


def test_secrets_page(generated: Sandbox) -> None:
    w = pat_client(generated)
    generated.state.credentials.add_oauth_secret(generated.auditor_client_id, "dose-second")
    me = w.current_user.me()
    generated.reset_request_counts()
    assert len(list(w.service_principal_secrets_proxy.list(present(me.id)))) == 2
    assert generated.request_counts()["secrets"] == 3
