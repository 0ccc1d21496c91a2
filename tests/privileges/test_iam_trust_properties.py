"""Property tests for the trust-policy evaluator: invariances the IAM semantics guarantee."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.privileges.iam_trust import (
    SEGMENT_ROLE_ARN,
    RequiredTrust,
    evaluate_trust,
    required_pairs,
)
from auditor.remediate.trust import corrected_policy

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
INTRUDER = "arn:aws:iam::111122223333:role/intruder"

# Deterministic, no example database on disk, no timing: these run in parallel with everything else.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

PRINCIPALS = [
    UC,
    ROLE,
    SEG,
    UC,
    ROLE,
    SEG,
    "595280932656",
    "arn:aws:iam::595280932656:root",
    f"arn:aws:iam::{ACCOUNT}:root",
    "*",
    "AROAEXAMPLEID1234567",
    INTRUDER,
    GOV_UC,
    "not-an-arn",
    595280932656,
]
ASSUME_ACTIONS = [
    "sts:AssumeRole",
    "STS:assumerole",
    "sts:*",
    "sts:Assume*",
    "sts:AssumeRoleWithWebIdentity",
    "*",
]
OTHER_ACTIONS = ["sts:TagSession", "sts:SetSourceIdentity", "s3:GetObject", "iam:PassRole", "sts:Tag*"]
EXTERNAL_IDS = [DBX, WS, DBX, WS, WS.lower(), "*", "Ab3x*", "other-id", 12345, True]
OPERATORS = [
    "StringEquals",
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotEquals",
    "StringNotLike",
    "StringEqualsIfExists",
    "ForAnyValue:StringEquals",
    "ForAllValues:StringEquals",
]
OTHER_CONDITIONS = [
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"ArnLike": {"aws:PrincipalArn": ROLE}},
    {"ArnEquals": {"aws:PrincipalArn": [UC, ROLE, SEG]}},
    {"Null": {"sts:ExternalId": "false"}},
]
GUIDE_STATEMENT = {
    "Effect": "Allow",
    "Principal": {"AWS": [UC, ROLE, SEG]},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": [DBX, WS]}},
}


def _guide(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(GUIDE_STATEMENT), **changes}


# Statements that pass or only warn on their own, so that generated policies often pass or warn.
MILD_STATEMENTS = [
    GUIDE_STATEMENT,
    GUIDE_STATEMENT,
    GUIDE_STATEMENT,
    _guide(Principal={"AWS": [UC, ROLE]}, Condition={"StringEquals": {"sts:ExternalId": DBX}}),
    _guide(Principal={"AWS": SEG}, Condition={"StringEquals": {"sts:ExternalId": WS}}),
    _guide(Principal={"AWS": [UC, ROLE, "595280932656"]}),
    _guide(Action="sts:*"),
    _guide(Condition={"StringEqualsIgnoreCase": {"sts:ExternalId": [DBX, WS]}}),
    _guide(Condition={"ForAnyValue:StringEquals": {"sts:ExternalId": [DBX, WS]}}),
    _guide(Condition={"StringEquals": {"sts:ExternalId": [DBX, WS]}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    {
        "Sid": "ExplicitSelfRoleAssumption",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"ArnLike": {"aws:PrincipalArn": ROLE}, "StringEquals": {"sts:ExternalId": DBX}},
    },
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sts:AssumeRole",
        "Condition": {"StringNotEquals": {"sts:ExternalId": [DBX, WS]}},
    },
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sts:AssumeRole",
        "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    },
]


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


@st.composite
def statements(draw: st.DrawFn, actions: list[str] | None = None, effect: str | None = None) -> dict[str, Any]:
    """A statement drawn from pools that hit every rule: principals, actions, external-id operators."""
    if actions is None and effect is None and draw(st.integers(0, 2)) > 0:
        return copy.deepcopy(draw(st.sampled_from(MILD_STATEMENTS)))
    statement: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    if draw(st.booleans()):
        statement["Sid"] = f"S{draw(st.integers(0, 9))}"
    shape = draw(st.sampled_from(["aws", "aws", "aws", "star", "service"]))
    if shape == "aws":
        statement["Principal"] = {
            "AWS": _one_or_list(draw(st.lists(st.sampled_from(PRINCIPALS), min_size=1, max_size=4)))
        }
    else:
        statement["Principal"] = "*" if shape == "star" else {"Service": "ec2.amazonaws.com"}
    pool = actions or ASSUME_ACTIONS + OTHER_ACTIONS
    statement["Action"] = _one_or_list(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)))
    condition: dict[str, Any] = {}
    if draw(st.integers(0, 4)) > 0:
        operator = draw(st.sampled_from(OPERATORS))
        values = draw(st.lists(st.sampled_from(EXTERNAL_IDS), min_size=1, max_size=3))
        condition[operator] = {"sts:ExternalId": _one_or_list(values)}
    if draw(st.integers(0, 3)) == 0:
        condition.update(draw(st.sampled_from(OTHER_CONDITIONS)))
    if condition:
        statement["Condition"] = condition
    return statement


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    found = draw(st.lists(statements(), min_size=1, max_size=4))
    return {
        "Version": "2012-10-17",
        "Statement": found[0] if len(found) == 1 and draw(st.booleans()) else found,
    }


def _outcome(
    document: Any, required: tuple[RequiredTrust, ...] = REQUIRED, role: str = ROLE
) -> tuple[str, frozenset[str]]:
    verdict = evaluate_trust(document, required, role)
    return verdict.status, verdict.codes


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    raw = document["Statement"]
    return [raw] if isinstance(raw, dict) else raw


def _with(document: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [*copy.deepcopy(_statements(document)), extra]}


def _map_lists(value: Any, rng: random.Random) -> Any:
    """Shuffle every list, recursively."""
    if isinstance(value, dict):
        return {k: _map_lists(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        items = [_map_lists(v, rng) for v in value]
        rng.shuffle(items)
        return items
    return value


@PROPERTY
@given(policies(), st.randoms(use_true_random=False))
def test_reordering_statements_and_list_elements_never_changes_the_verdict(
    document: dict[str, Any], rng: random.Random
) -> None:
    shuffled = {"Version": "2012-10-17", "Statement": _map_lists(_statements(document), rng)}
    assert _outcome(shuffled) == _outcome(document)


@PROPERTY
@given(policies(), statements(actions=OTHER_ACTIONS, effect="Deny"))
def test_a_deny_on_another_action_changes_nothing(document: dict[str, Any], deny: dict[str, Any]) -> None:
    assert _outcome(_with(document, deny)) == _outcome(document)


@PROPERTY
@given(policies(), statements(actions=OTHER_ACTIONS, effect="Allow"))
def test_an_allow_of_only_unrelated_actions_changes_nothing(document: dict[str, Any], extra: dict[str, Any]) -> None:
    assert _outcome(_with(document, extra)) == _outcome(document)


@PROPERTY
@given(policies(), st.sampled_from([INTRUDER, "111122223333", "*"]))
def test_trusting_an_outsider_is_never_a_pass(document: dict[str, Any], outsider: str) -> None:
    intruder = {
        "Effect": "Allow",
        "Principal": {"AWS": outsider},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": [DBX, WS]}},
    }
    assert _outcome(_with(document, intruder))[0] == "fail"


def _recase(value: Any, rng: random.Random) -> Any:
    """Flip the case of action names and condition key names (never of values)."""
    if isinstance(value, str):
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in value)
    if isinstance(value, list):
        return [_recase(v, rng) for v in value]
    return value


@PROPERTY
@given(policies(), st.randoms(use_true_random=False))
def test_action_and_condition_key_case_never_changes_the_verdict(document: dict[str, Any], rng: random.Random) -> None:
    recased = []
    for statement in copy.deepcopy(_statements(document)):
        statement["Action"] = _recase(statement["Action"], rng)
        for operator, keys in statement.get("Condition", {}).items():
            statement["Condition"][operator] = {_recase(key, rng): values for key, values in keys.items()}
        recased.append(statement)
    assert _outcome({"Version": "2012-10-17", "Statement": recased}) == _outcome(document)


def _toggle_lists(value: Any, rng: random.Random) -> Any:
    """Wrap scalars into one-element lists and unwrap one-element lists, at random."""
    if isinstance(value, dict):
        return {k: _toggle_lists(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return value[0] if len(value) == 1 and rng.random() < 0.5 else value
    return [value] if rng.random() < 0.5 else value


@PROPERTY
@given(policies(), st.randoms(use_true_random=False))
def test_strings_or_lists_never_change_the_verdict(document: dict[str, Any], rng: random.Random) -> None:
    toggled = []
    for statement in copy.deepcopy(_statements(document)):
        statement["Action"] = _toggle_lists(statement["Action"], rng)
        if isinstance(statement["Principal"], dict):
            statement["Principal"] = _toggle_lists(statement["Principal"], rng)
        if "Condition" in statement:
            statement["Condition"] = _toggle_lists(statement["Condition"], rng)
        toggled.append(statement)
    assert _outcome({"Version": "2012-10-17", "Statement": toggled}) == _outcome(document)


@PROPERTY
@given(policies())
def test_corrected_policy_always_passes(document: dict[str, Any]) -> None:
    fixed = corrected_policy(document, REQUIRED, ROLE)
    assert _outcome(fixed)[0] == "pass", json.dumps(fixed)
    assert _outcome(json.loads(json.dumps(fixed)))[0] == "pass"
    assert corrected_policy(fixed, REQUIRED, ROLE) == fixed  # a passing policy is left as it is


EXTERNAL_ID = st.from_regex(r"[A-Za-z0-9+=,.@:/-]{2,24}", fullmatch=True)


@PROPERTY
@given(policies(), EXTERNAL_ID, EXTERNAL_ID, st.booleans())
def test_corrected_policy_passes_for_any_valid_ids_and_partition(
    document: dict[str, Any], databricks_id: str, workspace_id: str, gov: bool
) -> None:
    role, uc, peer = (GOV_ROLE, GOV_UC, GOV_PEER) if gov else (ROLE, UC, SEG)
    required = required_pairs(role, uc, databricks_id, peer, workspace_id)
    fixed = corrected_policy(document, required, role)
    assert _outcome(fixed, required, role)[0] == "pass", json.dumps(fixed)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


@PROPERTY
@given(st.one_of(JSON, st.dictionaries(st.sampled_from(["Statement", "Version"]), JSON), st.text()))
def test_arbitrary_input_never_raises_and_never_passes(document: Any) -> None:
    verdict = evaluate_trust(document, REQUIRED, ROLE)
    assert verdict.status in ("fail", "error")
    assert _outcome(corrected_policy(document, REQUIRED, ROLE))[0] == "pass"
