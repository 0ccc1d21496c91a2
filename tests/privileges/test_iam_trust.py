"""Table-driven cases for the trust-policy evaluator (reference aws-iam-trust.md §10), plus boto3 + moto."""

from __future__ import annotations

import copy
import json
import logging
import shlex
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from auditor.privileges.iam_policy import PolicyDecodeError, decode_policy
from auditor.privileges.iam_trust import (
    SEGMENT_ROLE_ARN,
    RequiredTrust,
    TrustVerdict,
    evaluate_trust,
    required_pairs,
)
from auditor.remediate.trust import corrected_policy, update_command

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/uc-storage-role"
UC = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
SEG = SEGMENT_ROLE_ARN
DBX = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
WS = "Ab3xYz9QwErT"
REQUIRED = required_pairs(ROLE, UC, DBX, SEG, WS)

GOV_ROLE = f"arn:aws-us-gov:iam::{ACCOUNT}:role/uc-storage-role"
GOV_UC = "arn:aws-us-gov:iam::044793339203:role/unity-catalog-prod-UCMasterRole-1QRFA8SGY15OJ"
GOV_PEER = "arn:aws-us-gov:iam::595280932656:role/segment-storage-destinations-production-access"

Policy = dict[str, Any]


def allow(
    principals: Any = (UC, ROLE, SEG),
    condition: Any = None,
    action: Any = "sts:AssumeRole",
    **extra: Any,
) -> dict[str, Any]:
    """An Allow statement; ``principals`` a tuple means Principal.AWS, anything else is used verbatim."""
    statement: dict[str, Any] = {"Effect": "Allow"}
    statement["Principal"] = {"AWS": list(principals)} if isinstance(principals, tuple) else principals
    statement["Action"] = action
    statement["Condition"] = {"StringEquals": {"sts:ExternalId": [DBX, WS]}} if condition is None else condition
    if not statement["Condition"]:
        del statement["Condition"]
    statement.update(extra)
    return statement


def deny(principal: Any = "*", action: Any = "sts:AssumeRole", condition: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Deny", "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


def policy(*statements: dict[str, Any]) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statements)}


CANONICAL = policy(allow())
SELF_TRUST_TERRAFORM = {
    "Sid": "ExplicitSelfRoleAssumption",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "sts:AssumeRole",
    "Condition": {"ArnLike": {"aws:PrincipalArn": ROLE}, "StringEquals": {"sts:ExternalId": DBX}},
}


def external_id(*values: Any, operator: str = "StringEquals", key: str = "sts:ExternalId") -> dict[str, Any]:
    return {operator: {key: list(values) if len(values) != 1 else values[0]}}


def with_extra_condition(extra: dict[str, Any]) -> Policy:
    return policy(allow(condition={**external_id(DBX, WS), **extra}))


@dataclass(frozen=True)
class Case:
    name: str
    document: Any
    status: str
    codes: frozenset[str] = frozenset()  # must all be present
    required: tuple[RequiredTrust, ...] = REQUIRED
    role: str = ROLE


def case(name: str, document: Any, status: str, *codes: str, **kw: Any) -> Case:
    return Case(name, document, status, frozenset(codes), **kw)


CASES = [
    # ----- the shapes that pass
    case("canonical policy", CANONICAL, "pass"),
    case("Statement as an object", {"Version": "2012-10-17", "Statement": allow()}, "pass"),
    case(
        "per-principal split",
        policy(allow((UC, ROLE), external_id(DBX)), allow((SEG,), external_id(WS))),
        "pass",
    ),
    case(
        "scalars instead of lists",
        policy(
            allow((UC,), external_id(DBX)),
            allow((ROLE,), external_id(DBX)),
            allow({"AWS": SEG}, external_id(WS)),
        ),
        "pass",
    ),
    case("duplicate principals and ids", policy(allow((UC, ROLE, SEG, SEG), external_id(DBX, WS, DBX))), "pass"),
    case(
        "sts:TagSession alongside AssumeRole",
        policy(allow(action=["sts:AssumeRole", "sts:TagSession"])),
        "pass",
    ),
    case("action name case-insensitive", policy(allow(action="STS:assumerole")), "pass"),
    case(
        "condition key case-insensitive",
        policy(allow(condition=external_id(DBX, WS, key="STS:externalid"))),
        "pass",
    ),
    case(
        "StringLike with literal values",
        policy(allow(condition=external_id(DBX, WS, operator="StringLike"))),
        "pass",
    ),
    case(
        "Null false on the external id (boolean compared as string)",
        with_extra_condition({"Null": {"sts:ExternalId": False}}),
        "pass",
    ),
    case(
        "BoolIfExists MFA is true when the key is absent",
        with_extra_condition({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}),
        "pass",
    ),
    case("self-trust through the terraform pattern", policy(allow((UC, SEG)), SELF_TRUST_TERRAFORM), "pass"),
    case(
        "Principal * pinned by aws:PrincipalArn",
        policy(allow("*", {**external_id(DBX, WS), "ArnEquals": {"aws:PrincipalArn": [UC, ROLE, SEG]}})),
        "pass",
    ),
    case(
        "hardening Deny listing every required id",
        policy(allow(), deny(condition=external_id(DBX, WS, operator="StringNotEquals"))),
        "pass",
    ),
    case("Deny on another action", policy(allow(), deny(action="s3:*")), "pass"),
    case(
        "unrelated harmless Allow of sts:TagSession only",
        policy(allow(), allow("*", {}, "sts:TagSession")),
        "pass",
    ),
    case("JSON string document", json.dumps(CANONICAL), "pass"),
    case("URL-encoded JSON string", urllib.parse.quote(json.dumps(CANONICAL)), "pass"),
    case(
        "numbers compared as strings",
        policy(allow(condition=external_id(DBX, 1234567890))),
        "pass",
        required=required_pairs(ROLE, UC, DBX, SEG, "1234567890"),
    ),
    case(
        "role with a path",
        policy(allow((UC, f"arn:aws:iam::{ACCOUNT}:role/service/uc", SEG))),
        "pass",
        required=required_pairs(f"arn:aws:iam::{ACCOUNT}:role/service/uc", UC, DBX, SEG, WS),
        role=f"arn:aws:iam::{ACCOUNT}:role/service/uc",
    ),
    case(
        "GovCloud, every principal in the role's partition",
        policy(allow((GOV_UC, GOV_ROLE, GOV_PEER))),
        "pass",
        required=required_pairs(GOV_ROLE, GOV_UC, DBX, GOV_PEER, WS),
        role=GOV_ROLE,
    ),
    # ----- works, but broader than needed or lint-worthy
    case(
        "Segment role replaced by its account root",
        policy(allow((UC, ROLE, "arn:aws:iam::595280932656:root"))),
        "warn",
        "account-wide-trust",
    ),
    case(
        "Segment role replaced by the bare account id",
        policy(allow((UC, ROLE, "595280932656"))),
        "warn",
        "account-wide-trust",
    ),
    case(
        "own account root without aws:PrincipalArn",
        policy(allow((UC, f"arn:aws:iam::{ACCOUNT}:root", SEG))),
        "warn",
        "account-wide-trust",
    ),
    case(
        "own account root pinned by a wildcard ArnLike",
        policy(
            allow((UC, SEG)),
            {
                **SELF_TRUST_TERRAFORM,
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"},
                    "StringEquals": {"sts:ExternalId": DBX},
                },
            },
        ),
        "warn",
        "account-wide-trust",
    ),
    case("Action sts:*", policy(allow(action="sts:*")), "warn", "broad-action"),
    case("Action *", policy(allow(action="*")), "warn", "broad-action"),
    case(
        "NotAction still covering AssumeRole",
        policy({**allow(), "NotAction": "iam:*", "Action": None}),
        "warn",
        "broad-action",
    ),
    case(
        "StringEqualsIgnoreCase with the exact ids",
        policy(allow(condition=external_id(DBX, WS, operator="StringEqualsIgnoreCase"))),
        "warn",
        "external-id-case-insensitive",
    ),
    case(
        "workspace id in the wrong case under StringEqualsIgnoreCase",
        policy(allow(condition=external_id(DBX, WS.lower(), operator="StringEqualsIgnoreCase"))),
        "warn",
        "external-id-case-insensitive",
    ),
    case(
        "ForAnyValue:StringEquals",
        policy(allow(condition=external_id(DBX, WS, operator="ForAnyValue:StringEquals"))),
        "warn",
        "external-id-set-operator",
    ),
    case(
        "aws:SourceIp cannot be verified",
        with_extra_condition({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        "warn",
        "pair-unverifiable-condition",
    ),
    case(
        "aws:PrincipalOrgID cannot be verified",
        with_extra_condition({"StringEquals": {"sts:ExternalId": [DBX, WS], "aws:PrincipalOrgID": "o-abc123"}}),
        "warn",
        "pair-unverifiable-condition",
    ),
    case(
        "Deny depending on aws:SourceIp",
        policy(allow(), deny(condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        "warn",
        "pair-maybe-denied",
    ),
    case(
        "extra statement without Principal grants nothing",
        policy(allow(), {"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "warn",
        "missing-principal",
    ),
    case(
        "principal from another partition never matches (kept as a lint)",
        policy(allow((GOV_UC, UC, ROLE, SEG))),
        "warn",
        "foreign-partition-principal",
    ),
    case(
        "external id STS refuses",
        policy(allow(condition=external_id(DBX, "my workspace"))),
        "warn",
        "external-id-format",
        required=required_pairs(ROLE, UC, DBX, SEG, "my workspace"),
    ),
    # ----- fail
    case("Principal * guarded only by the external id", policy(allow("*")), "fail", "anyone-trusted"),
    case(
        "Principal AWS * guarded only by the external id",
        policy(allow({"AWS": "*"})),
        "fail",
        "anyone-trusted",
    ),
    case(
        "Principal * pinned to an extra unrelated role",
        policy(
            allow(
                "*",
                {
                    **external_id(DBX, WS),
                    "ArnEquals": {"aws:PrincipalArn": [UC, ROLE, SEG, "arn:aws:iam::111122223333:role/x"]},
                },
            )
        ),
        "fail",
        "unrelated-principal",
    ),
    case(
        "workspace id in the wrong case under StringEquals",
        policy(allow(condition=external_id(DBX, WS.lower()))),
        "fail",
        "pair-not-allowed",
        "external-id-wrong-case",
    ),
    case("Segment workspace id missing", policy(allow(condition=external_id(DBX))), "fail", "pair-not-allowed"),
    case(
        "StringEqualsIfExists on the external id",
        policy(allow(condition=external_id(DBX, WS, operator="StringEqualsIfExists"))),
        "fail",
        "assumable-without-external-id",
    ),
    case(
        "ForAllValues:StringEquals on the external id",
        policy(allow(condition=external_id(DBX, WS, operator="ForAllValues:StringEquals"))),
        "fail",
        "assumable-without-external-id",
        "external-id-set-operator",
    ),
    case(
        "StringLike *",
        policy(allow(condition=external_id("*", operator="StringLike"))),
        "fail",
        "wrong-external-id-accepted",
    ),
    case(
        "StringLike prefix wildcard",
        policy(allow(condition=external_id(DBX, "Ab3x*", operator="StringLike"))),
        "fail",
        "wrong-external-id-accepted",
    ),
    case(
        "StringNotEquals as the Allow condition",
        policy(allow(condition=external_id("something-else", operator="StringNotEquals"))),
        "fail",
        "assumable-without-external-id",
        "wrong-external-id-accepted",
    ),
    case("no Condition at all", policy(allow(condition={})), "fail", "assumable-without-external-id"),
    case(
        "self pair without external id check",
        policy(allow((UC, SEG)), allow((ROLE,), {})),
        "fail",
        "assumable-without-external-id",
    ),
    case("explicit Deny of the Segment pair", policy(allow(), deny({"AWS": SEG})), "fail", "pair-denied"),
    case(
        "explicit Deny with a case-mangled action",
        policy(allow(), deny({"AWS": SEG}, "STS:ASSUMEROLE")),
        "fail",
        "pair-denied",
    ),
    case("Deny through the account root", policy(allow(), deny({"AWS": "595280932656"})), "fail", "pair-denied"),
    case("Deny wins regardless of order", policy(deny({"AWS": UC}), allow()), "fail", "pair-denied"),
    case(
        "hardening Deny listing only some ids",
        policy(allow(), deny(condition=external_id(DBX, operator="StringNotEquals"))),
        "fail",
        "pair-denied",
    ),
    case(
        "NotPrincipal anywhere",
        policy(allow(), {"Effect": "Deny", "NotPrincipal": {"AWS": SEG}, "Action": "sts:AssumeRole"}),
        "fail",
        "not-principal",
    ),
    case(
        "NotAction excluding AssumeRole",
        policy({**allow(), "NotAction": "sts:AssumeRole", "Action": None}),
        "fail",
        "pair-not-allowed",
    ),
    case(
        "only AssumeRoleWithWebIdentity",
        policy(allow(action="sts:AssumeRoleWithWebIdentity")),
        "fail",
        "pair-not-allowed",
    ),
    case("only sts:TagSession", policy(allow(action="sts:TagSession")), "fail", "pair-not-allowed"),
    case("Effect in the wrong case", policy({**allow(), "Effect": "allow"}), "fail", "unsupported-effect"),
    case("unknown Effect", policy(allow(), {**allow(), "Effect": "Audit"}), "fail", "unsupported-effect"),
    case(
        "unknown condition operator",
        policy(allow(condition=external_id(DBX, WS, operator="StringEqualz"))),
        "fail",
        "unsupported-operator",
    ),
    case(
        "operator in non-canonical case",
        policy(allow(condition=external_id(DBX, WS, operator="stringequals"))),
        "fail",
        "unsupported-operator",
    ),
    case(
        "unknown set qualifier",
        policy(allow(condition=external_id(DBX, WS, operator="ForSomeValues:StringEquals"))),
        "fail",
        "unsupported-operator",
    ),
    case(
        "the only statement has no Principal",
        policy({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "fail",
        "pair-not-allowed",
        "missing-principal",
    ),
    case(
        "dangling AROA id instead of Segment's role",
        policy(allow((UC, ROLE, "AROAEXAMPLEID1234567"))),
        "fail",
        "dangling-principal",
        "pair-not-allowed",
    ),
    case(
        "dangling AIDA id as an extra principal",
        policy(allow((UC, ROLE, SEG, "AIDAEXAMPLEID1234567"))),
        "fail",
        "dangling-principal",
    ),
    case(
        "unrelated account trusted",
        policy(allow((UC, ROLE, SEG, "111122223333"))),
        "fail",
        "unrelated-principal",
    ),
    case(
        "unrelated account root trusted",
        policy(allow((UC, ROLE, SEG, "arn:aws:iam::111122223333:root"))),
        "fail",
        "unrelated-principal",
    ),
    case(
        "unrelated role trusted",
        policy(allow((UC, ROLE, SEG, "arn:aws:iam::111122223333:role/other"))),
        "fail",
        "unrelated-principal",
    ),
    case(
        "another role in Segment's account",
        policy(allow((UC, ROLE, SEG, "arn:aws:iam::595280932656:role/other"))),
        "fail",
        "unrelated-principal",
    ),
    case(
        "service principal trusted",
        policy(allow(), allow({"Service": "ec2.amazonaws.com"}, {})),
        "fail",
        "unrelated-principal",
    ),
    case(
        "a session of Segment's role instead of the role",
        policy(
            allow(
                (
                    UC,
                    ROLE,
                    "arn:aws:sts::595280932656:assumed-role/segment-storage-destinations-production-access/s1",
                )
            )
        ),
        "fail",
        "pair-not-allowed",
        "unrelated-principal",
    ),
    case(
        "principal that is not an ARN",
        policy(allow((UC, ROLE, SEG, "not-an-arn"))),
        "fail",
        "unsupported-principal",
    ),
    case(
        "MFA condition locks Segment out",
        with_extra_condition({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        "fail",
        "pair-not-allowed",
    ),
    case("self role missing", policy(allow((UC, SEG))), "fail", "pair-not-allowed"),
    case(
        "GovCloud role: a commercial principal never matches",
        policy(allow((UC, GOV_ROLE, GOV_PEER))),
        "fail",
        "pair-not-allowed",
        "foreign-partition-principal",
        required=required_pairs(GOV_ROLE, GOV_UC, DBX, GOV_PEER, WS),
        role=GOV_ROLE,
    ),
    case(
        "GovCloud role: Segment's commercial role can never be trusted",
        policy(allow((GOV_UC, GOV_ROLE, SEG))),
        "fail",
        "partition-mismatch",
        required=required_pairs(GOV_ROLE, GOV_UC, DBX, SEG, WS),
        role=GOV_ROLE,
    ),
    case(
        "GovCloud role: a bare account id means the role's partition",
        policy(allow((GOV_UC, GOV_ROLE, "595280932656"))),
        "warn",
        "account-wide-trust",
        required=required_pairs(GOV_ROLE, GOV_UC, DBX, GOV_PEER, WS),
        role=GOV_ROLE,
    ),
    # ----- error: never a pass
    case("undecodable string", "%7Bnot%20json", "error", "undecodable-policy"),
    case("None", None, "error", "undecodable-policy"),
    case("JSON list", "[]", "error", "undecodable-policy"),
    case("no Statement", {"Version": "2012-10-17"}, "error", "malformed-policy"),
    case("Statement is a string", {"Statement": "x"}, "error", "malformed-policy"),
    case("statement is a string", policy("x"), "error", "malformed-policy"),  # type: ignore[arg-type]
    case(
        "statement without Effect",
        policy({"Principal": "*", "Action": "sts:AssumeRole"}),
        "error",
        "malformed-policy",
    ),
    case("Action and NotAction", policy({**allow(), "NotAction": "s3:*"}), "error", "malformed-policy"),
    case("Condition is a list", policy(allow(condition=[1])), "error", "malformed-policy"),
    case(
        "condition value is an object",
        policy(allow(condition={"StringEquals": {"sts:ExternalId": {"a": 1}}})),
        "error",
        "malformed-policy",
    ),
    case("Principal is a bare ARN string", policy(allow(SEG)), "error", "malformed-policy"),
    case("invalid role ARN", CANONICAL, "error", "invalid-role-arn", role="uc-storage-role"),
]


def _clean(document: Any) -> Any:
    """Drop the ``"Action": None`` placeholders the NotAction cases use."""
    if isinstance(document, dict) and isinstance(document.get("Statement"), list):
        document = copy.deepcopy(document)
        for statement in document["Statement"]:
            if isinstance(statement, dict) and statement.get("Action", "") is None:
                del statement["Action"]
    return document


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_verdict(c: Case) -> None:
    verdict = evaluate_trust(_clean(c.document), c.required, c.role)
    assert verdict.status == c.status, _explain(verdict)
    assert c.codes <= verdict.codes, _explain(verdict)
    if c.status == "pass":
        assert verdict.problems == ()
        assert len(verdict.evidence) >= len(c.required)


# Excluded: nothing to correct, or required inputs that cannot pass whatever the policy says.
CORRECTABLE = [
    c for c in CASES if c.status in ("warn", "fail") and not c.codes & {"partition-mismatch", "external-id-format"}
]


@pytest.mark.parametrize("c", CORRECTABLE, ids=lambda c: c.name)
def test_corrected_policy_passes(c: Case) -> None:
    fixed = corrected_policy(_clean(c.document), c.required, c.role)
    verdict = evaluate_trust(fixed, c.required, c.role)
    assert verdict.status == "pass", _explain(verdict)


def _explain(verdict: TrustVerdict) -> str:
    return "\n".join(
        [verdict.status, *(f"{p.severity} {p.code} [{p.statement}] {p.message}" for p in verdict.problems)]
    )


# ------------------------------------------------------------------------------------ messages, evidence


PAIR_CODES = {
    "pair-not-allowed",
    "pair-denied",
    "pair-unverifiable-condition",
    "pair-maybe-denied",
    "assumable-without-external-id",
    "wrong-external-id-accepted",
    "external-id-case-insensitive",
    "external-id-wrong-case",
    "partition-mismatch",
}


@pytest.mark.parametrize("c", [c for c in CASES if c.status in ("warn", "fail")], ids=lambda c: c.name)
def test_every_problem_names_its_statement_and_pair(c: Case) -> None:
    verdict = evaluate_trust(_clean(c.document), c.required, c.role)
    for problem in verdict.problems:
        if problem.statement is not None:
            named = (
                f"statement {problem.statement!r}" in problem.message
                or f"statement #{problem.statement}" in problem.message
            )
            assert named, problem
        if problem.code in PAIR_CODES:
            assert any(pair.principal_arn in problem.message for pair in c.required), problem


def test_problem_names_sid_and_failing_pair() -> None:
    document = policy(allow(Sid="SegmentTrust", condition=external_id(DBX, WS.lower())))
    verdict = evaluate_trust(document, REQUIRED, ROLE)
    problem = next(p for p in verdict.problems if p.code == "pair-not-allowed")
    assert problem.statement == "SegmentTrust"
    assert "'SegmentTrust'" in problem.message
    assert SEG in problem.message and repr(WS) in problem.message
    assert "StringEquals sts:ExternalId" in problem.message


def test_problem_names_statement_index_without_sid() -> None:
    verdict = evaluate_trust(policy(allow(), deny({"AWS": SEG})), REQUIRED, ROLE)
    (problem,) = verdict.problems
    assert (problem.code, problem.statement) == ("pair-denied", "1")
    assert "statement #1" in problem.message and SEG in problem.message


def test_mfa_failure_names_the_condition() -> None:
    verdict = evaluate_trust(with_extra_condition({"Bool": {"aws:MultiFactorAuthPresent": "true"}}), REQUIRED, ROLE)
    messages = [p.message for p in verdict.problems if p.code == "pair-not-allowed"]
    assert len(messages) == 3
    assert all("aws:MultiFactorAuthPresent" in m for m in messages)


def test_terraform_self_trust_evidence_mentions_identity_policy() -> None:
    verdict = evaluate_trust(policy(allow((UC, SEG)), SELF_TRUST_TERRAFORM), REQUIRED, ROLE)
    assert verdict.status == "pass"
    assert any("identity policy" in line and "ExplicitSelfRoleAssumption" in line for line in verdict.evidence)


def test_canonical_evidence_lists_every_pair() -> None:
    verdict = evaluate_trust(CANONICAL, REQUIRED, ROLE)
    for pair in REQUIRED:
        assert any(pair.principal_arn in line and "allowed by statement #0" in line for line in verdict.evidence)


def test_decode_policy_forms() -> None:
    assert decode_policy(CANONICAL) is CANONICAL
    assert decode_policy(json.dumps(CANONICAL)) == CANONICAL
    assert decode_policy(urllib.parse.quote(json.dumps(CANONICAL))) == CANONICAL
    for bad in ("%7Bnot%20json", "", "[1]", None, 42):
        with pytest.raises(PolicyDecodeError):
            decode_policy(bad)


def test_required_pairs_follow_the_guide() -> None:
    assert [(p.principal_arn, p.external_id) for p in REQUIRED] == [(UC, DBX), (ROLE, DBX), (SEG, WS)]
    assert [p.label for p in REQUIRED] == ["Unity Catalog master role", "the role itself", "Segment role"]
    with pytest.raises(ValueError, match="databricks_external_id"):
        required_pairs(ROLE, UC, "", SEG, WS)
    with pytest.raises(ValueError):
        evaluate_trust(CANONICAL, (), ROLE)


# -------------------------------------------------------------------------------------- corrected policy


def test_corrected_policy_from_nothing_is_the_guide_statement() -> None:
    fixed = corrected_policy(None, REQUIRED, ROLE)
    (statement,) = fixed["Statement"]
    assert statement["Principal"] == {"AWS": [UC, ROLE, SEG]}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": [DBX, WS]}}
    assert evaluate_trust(fixed, REQUIRED, ROLE).status == "pass"


def test_corrected_policy_extends_the_customers_statement() -> None:
    customer = policy(allow((UC, ROLE), external_id(DBX), Sid="DatabricksTrust"))
    fixed = corrected_policy(customer, REQUIRED, ROLE)
    (statement,) = fixed["Statement"]
    assert statement["Sid"] == "DatabricksTrust"
    assert statement["Principal"]["AWS"] == [UC, ROLE, SEG]
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == [DBX, WS]


def test_corrected_policy_keeps_harmless_and_sound_statements() -> None:
    hardening = deny(condition=external_id(DBX, operator="StringNotEquals"))  # denies Segment: dropped
    other_action = deny(action="s3:*")
    tag_session = allow("*", {}, "sts:TagSession", Sid="Tags")
    customer = policy(
        allow((UC, SEG)),
        SELF_TRUST_TERRAFORM,
        hardening,
        other_action,
        tag_session,
        allow("*"),
        {"Effect": "Allow", "NotPrincipal": {"AWS": SEG}, "Action": "sts:AssumeRole"},
    )
    fixed = corrected_policy(customer, REQUIRED, ROLE)
    assert SELF_TRUST_TERRAFORM in fixed["Statement"]
    assert other_action in fixed["Statement"] and tag_session in fixed["Statement"]
    assert hardening not in fixed["Statement"]
    assert not any(s.get("Principal") == "*" and s.get("Action") == "sts:AssumeRole" for s in fixed["Statement"])
    assert not any("NotPrincipal" in s for s in fixed["Statement"])
    assert evaluate_trust(fixed, REQUIRED, ROLE).status == "pass"


def test_corrected_policy_drops_statements_that_never_work() -> None:
    mfa = allow((SEG,), {**external_id(WS), "Bool": {"aws:MultiFactorAuthPresent": "true"}}, Sid="Mfa")
    fixed = corrected_policy(policy(allow((UC, ROLE), external_id(DBX)), mfa), REQUIRED, ROLE)
    assert mfa not in fixed["Statement"]
    assert evaluate_trust(fixed, REQUIRED, ROLE).status == "pass"


def test_corrected_policy_replaces_lenient_external_id_checks() -> None:
    lenient = policy(allow(condition=external_id(DBX, WS, operator="StringEqualsIfExists")))
    fixed = corrected_policy(lenient, REQUIRED, ROLE)
    assert "StringEqualsIfExists" not in json.dumps(fixed)
    assert evaluate_trust(fixed, REQUIRED, ROLE).status == "pass"


def test_corrected_policy_of_an_undecodable_string() -> None:
    assert evaluate_trust(corrected_policy("%7Bnot%20json", REQUIRED, ROLE), REQUIRED, ROLE).status == "pass"


def test_update_command_is_shell_quoted() -> None:
    document = policy(allow(Sid="It's"))
    command = update_command(f"arn:aws:iam::{ACCOUNT}:role/path/uc-role", document)
    argv = shlex.split(command)
    assert argv[:3] == ["aws", "iam", "update-assume-role-policy"]
    assert argv[argv.index("--role-name") + 1] == "uc-role"
    assert json.loads(argv[argv.index("--policy-document") + 1]) == document


# ---------------------------------------------------------------------------------------- boto3 + moto


@pytest.fixture(scope="module")
def iam() -> Iterator[Any]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield boto3.client(
            "iam",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.stop()


def _read(iam: Any, name: str) -> Any:
    return iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]


def _pairs_for(role_arn: str) -> tuple[RequiredTrust, ...]:
    return required_pairs(role_arn, UC, DBX, SEG, WS)


def test_round_trip_through_iam(iam: Any) -> None:
    arn = iam.create_role(RoleName="uc-canonical", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    document = policy(allow((UC, arn, SEG)))
    iam.update_assume_role_policy(RoleName="uc-canonical", PolicyDocument=json.dumps(document))
    read = _read(iam, "uc-canonical")
    assert isinstance(read, dict)
    assert evaluate_trust(read, _pairs_for(arn), arn).status == "pass"


def test_invalid_json_comes_back_as_a_string_and_is_an_error(iam: Any) -> None:
    arn = iam.create_role(RoleName="uc-broken", AssumeRolePolicyDocument="{not json")["Role"]["Arn"]
    read = _read(iam, "uc-broken")
    assert isinstance(read, str)
    with pytest.raises(PolicyDecodeError):
        decode_policy(read)
    verdict = evaluate_trust(read, _pairs_for(arn), arn)
    assert verdict.status == "error"
    assert verdict.codes == {"undecodable-policy"}


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("uc-anyone", lambda arn: policy(allow("*"))),
        ("uc-dangling", lambda arn: policy(allow((UC, arn, "AROAEXAMPLEID1234567")))),
        (
            "uc-if-exists",
            lambda arn: policy(allow((UC, arn, SEG), external_id(DBX, WS, operator="StringEqualsIfExists"))),
        ),
    ],
)
def test_failing_policy_is_fixed_by_the_update_command(iam: Any, name: str, build: Callable[[str], Policy]) -> None:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(build(arn)))
    pairs = _pairs_for(arn)
    assert evaluate_trust(_read(iam, name), pairs, arn).status == "fail"
    argv = shlex.split(update_command(arn, corrected_policy(_read(iam, name), pairs, arn)))
    iam.update_assume_role_policy(
        RoleName=argv[argv.index("--role-name") + 1], PolicyDocument=argv[argv.index("--policy-document") + 1]
    )
    assert evaluate_trust(_read(iam, name), pairs, arn).status == "pass"
