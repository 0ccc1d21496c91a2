"""One small case per rule of every pack: the documented workspace passes, a minimal mutation fails
(or warns), and an unread fact gives ``error``, never pass or fail.

"Passing" is what the documents tell users to run: `tests.rules.documented` parses their GRANTs.
A rule added to a pack without a case here fails `test_every_rule_has_a_case`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import (
    FactFamily,
    OAuthSecret,
    ReadState,
    Securable,
    SecurableType,
    Snapshot,
    TrustPolicy,
)
from auditor.model.findings import Finding, Status
from auditor.packs.loader import load_packs
from tests.rules.documented import (
    ACCOUNT_ID,
    AUDITOR,
    AWS,
    DG,
    DL,
    NOW,
    PS,
    RETL,
    ROLE_ARN,
    WAREHOUSE,
    change,
    healthy,
    plus_grants,
    revoke,
    trust_document,
    unread,
    with_acl_level,
    with_params,
    with_principal,
    with_secret_expiry,
    with_securable,
    with_token_expiry,
    with_warehouse,
    without_grants,
    without_principal,
    without_securable,
)

PACKS = load_packs(kinds=builtin_kind_args())
Mutation = Callable[[Snapshot], Snapshot]
F = FactFamily


def findings(snapshot: Snapshot, rule_id: str) -> list[Finding]:
    """The findings of one rule when the whole documented target is evaluated."""
    return [f for f in evaluate(snapshot, PACKS, now=NOW).findings if f.rule_id == rule_id]


def _same(snapshot: Snapshot) -> Snapshot:
    return snapshot


@dataclass(frozen=True)
class RuleCase:
    rule_id: str
    fail: Mutation  # a minimal change the rule must catch
    says: str  # a fragment of the caught finding's message
    unread: tuple[FactFamily, str]  # the fact family and scope the rule needs
    expect: Status = Status.FAIL  # WARN for advisory rules and credentials about to expire
    setup: Mutation = _same  # makes the rule applicable (e.g. an OAuth binding for an "OAuth only" rule)


# ---- setups and shared mutations ----------------------------------------------------------------------


def revoked(principal: str, privilege: str, securable_name: str) -> Mutation:
    return lambda s: revoke(s, principal, privilege, securable_name)


def granted(sql: str) -> Mutation:
    return lambda s: plus_grants(s, sql)


def acl_level(principal: str, level: str | None) -> Mutation:
    return lambda s: with_acl_level(s, principal, level)


def warehouse(**updates: object) -> Mutation:
    return lambda s: with_warehouse(s, **updates)


def principal(name: str, **updates: object) -> Mutation:
    return lambda s: with_principal(s, name, **updates)


def securable(full_name: str, **updates: object) -> Mutation:
    return lambda s: with_securable(s, full_name, **updates)


def secret_expiring(application_id: str, when: datetime) -> Mutation:
    return lambda s: with_secret_expiry(s, application_id, when)


def token_expiring(owner: str, when: datetime) -> Mutation:
    return lambda s: with_token_expiry(s, owner, when)


def without_secret(application_id: str) -> Mutation:
    return lambda s: change(s, oauth_secrets=tuple(x for x in s.oauth_secrets if x.application_id != application_id))


def facts(**updates: object) -> Mutation:
    return lambda s: change(s, **updates)


def aws_oauth(snapshot: Snapshot) -> Snapshot:
    """The AWS destination bound with OAuth, its service principal holding an active secret."""
    snapshot = with_params(snapshot, "delta-lake-destination-aws", auth="oauth")
    secret = OAuthSecret(application_id=AWS, secret_id="sec-aws", status="ACTIVE", expire_time=NOW + timedelta(days=90))
    return change(snapshot, oauth_secrets=(*snapshot.oauth_secrets, secret))


def crm_schema_scope(snapshot: Snapshot) -> Snapshot:
    """Data Graph restricted to schema crm.sales with the document's optional schema-level GRANTs."""
    snapshot = without_grants(snapshot, lambda g: not (g.principal == DG and g.securable_name == "crm"))
    snapshot = change(
        snapshot,
        securables=(*snapshot.securables, Securable(type=SecurableType.SCHEMA, full_name="crm.sales")),
    )
    snapshot = plus_grants(
        snapshot, f"GRANT USAGE ON CATALOG `crm` TO `{DG}`;GRANT USAGE, SELECT ON SCHEMA crm.sales TO `{DG}`;"
    )
    return with_params(snapshot, "data-graph", read_scopes={"crm": {"scope": "schema", "schemas": ["sales"]}})


def ps_documented_list_without(privilege: str) -> Mutation:
    """Replace ALL PRIVILEGES by the document's explicit catalog-level list, minus one privilege."""
    listed = [
        p for p in ("USE CATALOG", "USE SCHEMA", "MODIFY", "SELECT", "CREATE SCHEMA", "CREATE TABLE") if p != privilege
    ]

    def mutate(snapshot: Snapshot) -> Snapshot:
        snapshot = revoke(snapshot, PS, "ALL PRIVILEGES", "segment_profiles")
        return plus_grants(snapshot, f"GRANT {', '.join(listed)} ON CATALOG segment_profiles TO `{PS}`;")

    return mutate


def location_on_credential(credential: str) -> Mutation:
    return lambda s: change(
        s,
        external_locations=tuple(x.model_copy(update={"credential_name": credential}) for x in s.external_locations),
    )


EXPIRED = NOW - timedelta(days=1)
SOON = NOW + timedelta(days=5)
RETL_SCHEMA = "SEGMENT_LINKED_PROFILES_DB.__segment_reverse_etl"
AWS_TRUST_WITHOUT_SEGMENT = (TrustPolicy(role_arn=ROLE_ARN, document=trust_document((ACCOUNT_ID,))),)
USER_TRAITS = "segment_profiles.profiles.user_traits"
WARN = Status.WARN

CASES: tuple[RuleCase, ...] = (
    # reverse-etl-source.md
    RuleCase("RETL-1", acl_level(RETL, "CAN_VIEW"), "has only CAN_VIEW", (F.WAREHOUSE_ACLS, WAREHOUSE)),
    RuleCase("RETL-2", revoked(RETL, "USAGE", "main.analytics"), "lacks USAGE", (F.GRANTS, "SCHEMA:main.analytics")),
    RuleCase(
        "RETL-3",
        revoked(RETL, "READ_METADATA", "main.analytics"),
        "lacks READ_METADATA",
        (F.GRANTS, "CATALOG:main"),
    ),  # an ancestor's grants are needed too
    RuleCase(
        "RETL-4",
        revoked(RETL, "CREATE", "main"),
        "none of the alternatives holds",
        (F.GRANTS, "CATALOG:main"),
    ),
    RuleCase("RETL-5", warehouse(state="DELETED"), "is DELETED", (F.WAREHOUSES, WAREHOUSE)),
    RuleCase("RETL-6", token_expiring(RETL, EXPIRED), "has expired", (F.TOKENS, "*")),
    # data-graph.md
    RuleCase("DG-1", acl_level(DG, None), "lacks Can Use", (F.WAREHOUSES, WAREHOUSE)),
    RuleCase(
        "DG-2",
        revoked(DG, "CREATE", "SEGMENT_LINKED_PROFILES_DB"),
        "lacks CREATE",
        (F.SECURABLES, "CATALOG:SEGMENT_LINKED_PROFILES_DB"),
    ),
    RuleCase(
        "DG-3",
        revoked(DG, "USE SCHEMA", "segment_profiles"),
        "lacks USE SCHEMA",
        (F.GRANTS, "CATALOG:segment_profiles"),
    ),
    RuleCase("DG-4", revoked(DG, "SELECT", "crm"), "lacks SELECT", (F.GRANTS, "CATALOG:crm")),
    RuleCase(
        "DG-5",
        revoked(DG, "SELECT", "crm.sales"),
        "lacks SELECT on SCHEMA crm.sales",
        (F.GRANTS, "SCHEMA:crm.sales"),
        setup=crm_schema_scope,
    ),
    RuleCase(
        "DG-6",
        granted(f"GRANT MODIFY ON SCHEMA segment_profiles.profiles TO `{DG}`;"),
        "MODIFY on SCHEMA segment_profiles.profiles",
        (F.GRANTS, "watch:segment_profiles"),
    ),
    RuleCase(
        "DG-6B",
        granted(f"GRANT ALL PRIVILEGES ON CATALOG crm TO `{DG}`;"),
        "ALL_PRIVILEGES on CATALOG crm",
        (F.PRINCIPALS, DG),
    ),  # its groups could hold a write privilege
    RuleCase(
        "DG-7",
        revoked(DG, "ALL PRIVILEGES", RETL_SCHEMA),
        "lacks ALL PRIVILEGES",
        (F.SECURABLES, f"SCHEMA:{RETL_SCHEMA}"),
    ),
    RuleCase("DG-8", principal(DG, active=False), "is deactivated", (F.PRINCIPALS, DG)),
    RuleCase("DG-9", secret_expiring(DG, EXPIRED), "has expired", (F.OAUTH_SECRETS, DG)),
    # delta-lake-destination.md
    RuleCase("DL-1", facts(metastore=None), "no Unity Catalog metastore", (F.METASTORE, "*")),
    RuleCase(
        "DL-2",
        securable("segment_events", catalog_type="FOREIGN_CATALOG"),
        "not a Unity Catalog managed catalog",
        (F.SECURABLES, "CATALOG:segment_events"),
    ),
    RuleCase(
        "DL-3",
        revoked(DL, "ALL PRIVILEGES", "segment_events"),
        "lacks ALL PRIVILEGES",
        (F.GRANTS, "CATALOG:segment_events"),
    ),
    RuleCase("DL-4", without_secret(DL), "has no active OAuth secret", (F.OAUTH_SECRETS, DL)),
    RuleCase("DL-4B", lambda s: without_principal(s, DL), "does not exist", (F.PRINCIPALS, DL)),
    RuleCase("DL-5", acl_level(DL, "CAN_MONITOR"), "has only CAN_MONITOR", (F.WAREHOUSE_ACLS, WAREHOUSE)),
    RuleCase(
        "DL-6",
        warehouse(cluster_size="Large"),
        "size Large, recommended Small",
        (F.WAREHOUSES, WAREHOUSE),
        expect=WARN,
    ),
    RuleCase("DL-7", warehouse(state="STOPPED"), "is STOPPED", (F.WAREHOUSES, "*"), expect=WARN),
    # profiles-sync.md
    RuleCase(
        "PS-1",
        lambda s: with_params(s, "profiles-sync", catalog="hive_metastore"),
        "is hive_metastore",
        (F.METASTORE, "*"),
    ),
    RuleCase("PS-2", ps_documented_list_without("MODIFY"), "lacks MODIFY", (F.GRANTS, "CATALOG:segment_profiles")),
    RuleCase(
        "PS-3",
        principal("segment-integrations", entitlements=()),  # the group of PS's group
        "lacks entitlement(s) databricks-sql-access",
        (F.ENTITLEMENTS, PS),
    ),
    RuleCase("PS-4", acl_level(PS, None), "lacks Can Use", (F.WAREHOUSE_ACLS, WAREHOUSE)),
    RuleCase("PS-5", secret_expiring(PS, EXPIRED), "has expired", (F.OAUTH_SECRETS, PS)),
    RuleCase(
        "PS-6",
        warehouse(enable_serverless_compute=False, warehouse_type="CLASSIC"),
        "type classic",
        (F.WAREHOUSES, WAREHOUSE),
        expect=WARN,
    ),
    RuleCase(
        "PS-7",
        securable("segment_profiles", storage_location=None),
        "no storage location",
        (F.SECURABLES, "CATALOG:segment_profiles"),
    ),
    RuleCase(
        "PS-8",
        lambda s: without_securable(s, USER_TRAITS),
        "does not exist",
        (F.SECURABLES, f"TABLE:{USER_TRAITS}"),
        expect=WARN,
    ),
    # delta-lake-destination-aws.md
    RuleCase("AWS-1", facts(metastore=None), "no Unity Catalog metastore", (F.METASTORE, "*")),
    RuleCase("AWS-2", principal(AWS, active=False), "is deactivated", (F.PRINCIPALS, AWS)),
    RuleCase(
        "AWS-3",
        principal(AWS, entitlements=("workspace-access", "databricks-sql-access")),
        "lacks entitlement(s) allow-cluster-create",
        (F.ENTITLEMENTS, AWS),
    ),
    RuleCase("AWS-4", facts(storage_credentials=()), "does not exist", (F.STORAGE_CREDENTIALS, "segment-lake-cred")),
    RuleCase(
        "AWS-4B",
        revoked(AWS, "WRITE FILES", "segment-lake-cred"),
        "lacks WRITE FILES",
        (F.GRANTS, "STORAGE_CREDENTIAL:segment-lake-cred"),
    ),
    RuleCase(
        "AWS-5",
        location_on_credential("another-cred"),
        "uses credential another-cred",
        (F.EXTERNAL_LOCATIONS, "segment-lake-location"),
    ),
    RuleCase(
        "AWS-5B",
        revoked(AWS, "READ FILES", "segment-lake-location"),
        "lacks READ FILES",
        (F.GRANTS, "EXTERNAL_LOCATION:segment-lake-location"),
    ),
    RuleCase("AWS-6", facts(trust_policies=AWS_TRUST_WITHOUT_SEGMENT), "Wk5pQxR2aB", (F.TRUST_POLICIES, ROLE_ARN)),
    RuleCase(
        "AWS-7",
        facts(workspace_conf={"enableTokensConfig": "false"}),
        "enableTokensConfig is false",
        (F.WORKSPACE_CONF, "*"),
    ),
    RuleCase(
        "AWS-8",
        lambda s: change(s, token_permissions=tuple(e for e in s.token_permissions if e.principal != AWS)),
        "lacks CAN_USE on token usage",
        (F.TOKEN_PERMISSIONS, "*"),
    ),
    RuleCase("AWS-9", token_expiring(AWS, SOON), "expires in 5.0 days", (F.TOKENS, "*"), expect=WARN),
    RuleCase(
        "AWS-10",
        securable("segment_lake", storage_location="s3://elsewhere/lake"),
        "is not on external location segment-lake-location",
        (F.SECURABLES, "CATALOG:segment_lake"),
    ),
    RuleCase(
        "AWS-10B",
        revoked(AWS, "ALL PRIVILEGES", "segment_lake"),
        "lacks ALL PRIVILEGES",
        (F.GRANTS, "CATALOG:segment_lake"),
    ),
    RuleCase("AWS-11", without_secret(AWS), "has no active OAuth secret", (F.OAUTH_SECRETS, AWS), setup=aws_oauth),
    # requirements.md, beyond the documents
    RuleCase(
        "X-1",
        granted(f"GRANT ALL PRIVILEGES ON CATALOG main TO `{DL}`;"),
        "ALL PRIVILEGES on CATALOG main",
        (F.GRANTS, "*"),
    ),
    RuleCase(
        "X-2",
        granted("GRANT SELECT ON SCHEMA segment_events.raw TO `outsider@example.com`;"),
        "outsider@example.com: SELECT on SCHEMA segment_events.raw",
        (F.GRANTS, "watch:segment_events"),
    ),
    RuleCase(
        "X-3",
        lambda s: unread(s, F.GRANTS, "watch:crm", ReadState.NOT_VISIBLE),
        f"not visible to {AUDITOR}",
        (F.IDENTITY, "*"),
    ),
)
CASE_IDS = [case.rule_id for case in CASES]


def test_every_rule_has_a_case() -> None:
    rule_ids = [rule.id for pack in PACKS for rule in pack.spec.rules]
    assert len(CASE_IDS) == len(set(CASE_IDS)), "one case per rule"
    assert sorted(CASE_IDS) == sorted(rule_ids)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_documented_workspace_passes(case: RuleCase) -> None:
    result = findings(case.setup(healthy()), case.rule_id)
    assert result and all(f.subject for f in result), "a real check ran (not 'nothing to check')"
    assert [f.status for f in result] == [Status.PASS] * len(result), [f.message for f in result]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_minimal_mutation_is_caught(case: RuleCase) -> None:
    result = findings(case.fail(case.setup(healthy())), case.rule_id)
    caught = [f for f in result if f.status is case.expect]
    assert caught, [(f.status, f.message) for f in result]
    assert {f.status for f in result} <= {case.expect, Status.PASS}
    assert any(case.says in f.message for f in caught), [f.message for f in caught]
    assert all(f.remediation.summary for f in caught), "a caught finding proposes a fix"


@pytest.mark.parametrize("state", [ReadState.FAILED, ReadState.NOT_VISIBLE])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_unread_fact_gives_error(case: RuleCase, state: ReadState) -> None:
    family, scope = case.unread
    snapshot = unread(case.setup(healthy()), family, scope, state, reason="PERMISSION_DENIED")
    result = findings(snapshot, case.rule_id)
    statuses = {f.status for f in result}
    assert Status.ERROR in statuses, [(f.status, f.message) for f in result]
    assert statuses <= {Status.ERROR, Status.PASS}, [(f.status, f.message) for f in result]
    errors = [f for f in result if f.status is Status.ERROR]
    assert all(f.remediation.empty for f in errors), "no fix is proposed for what could not be read"
    if state is ReadState.NOT_VISIBLE:
        assert all(f"not visible to {AUDITOR}" in f.message for f in errors), [f.message for f in errors]


# ---- the legacy hive_metastore setup of the Reverse ETL document -------------------------------------------

LEGACY_SQL = {
    "RETL-2": f"GRANT USAGE ON SCHEMA hive_metastore.marketing TO `{RETL}`;",
    "RETL-3": f"GRANT SELECT, READ_METADATA ON SCHEMA hive_metastore.marketing TO `{RETL}`;",
    "RETL-4": f"GRANT CREATE on catalog hive_metastore TO `{RETL}`;",
}


def legacy(*rule_ids_granted: str) -> Snapshot:
    """Reverse ETL on hive_metastore, with only the document's statements for the given rules run."""
    snapshot = with_params(
        healthy(), "reverse-etl-source", catalog="hive_metastore", model_schemas=["hive_metastore.marketing"]
    )
    snapshot = without_grants(snapshot, lambda g: g.principal != RETL)
    snapshot = change(
        snapshot,
        securables=(
            *snapshot.securables,
            Securable(type=SecurableType.SCHEMA, full_name="hive_metastore.marketing", owner="admins"),
        ),
    )
    return plus_grants(snapshot, "\n".join(LEGACY_SQL[r] for r in rule_ids_granted))


def test_legacy_hive_metastore_grants_pass() -> None:
    report = evaluate(legacy(*LEGACY_SQL), PACKS, now=NOW)
    retl = [f for f in report.findings if f.pack == "reverse-etl-source"]
    assert {f.rule_id: f.status for f in retl} == {f"RETL-{i}": Status.PASS for i in range(1, 7)}
    evidence = " ".join(e for f in retl for e in f.evidence)
    assert "READ_METADATA on SCHEMA hive_metastore.marketing directly" in evidence
    assert "legacy privilege name" not in evidence, "USAGE / READ_METADATA / CREATE are hive's own names"
    x1 = [f for f in report.findings if f.rule_id == "X-1" and RETL in f.subject]
    assert [f.status for f in x1] == [Status.PASS], "the legacy grants are exactly what the pack needs"


@pytest.mark.parametrize("missing", sorted(LEGACY_SQL))
def test_legacy_hive_metastore_fails_without_each_statement(missing: str) -> None:
    report = evaluate(legacy(*(r for r in LEGACY_SQL if r != missing)), PACKS, now=NOW)
    failing = {f.rule_id for f in report.findings if f.status is Status.FAIL and f.integration == "reverse-etl-source"}
    assert failing == {missing}


def test_unity_catalog_flags_the_documents_legacy_names() -> None:
    (finding,) = findings(healthy(), "RETL-2")
    assert finding.evidence == (
        "USE SCHEMA on SCHEMA main.analytics directly, granted as USAGE "
        "(legacy privilege name: prefer the Unity Catalog name)",
    )


# ---- alternatives, scopes and credentials the table does not reach ---------------------------------------


def test_reverse_etl_schema_created_by_hand_replaces_create_on_the_catalog() -> None:
    snapshot = revoke(healthy(), RETL, "CREATE", "main")
    snapshot = change(
        snapshot,
        securables=(
            *snapshot.securables,
            Securable(type=SecurableType.SCHEMA, full_name="main.__segment_reverse_etl", owner="admins"),
        ),
    )
    snapshot = granted(f"GRANT ALL PRIVILEGES ON SCHEMA main.__segment_reverse_etl TO `{RETL}`;")(snapshot)
    (finding,) = findings(snapshot, "RETL-4")
    assert finding.status is Status.PASS and finding.subject == "SCHEMA:main.__segment_reverse_etl"


@pytest.mark.parametrize(
    ("expiry", "cap", "expected"),
    [
        (None, None, Status.PASS),  # the document's advice: no expiry
        (None, 90, Status.WARN),  # a security team's cap makes a never-expiring token a finding
        (NOW + timedelta(days=60), 90, Status.PASS),
        (NOW + timedelta(days=365), 90, Status.WARN),  # outlives the cap
        (NOW + timedelta(days=29), None, Status.WARN),  # inside token_warn_days (30)
        (NOW, None, Status.FAIL),
    ],
)
def test_reverse_etl_token_expiry_and_lifetime_cap(expiry: object, cap: int | None, expected: Status) -> None:
    snapshot = with_token_expiry(healthy(), RETL, expiry)  # type: ignore[arg-type]
    if cap is not None:
        snapshot = with_params(snapshot, "reverse-etl-source", token_max_lifetime_days=cap)
    assert [f.status for f in findings(snapshot, "RETL-6")] == [expected]


def test_a_replacement_token_respects_the_lifetime_cap() -> None:
    snapshot = with_params(healthy(), "reverse-etl-source", token_max_lifetime_days=30)
    (finding,) = findings(snapshot, "RETL-6")
    assert finding.status is Status.WARN and "never expires: tok-retl" in finding.message
    assert finding.remediation.commands and all("2592000" in c for c in finding.remediation.commands)


def test_owner_of_the_storage_credential_needs_no_grant() -> None:
    snapshot = without_grants(healthy(), lambda g: g.securable_name != "segment-lake-cred")
    assert [f.status for f in findings(snapshot, "AWS-4B")] == [Status.FAIL]
    snapshot = change(
        snapshot,
        storage_credentials=tuple(c.model_copy(update={"owner": AWS}) for c in snapshot.storage_credentials),
    )
    (finding,) = findings(snapshot, "AWS-4B")
    assert finding.status is Status.PASS and finding.evidence[0].endswith("directly, as owner")


def test_data_graph_table_scope() -> None:
    snapshot = without_grants(healthy(), lambda g: not (g.principal == DG and g.securable_name == "crm"))
    schema, table = SecurableType.SCHEMA, SecurableType.TABLE
    snapshot = change(
        snapshot,
        securables=(
            *snapshot.securables,
            Securable(type=schema, full_name="crm.sales"),
            Securable(type=table, full_name="crm.sales.accounts"),
        ),
    )
    snapshot = plus_grants(
        snapshot,
        f"GRANT USAGE ON CATALOG `crm` TO `{DG}`;"
        f"GRANT USAGE ON SCHEMA crm.sales TO `{DG}`;"
        f"GRANT SELECT ON TABLE crm.sales.accounts TO `{DG}`;",
    )
    snapshot = with_params(
        snapshot, "data-graph", read_scopes={"crm": {"scope": "table", "tables": ["sales.accounts"]}}
    )
    assert [f.status for f in findings(snapshot, "DG-5")] == [Status.PASS]
    (finding,) = findings(revoke(snapshot, DG, "SELECT", "crm.sales.accounts"), "DG-5")
    assert finding.status is Status.FAIL
    assert finding.remediation.grant_sql == (f"GRANT SELECT ON TABLE `crm`.`sales`.`accounts` TO `{DG}`;",)


def test_read_access_through_a_nested_group() -> None:
    snapshot = revoke(healthy(), DG, "SELECT", "crm")
    snapshot = plus_grants(snapshot, "GRANT SELECT ON CATALOG crm TO `segment-integrations`;")
    (finding,) = findings(snapshot, "DG-4")
    assert finding.status is Status.PASS
    assert "SELECT on CATALOG crm via group segment-readers \u2282 segment-integrations" in finding.evidence


# ---- group memberships: unknown is never proof of absence ------------------------------------------------


def test_warehouse_level_too_low_with_unknown_groups_is_an_error() -> None:
    snapshot = unread(with_acl_level(healthy(), DG, "CAN_VIEW"), F.PRINCIPALS, DG)
    (finding,) = findings(snapshot, "DG-1")
    assert finding.status is Status.ERROR


def test_warehouse_level_from_a_group_beats_a_weaker_direct_one() -> None:
    snapshot = with_acl_level(healthy(), DG, "CAN_VIEW")
    acl = (
        *snapshot.warehouses[0].acl,
        snapshot.warehouses[0]
        .acl[-1]
        .model_copy(update={"principal": "segment-readers", "permission_level": "CAN_USE"}),
    )
    (finding,) = findings(with_warehouse(snapshot, acl=acl), "DG-1")
    assert finding.status is Status.PASS and finding.evidence == ("CAN_USE via group segment-readers",)


def test_entitlement_of_a_group_that_was_not_read_is_unknown() -> None:
    snapshot = with_principal(healthy(), "segment-integrations", entitlements=())
    snapshot = unread(snapshot, F.ENTITLEMENTS, "segment-integrations", ReadState.NOT_VISIBLE)
    (finding,) = findings(snapshot, "PS-3")
    assert finding.status is Status.ERROR and f"not visible to {AUDITOR}" in finding.message
    (finding,) = findings(snapshot, "AWS-3")
    assert finding.status is Status.PASS, "held directly: the group's entitlements do not matter"


def test_write_privilege_through_a_group_breaks_read_only() -> None:
    snapshot = plus_grants(healthy(), "GRANT CREATE TABLE ON CATALOG crm TO `segment-integrations`;")
    (finding,) = findings(snapshot, "DG-6B")
    assert finding.status is Status.FAIL and "(to segment-integrations)" in finding.message


def test_admin_group_membership_is_excess() -> None:
    snapshot = change(
        healthy(),
        memberships=(*healthy().memberships, healthy().memberships[0].model_copy(update={"member": PS})),
    )
    result = {f.subject: f for f in findings(snapshot, "X-1")}
    assert result[f"principal:{PS}"].status is Status.FAIL
    assert "member of admin group admins" in result[f"principal:{PS}"].message
    assert result[f"principal:{DG}"].status is Status.PASS


@pytest.mark.parametrize(
    ("sql", "excess"),
    [
        (
            f"GRANT USE CATALOG ON CATALOG segment_events TO `{DL}`;",
            False,
        ),  # redundant with ALL PRIVILEGES there
        (
            f"GRANT MANAGE ON CATALOG segment_events TO `{DL}`;",
            True,
        ),  # ALL PRIVILEGES does not include MANAGE
        (f"GRANT SELECT ON CATALOG main TO `{DL}`;", True),
        (
            f"GRANT USE SCHEMA ON SCHEMA main.analytics TO `{RETL}`;",
            False,
        ),  # the UC name of the documented USAGE
    ],
)
def test_excess_is_judged_by_meaning_not_spelling(sql: str, excess: bool) -> None:
    snapshot = plus_grants(healthy(), sql)
    statuses = {f.status for f in findings(snapshot, "X-1")}
    assert statuses == ({Status.FAIL, Status.PASS} if excess else {Status.PASS})


def test_warehouse_management_is_excess() -> None:
    (finding,) = [f for f in findings(with_acl_level(healthy(), DL, "CAN_MANAGE"), "X-1") if DL in f.subject]
    assert finding.status is Status.FAIL and "CAN_MANAGE on warehouse segment-warehouse" in finding.message


@pytest.mark.parametrize("family", [F.PRINCIPALS, F.WAREHOUSE_ACLS])
def test_excess_check_needs_memberships_and_warehouse_acls(family: FactFamily) -> None:
    result = findings(unread(healthy(), family), "X-1")
    assert result and {f.status for f in result} == {Status.ERROR}


def test_exposure_ignores_owners_and_configured_principals() -> None:
    snapshot = with_securable(healthy(), "segment_events", owner="data-platform")
    snapshot = plus_grants(
        snapshot,
        f"GRANT SELECT ON CATALOG segment_events TO `{DG}`;GRANT SELECT ON CATALOG segment_events TO `data-platform`;",
    )
    assert {f.status for f in findings(snapshot, "X-2")} == {Status.PASS}
