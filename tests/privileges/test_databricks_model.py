"""The Databricks privilege model: spellings, the two vocabularies, ALL PRIVILEGES, inheritance, ownership,
nested groups and explanations; then properties that hold for any grants and any group graph."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args, load_builtin_kinds
from auditor.model.facts import (
    FactFamily,
    Grant,
    Membership,
    Principal,
    PrincipalKind,
    ReadState,
    ReadStatus,
    Securable,
    SecurableType,
    Snapshot,
)
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.privileges.databricks import (
    NOT_IMPLIED_BY_ALL_PRIVILEGES,
    PrivilegeModel,
    canonical,
    implies,
)
from auditor.privileges.names import (
    UC_PRIVILEGES,
    UnknownPrivilegeError,
    check_privilege,
    normalize_privilege,
)
from tests.rules import documented

CATALOG, SCHEMA, TABLE = SecurableType.CATALOG, SecurableType.SCHEMA, SecurableType.TABLE
P = "5e9e0000-0000-4000-8000-00000000000p"  # the principal whose privileges are asked about
SECURABLES: tuple[tuple[SecurableType, str], ...] = (
    (CATALOG, "main"),
    (SCHEMA, "main.s"),
    (TABLE, "main.s.t"),
    (CATALOG, "hive_metastore"),
    (SCHEMA, "hive_metastore.db"),
    (TABLE, "hive_metastore.db.t"),
)
PROPERTY = settings(derandomize=True, deadline=None, database=None, max_examples=200)


def world(
    grants: Iterable[Grant] = (),
    memberships: Iterable[tuple[str, str]] = (),
    local_groups: Iterable[str] = (),
    owners: dict[str, str] | None = None,
) -> PrivilegeModel:
    """A privilege model over main.s.t and hive_metastore.db.t with the given grants and group edges."""
    owners = owners or {}
    snapshot = Snapshot(
        target="model",
        collected_at=datetime(2026, 1, 1, tzinfo=UTC),
        securables=tuple(Securable(type=t, full_name=n, owner=owners.get(n, "admins")) for t, n in SECURABLES),
        grants=tuple(grants),
        memberships=tuple(Membership(member=m, group=g) for m, g in memberships),
        principals=tuple(Principal(name=g, kind=PrincipalKind.GROUP, account_level=False) for g in local_groups),
    )
    return PrivilegeModel(snapshot)


def grant(principal: str, privilege: str, securable_type: SecurableType, name: str) -> Grant:
    return Grant(
        principal=principal,
        privilege=normalize_privilege(privilege),
        securable_type=securable_type,
        securable_name=name,
    )


def holds(model: PrivilegeModel, privilege: str, securable_type: SecurableType, name: str) -> bool:
    return model.explain(P, privilege, securable_type, name) is not None


# ---- spellings and vocabularies ---------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["USE_CATALOG", "use catalog", " Use  Catalog ", "use_catalog"])
def test_normalisation_of_case_and_spaces(spelling: str) -> None:
    assert normalize_privilege(spelling) == "USE_CATALOG"


def test_unknown_privilege_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownPrivilegeError) as raised:
        check_privilege("USE SCHEMAS")
    assert raised.value.suggestion == "USE_SCHEMA"
    assert str(raised.value) == "unknown privilege 'USE SCHEMAS' (did you mean 'USE SCHEMA'?)"
    with pytest.raises(UnknownPrivilegeError, match=r"^unknown privilege 'FROBNICATE'$"):
        check_privilege("FROBNICATE")
    assert check_privilege("read metadata") == "READ_METADATA"


@pytest.mark.parametrize(
    ("privilege", "on", "hive", "meaning"),
    [
        ("USAGE", CATALOG, False, {"USE_CATALOG"}),
        ("USAGE", SCHEMA, False, {"USE_SCHEMA"}),
        ("CREATE", CATALOG, False, {"CREATE_SCHEMA"}),
        (
            "CREATE",
            SCHEMA,
            False,
            {"CREATE_TABLE", "CREATE_FUNCTION", "CREATE_VOLUME", "CREATE_MODEL", "CREATE_MATERIALIZED_VIEW"},
        ),
        ("CREATE", SecurableType.EXTERNAL_LOCATION, False, {"CREATE_EXTERNAL_TABLE"}),
        ("READ_METADATA", SCHEMA, False, {"BROWSE"}),
        ("USE CATALOG", CATALOG, True, {"USAGE"}),
        ("USE SCHEMA", SCHEMA, True, {"USAGE"}),
        ("CREATE SCHEMA", CATALOG, True, {"CREATE"}),
        ("CREATE TABLE", SCHEMA, True, {"CREATE"}),
        ("BROWSE", SCHEMA, True, {"READ_METADATA"}),
        ("READ_METADATA", SCHEMA, True, {"READ_METADATA"}),
        ("SELECT", TABLE, False, {"SELECT"}),
    ],
)
def test_legacy_names_map_by_securable_and_metastore(
    privilege: str, on: SecurableType, hive: bool, meaning: set[str]
) -> None:
    assert canonical(privilege, on, hive=hive) == meaning


@pytest.mark.parametrize("required", sorted(UC_PRIVILEGES))
def test_all_privileges_implies_everything_but_manage_and_external_use(required: str) -> None:
    expected = required not in {"MANAGE", "EXTERNAL_USE_SCHEMA", "EXTERNAL_USE_LOCATION"}
    assert implies("ALL_PRIVILEGES", CATALOG, required, hive=False) is expected


def test_all_privileges_on_a_catalog_through_the_model() -> None:
    model = world([grant(P, "ALL PRIVILEGES", CATALOG, "main")])
    assert holds(model, "SELECT", TABLE, "main.s.t")
    assert holds(model, "USAGE", SCHEMA, "main.s")  # legacy name, mapped to USE SCHEMA
    for excluded in NOT_IMPLIED_BY_ALL_PRIVILEGES:
        assert not holds(model, excluded, SCHEMA, "main.s")


def test_legacy_names_on_hive_metastore() -> None:
    model = world(
        [
            grant(P, "USAGE", SCHEMA, "hive_metastore.db"),
            grant(P, "CREATE", CATALOG, "hive_metastore"),
            grant(P, "READ_METADATA", SCHEMA, "hive_metastore.db"),
        ]
    )
    assert holds(model, "USAGE", SCHEMA, "hive_metastore.db")
    assert holds(model, "USE SCHEMA", SCHEMA, "hive_metastore.db")  # a rule's UC name, read as hive's USAGE
    assert holds(model, "CREATE", CATALOG, "hive_metastore")
    assert holds(model, "READ_METADATA", TABLE, "hive_metastore.db.t")
    assert not holds(model, "SELECT", SCHEMA, "hive_metastore.db")


def test_unity_catalog_names_satisfy_the_documents_legacy_names() -> None:
    model = world(
        [
            grant(P, "USE SCHEMA", CATALOG, "main"),
            grant(P, "CREATE SCHEMA", CATALOG, "main"),
            grant(P, "BROWSE", SCHEMA, "main.s"),
        ]
    )
    assert holds(model, "USAGE", SCHEMA, "main.s")
    assert holds(model, "CREATE", CATALOG, "main")
    assert holds(model, "READ_METADATA", SCHEMA, "main.s")
    assert not holds(model, "USAGE", CATALOG, "main"), "USE SCHEMA is not USE CATALOG"


# ---- inheritance, ownership, groups ------------------------------------------------------------------------


def test_grants_flow_down_not_up() -> None:
    model = world([grant(P, "SELECT", CATALOG, "main"), grant(P, "MODIFY", TABLE, "main.s.t")])
    explanation = model.explain(P, "SELECT", TABLE, "main.s.t")
    assert explanation is not None and explanation.granted_on == (CATALOG, "main")
    assert not holds(model, "MODIFY", SCHEMA, "main.s")


def test_names_are_case_insensitive() -> None:
    assert holds(world([grant(P, "SELECT", CATALOG, "MAIN")]), "select", TABLE, "main.S.t")


def test_owner_of_the_object_holds_everything_on_it_but_not_on_children() -> None:
    model = world([], [(P, "schema-owners")], owners={"main.s": "schema-owners"})
    explanation = model.explain(P, "CREATE_TABLE", SCHEMA, "main.s")
    assert explanation is not None
    assert explanation.describe() == "CREATE TABLE on SCHEMA main.s via group schema-owners, as owner"
    # MODIFY on a schema acts on its tables, which owning the schema does not reach (test_ownership.py)
    assert not holds(model, "MODIFY", SCHEMA, "main.s")
    assert not holds(model, "SELECT", TABLE, "main.s.t"), "a schema owner holds nothing on its tables"
    assert not holds(world([], owners={"main": P}), "SELECT", SCHEMA, "main.s"), "nor a catalog owner"


def test_nested_groups_with_a_cycle_terminate_and_explain_the_chain() -> None:
    edges = [(P, "a"), ("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")]
    model = world([grant("c", "SELECT", CATALOG, "main")], edges)
    assert set(model.groups_of(P)) == {"a", "b", "c"}
    explanation = model.explain(P, "SELECT", TABLE, "main.s.t")
    assert explanation is not None and explanation.via is not None
    assert explanation.via.chain == ("a", "b", "c")
    assert explanation.describe() == (
        "SELECT on TABLE main.s.t via group a \u2282 b \u2282 c, inherited from CATALOG main"
    )


def test_explanation_reads_like_a_sentence() -> None:
    model = world([grant("data-readers", "SELECT", CATALOG, "main")], [(P, "data-readers")])
    explanation = model.explain(P, "SELECT", SCHEMA, "main.s")
    assert explanation is not None
    assert explanation.describe() == ("SELECT on SCHEMA main.s via group data-readers, inherited from CATALOG main")


def test_the_simplest_explanation_wins() -> None:
    model = world(
        [
            grant("data-readers", "SELECT", SCHEMA, "main.s"),
            grant(P, "ALL PRIVILEGES", CATALOG, "main"),
            grant(P, "SELECT", SCHEMA, "main.s"),
        ],
        [(P, "data-readers")],
    )
    explanation = model.explain(P, "SELECT", SCHEMA, "main.s")
    assert explanation is not None and explanation.describe() == "SELECT on SCHEMA main.s directly"


def test_workspace_local_groups_do_not_count_on_unity_catalog() -> None:
    grants = [grant("local", "SELECT", CATALOG, "main"), grant("local", "SELECT", CATALOG, "hive_metastore")]
    model = world(grants, [(P, "local")], local_groups=["local"])
    assert not holds(model, "SELECT", TABLE, "main.s.t")
    assert holds(model, "SELECT", TABLE, "hive_metastore.db.t"), "hive table ACLs know workspace groups"


def test_missing_splits_held_from_missing() -> None:
    model = world([grant(P, "USE CATALOG", CATALOG, "main")])
    missing, held = model.missing(P, ["USE CATALOG", "SELECT"], CATALOG, "main")
    assert missing == ["SELECT"] and [e.privilege for e in held] == ["USE_CATALOG"]


# ---- properties -------------------------------------------------------------------------------------------

GROUPS = ("g0", "g1", "g2", "g3")
GRANT_POOL = (
    "SELECT",
    "MODIFY",
    "USAGE",
    "CREATE",
    "READ_METADATA",
    "ALL_PRIVILEGES",
    "USE_CATALOG",
    "USE_SCHEMA",
    "CREATE_SCHEMA",
    "CREATE_TABLE",
    "BROWSE",
    "MANAGE",
    "EXTERNAL_USE_SCHEMA",
    "APPLY_TAG",
)
securables = st.sampled_from(SECURABLES)
privileges = st.sampled_from(GRANT_POOL)
holders = st.sampled_from((P, *GROUPS, "someone-else"))
edge = st.tuples(st.sampled_from((P, *GROUPS)), st.sampled_from(GROUPS))
edges = st.lists(edge.filter(lambda e: e[0] != e[1]), max_size=8)
one_grant = st.builds(lambda h, p, s: grant(h, p, *s), holders, privileges, securables)
grants_strategy = st.lists(one_grant, max_size=8)


@PROPERTY
@given(grants_strategy, edges, one_grant, edge, privileges, securables)
def test_adding_a_grant_or_a_membership_never_removes_a_privilege(
    grants: list[Grant],
    memberships: list[tuple[str, str]],
    extra: Grant,
    extra_edge: tuple[str, str],
    required: str,
    target: tuple[SecurableType, str],
) -> None:
    before = holds(world(grants, memberships), required, *target)
    after = holds(world([*grants, extra], [*memberships, extra_edge]), required, *target)
    assert after or not before


@PROPERTY
@given(grants_strategy, edges, privileges, securables, privileges, securables, st.integers(1, 10))
def test_a_group_at_any_depth_satisfies_what_a_direct_grant_would(
    grants: list[Grant],
    memberships: list[tuple[str, str]],
    granted: str,
    granted_on: tuple[SecurableType, str],
    required: str,
    target: tuple[SecurableType, str],
    depth: int,
) -> None:
    nest = [f"nest{i}" for i in range(depth)]
    chain = list(zip([P, *nest[:-1]], nest, strict=True))  # P in nest0 in nest1 ... in nest{depth-1}
    direct = world([*grants, grant(P, granted, *granted_on)], [*memberships, *chain])
    via_group = world([*grants, grant(nest[-1], granted, *granted_on)], [*memberships, *chain])
    if holds(direct, required, *target):
        assert holds(via_group, required, *target)
    if not grants and not memberships:  # nothing else in the world: equivalent, explained by the full chain
        assert holds(direct, required, *target) == holds(via_group, required, *target)
        explanation = via_group.explain(P, required, *target)
        if explanation is not None and explanation.granted != "OWNER":
            assert explanation.via is not None and explanation.via.chain == tuple(nest)


@PROPERTY
@given(grants_strategy, edges, privileges, securables, privileges)
def test_a_grant_on_an_ancestor_satisfies_what_one_on_the_object_would(
    grants: list[Grant],
    memberships: list[tuple[str, str]],
    granted: str,
    target: tuple[SecurableType, str],
    required: str,
) -> None:
    hive = target[1].startswith("hive_metastore")
    if len({canonical(granted, t, hive=hive) for t in (CATALOG, SCHEMA, TABLE)}) > 1:
        return  # legacy names mean different things per securable on Unity Catalog (USAGE on a catalog)
    on_object = holds(world([*grants, grant(P, granted, *target)], memberships), required, *target)
    parts = target[1].split(".")
    for depth, ancestor_type in ((1, CATALOG), (2, SCHEMA))[: len(parts) - 1]:
        ancestor = ".".join(parts[:depth])
        on_ancestor = holds(
            world([*grants, grant(P, granted, ancestor_type, ancestor)], memberships), required, *target
        )
        assert on_ancestor or not on_object


@PROPERTY
@given(st.lists(edge, max_size=12))
def test_group_closure_terminates_with_shortest_valid_chains(memberships: list[tuple[str, str]]) -> None:
    found = world([], memberships).groups_of(P)
    adjacency: dict[str, set[str]] = {}
    for member, group in memberships:
        adjacency.setdefault(member, set()).add(group)
    distance, queue = {P: 0}, deque([P])
    while queue:  # an independent breadth-first search
        node = queue.popleft()
        for group in adjacency.get(node, ()):
            if group not in distance:
                distance[group] = distance[node] + 1
                queue.append(group)
    assert set(found) == set(distance) - {P}
    for group, membership in found.items():
        assert membership.chain[-1] == group and len(membership.chain) == distance[group]
        steps = zip((P, *membership.chain), membership.chain, strict=False)
        assert all(group in adjacency.get(member, ()) for member, group in steps)


# ---- the engine: unread facts never give pass or fail ------------------------------------------------------

PACKS = load_packs(kinds=builtin_kind_args())
KIND_FAMILIES = {name: kind.families for name, kind in load_builtin_kinds().items()}
RULE_FAMILIES = {rule.id: KIND_FAMILIES[rule.check.kind] for pack in PACKS for rule in pack.spec.rules}


@settings(derandomize=True, deadline=None, database=None, max_examples=60)
@given(
    st.dictionaries(
        st.sampled_from(list(FactFamily)), st.sampled_from([ReadState.FAILED, ReadState.NOT_VISIBLE]), min_size=1
    )
)
def test_engine_never_passes_or_fails_on_unread_facts(unread: dict[FactFamily, ReadState]) -> None:
    healthy = documented.healthy()
    reads = tuple(r for r in healthy.reads if r.family not in unread)
    reads += tuple(ReadStatus(family=f, state=s, reason="denied") for f, s in unread.items())
    report = evaluate(documented.change(healthy, reads=reads), PACKS, now=documented.NOW)
    for finding in report.findings:
        if finding.rule_id == "X-3":  # the auditor's visibility: it reports exactly these read states
            continue
        assert finding.status in {Status.PASS, Status.ERROR}, "an unread fact never manufactures a fail"
        blind = RULE_FAMILIES[finding.rule_id] <= set(unread)
        if blind and finding.subject:
            assert finding.status is Status.ERROR, (finding.rule_id, finding.message)
