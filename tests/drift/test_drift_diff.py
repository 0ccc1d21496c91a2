"""Drift facts and diff: snapshots in, changes out."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.drift.diff import Change, ChangeKind
from auditor.model.facts import (
    AclEntry,
    FactFamily,
    Grant,
    Membership,
    OAuthSecret,
    Principal,
    PrincipalKind,
    ReadState,
    ReadStatus,
    Securable,
    SecurableType,
    Token,
    TrustPolicy,
)
from auditor.privileges.iam_policy import canonical_policy
from tests.drift.drift_builders import (
    BASE_ACL,
    BASE_GRANTS,
    DELTA_SP,
    GRAPH_SP,
    ROLE,
    T0,
    TRUST_DOC,
    WAREHOUSE,
    diff,
    extract,
    failed,
    grant,
    snap,
    without,
)

DELTA_ALL = BASE_GRANTS[0]


def test_identical_snapshots_have_no_changes() -> None:
    assert diff(snap(0), snap(1)) == []


def test_revoked_grant_is_grant_removed() -> None:
    changes = diff(snap(0), snap(1, grants=without(BASE_GRANTS, DELTA_ALL)))
    assert changes == [
        Change(
            kind=ChangeKind.GRANT_REMOVED,
            subject="CATALOG:segment_events",
            principal=DELTA_SP,
            lost=("ALL_PRIVILEGES",),
        )
    ]
    assert "lost ALL_PRIVILEGES" in changes[0].describe()


def test_grants_to_a_watched_principal_are_watched_anywhere() -> None:
    extra = grant(DELTA_SP, "ALL_PRIVILEGES", "CATALOG", "main")
    changes = diff(snap(0), snap(1, grants=(*BASE_GRANTS, extra)))
    assert changes == [
        Change(
            kind=ChangeKind.GRANT_ADDED,
            subject="CATALOG:main",
            principal=DELTA_SP,
            gained=("ALL_PRIVILEGES",),
        )
    ]


def test_grant_in_a_watched_catalog_to_an_unconfigured_principal_is_exposure() -> None:
    leak = grant("contractor@example.com", "SELECT", "TABLE", "segment_profiles.profiles.user_traits")
    added = diff(snap(0), snap(1, grants=(*BASE_GRANTS, leak)))
    assert [(c.kind, c.subject, c.principal, c.gained) for c in added] == [
        (
            ChangeKind.EXPOSURE,
            "TABLE:segment_profiles.profiles.user_traits",
            "contractor@example.com",
            ("SELECT",),
        )
    ]
    removed = diff(snap(1, grants=(*BASE_GRANTS, leak)), snap(2))
    assert [c.kind for c in removed] == [ChangeKind.GRANT_REMOVED]


def test_unwatched_grants_are_ignored_but_referenced_securables_are_watched() -> None:
    other = grant("analyst@example.com", "SELECT", "CATALOG", "main")
    assert diff(snap(0), snap(1, grants=(*BASE_GRANTS, other))) == []
    # Once the snapshot describes CATALOG:main (a bound rule references it), its grants are watched.
    main = (Securable(type=SecurableType.CATALOG, full_name="main"),)
    changes = diff(snap(0, securables=main), snap(1, grants=(*BASE_GRANTS, other), securables=main))
    assert [(c.kind, c.principal) for c in changes] == [(ChangeKind.GRANT_ADDED, "analyst@example.com")]


def test_securable_names_compare_case_insensitively() -> None:
    upper = grant(DELTA_SP, "ALL_PRIVILEGES", "CATALOG", "SEGMENT_EVENTS")
    assert diff(snap(0), snap(1, grants=(upper, *BASE_GRANTS[1:]))) == []


def test_warehouse_permission_lowered_is_one_acl_change() -> None:
    lowered = (
        AclEntry(principal=DELTA_SP, principal_kind=PrincipalKind.SERVICE_PRINCIPAL, permission_level="CAN_VIEW"),
        BASE_ACL[1],
    )
    changes = diff(snap(0), snap(1, acl=lowered))
    assert changes == [
        Change(
            kind=ChangeKind.WAREHOUSE_ACL_CHANGED,
            subject=f"warehouse:{WAREHOUSE}",
            principal=DELTA_SP,
            gained=("CAN_VIEW",),
            lost=("CAN_USE",),
        )
    ]


def test_membership_and_entitlement_changes() -> None:
    new_members = (
        Membership(member=GRAPH_SP, group="segment-readers"),
        Membership(member=DELTA_SP, group="admins"),
        Membership(member="analyst@example.com", group="segment-readers"),  # joins a group Segment relies on
        Membership(member="analyst@example.com", group="data-engineers"),  # irrelevant to Segment
    )
    principals = (
        Principal(name=DELTA_SP, kind=PrincipalKind.SERVICE_PRINCIPAL, entitlements=()),
        Principal(name="segment-readers", kind=PrincipalKind.GROUP, entitlements=("databricks-sql-access",)),
    )
    changes = diff(snap(0), snap(1, memberships=new_members, principals=principals))
    assert [(c.kind, c.subject, c.principal, c.gained, c.lost) for c in changes] == [
        (ChangeKind.ENTITLEMENT_CHANGED, f"principal:{DELTA_SP}", DELTA_SP, (), ("databricks-sql-access",)),
        (ChangeKind.MEMBERSHIP_CHANGED, "group:admins", DELTA_SP, ("member",), ()),
        (ChangeKind.MEMBERSHIP_CHANGED, "group:segment-readers", "analyst@example.com", ("member",), ()),
    ]


def test_trust_policy_change_and_canonical_form() -> None:
    narrowed = copy.deepcopy(TRUST_DOC)
    narrowed["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = ["acc-1"]
    changes = diff(snap(0), snap(1, trust=narrowed))
    assert [(c.kind, c.subject, c.principal) for c in changes] == [
        (ChangeKind.TRUST_POLICY_CHANGED, f"role:{ROLE}", "")
    ]
    assert "Wk5pQxR2aB" in changes[0].lost[0] and "Wk5pQxR2aB" not in changes[0].gained[0]

    # Same policy written differently: list order, one-element lists, a lone statement object.
    rewritten = copy.deepcopy(TRUST_DOC)
    statement = rewritten["Statement"][0]
    statement["Principal"]["AWS"] = list(reversed(statement["Principal"]["AWS"]))
    statement["Action"] = ["sts:AssumeRole"]
    statement["Condition"]["StringEquals"]["sts:ExternalId"] = ["Wk5pQxR2aB", "acc-1"]
    rewritten["Statement"] = statement
    assert canonical_policy(rewritten) == canonical_policy(TRUST_DOC)
    assert diff(snap(0), snap(1, trust=rewritten)) == []


def test_credential_changes_of_watched_principals_only() -> None:
    tokens = (
        Token(token_id="t-1", owner=DELTA_SP, expiry_time=T0),
        Token(token_id="t-9", owner="analyst@example.com"),
    )
    renewed = (
        Token(token_id="t-1", owner=DELTA_SP, expiry_time=None),
        Token(token_id="t-9", owner="analyst@example.com", expiry_time=T0),
    )
    changes = diff(snap(0, tokens=tokens), snap(1, tokens=renewed))
    assert [(c.kind, c.subject, c.gained, c.lost) for c in changes] == [
        (
            ChangeKind.CREDENTIAL_CHANGED,
            "credential:pat/t-1",
            ("token expires=never",),
            (f"token expires={T0.isoformat()}",),
        )
    ]
    revoked = (OAuthSecret(application_id=DELTA_SP, secret_id="sec-1", status="REVOKED"),)
    changes = diff(snap(0), snap(1, secrets=revoked))
    assert [(c.kind, c.subject, c.principal) for c in changes] == [
        (ChangeKind.CREDENTIAL_CHANGED, "credential:oauth/sec-1", DELTA_SP)
    ]
    assert "status=REVOKED" in changes[0].gained[0] and "status=ACTIVE" in changes[0].lost[0]


def test_unread_scope_on_either_side_yields_no_change() -> None:
    revoked = without(BASE_GRANTS, DELTA_ALL)
    scope_failed = [failed(FactFamily.GRANTS, "CATALOG:segment_events")]
    assert diff(snap(0), snap(1, grants=revoked, extra_reads=scope_failed)) == []
    assert diff(snap(0, extra_reads=scope_failed), snap(1, grants=revoked)) == []
    # The family failing as a whole hides every grant.
    assert diff(snap(0), snap(1, grants=(), extra_reads=[failed(FactFamily.GRANTS)])) == []
    # A family never recorded counts as not read.
    not_collected = [r for r in snap(0).reads if r.family is not FactFamily.WAREHOUSE_ACLS]
    assert diff(snap(0), snap(1, acl=(), reads=not_collected)) == []


def test_failed_bulk_read_of_a_watched_catalog_hides_the_grants_inside_it() -> None:
    table = grant(GRAPH_SP, "SELECT", "TABLE", "segment_profiles.profiles.user_traits")
    old = snap(0, grants=(*BASE_GRANTS, table))
    bulk_failed = failed(FactFamily.GRANTS, "watch:segment_profiles")
    # Every grant of the catalog came from the bulk read: when it fails, nothing inside is known.
    assert diff(old, snap(1, grants=BASE_GRANTS[:1], extra_reads=[bulk_failed])) == []
    # A securable read on its own (a bound rule references it) is still known.
    table_read = ReadStatus(
        family=FactFamily.GRANTS, scope="TABLE:segment_profiles.profiles.user_traits", state=ReadState.READ
    )
    assert diff(old, snap(1, grants=(*BASE_GRANTS, table), extra_reads=[bulk_failed, table_read])) == []
    changes = diff(old, snap(1, grants=BASE_GRANTS, extra_reads=[bulk_failed, table_read]))
    assert [(c.kind, c.subject) for c in changes] == [
        (ChangeKind.GRANT_REMOVED, "TABLE:segment_profiles.profiles.user_traits")
    ]
    # The catalog's own read failing does not hide what the bulk read returned.
    catalog_failed = failed(FactFamily.GRANTS, "CATALOG:segment_profiles")
    ok_bulk = ReadStatus(family=FactFamily.GRANTS, scope="watch:segment_profiles", state=ReadState.READ)
    changes = diff(old, snap(1, grants=BASE_GRANTS, extra_reads=[catalog_failed, ok_bulk]))
    assert [c.subject for c in changes] == ["TABLE:segment_profiles.profiles.user_traits"]


def test_undecodable_trust_policy_is_unknown_not_removed() -> None:
    view = extract(snap(1, trust=None))
    assert not any(f.family is FactFamily.TRUST_POLICIES for f in view.facts.values())
    broken = snap(1).model_copy(
        update={"trust_policies": (TrustPolicy(role_arn=ROLE, raw="{not json", decode_error="bad"),)}
    )
    assert diff(snap(0), broken) == []


# ---- properties -------------------------------------------------------------------------------------

PRINCIPALS = st.sampled_from([DELTA_SP, GRAPH_SP, "contractor@example.com", "admins"])
PRIVILEGES = st.sampled_from(["SELECT", "USE_CATALOG", "MODIFY", "ALL_PRIVILEGES"])
NAMES = st.sampled_from(["segment_events", "segment_profiles", "main", "segment_profiles.profiles"])
GRANTS = st.builds(lambda p, v, n: grant(p, v, "SCHEMA" if "." in n else "CATALOG", n), PRINCIPALS, PRIVILEGES, NAMES)
GRANT_SETS = st.frozensets(GRANTS, max_size=12)


@settings(max_examples=60, deadline=None)
@given(GRANT_SETS)
def test_diff_of_a_snapshot_with_itself_is_empty(grants: frozenset[Grant]) -> None:
    one = snap(0, grants=sorted(grants, key=repr))
    assert diff(one, one) == []
    assert diff(one, snap(5, grants=sorted(grants, key=repr, reverse=True))) == []


@settings(max_examples=60, deadline=None)
@given(GRANT_SETS, GRANT_SETS, st.sampled_from(["old", "new"]))
def test_unread_grants_never_yield_grant_changes(old: frozenset[Grant], new: frozenset[Grant], side: str) -> None:
    unread = [failed(FactFamily.GRANTS)]
    before = snap(0, grants=sorted(old, key=repr), extra_reads=unread if side == "old" else ())
    after = snap(1, grants=sorted(new, key=repr), extra_reads=unread if side == "new" else ())
    assert diff(before, after) == []


@settings(max_examples=60, deadline=None)
@given(GRANT_SETS, GRANT_SETS)
def test_diff_is_symmetric(old: frozenset[Grant], new: frozenset[Grant]) -> None:
    forward = diff(snap(0, grants=sorted(old, key=repr)), snap(1, grants=sorted(new, key=repr)))
    backward = diff(snap(1, grants=sorted(new, key=repr)), snap(0, grants=sorted(old, key=repr)))
    gained = sorted((c.subject, c.principal, v) for c in forward for v in c.gained)
    lost_back = sorted((c.subject, c.principal, v) for c in backward for v in c.lost)
    assert gained == lost_back


def test_failed_read_of_a_watched_principals_grants_hides_them() -> None:
    elsewhere = grant(DELTA_SP, "ALL_PRIVILEGES", "CATALOG", "main")
    old = snap(0, grants=(*BASE_GRANTS, elsewhere))
    principal_failed = failed(FactFamily.GRANTS, f"principal:{DELTA_SP}")
    assert diff(old, snap(1, grants=BASE_GRANTS, extra_reads=[principal_failed])) == []
    principal_read = ReadStatus(family=FactFamily.GRANTS, scope=f"principal:{DELTA_SP}", state=ReadState.READ)
    changes = diff(old, snap(1, grants=BASE_GRANTS, extra_reads=[principal_read]))
    assert [(c.kind, c.subject) for c in changes] == [(ChangeKind.GRANT_REMOVED, "CATALOG:main")]
