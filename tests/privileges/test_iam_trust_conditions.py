"""Condition-operator semantics (auditor.privileges.iam_conditions): data in, truth value out."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.privileges.iam_conditions import (
    ConditionError,
    RequestContext,
    Tri,
    UnsupportedOperatorError,
    arn_like,
    evaluate_conditions,
    glob_match,
    parse_conditions,
)

ROLE = "arn:aws:iam::123456789012:role/uc"
PRESENT = RequestContext(ROLE, "123456789012", "Abc123")
ABSENT = RequestContext(ROLE, "123456789012", None)


def truth(block: dict[str, Any], context: RequestContext) -> Tri:
    return evaluate_conditions(parse_conditions(block), context)[0]


@pytest.mark.parametrize(
    ("block", "present", "absent"),
    [
        ({"StringEquals": {"sts:ExternalId": "Abc123"}}, Tri.TRUE, Tri.FALSE),
        ({"StringEquals": {"sts:ExternalId": "abc123"}}, Tri.FALSE, Tri.FALSE),
        ({"StringEqualsIgnoreCase": {"sts:ExternalId": "ABC123"}}, Tri.TRUE, Tri.FALSE),
        ({"StringNotEquals": {"sts:ExternalId": ["x", "y"]}}, Tri.TRUE, Tri.TRUE),
        ({"StringNotEquals": {"sts:ExternalId": ["x", "Abc123"]}}, Tri.FALSE, Tri.TRUE),
        ({"StringEqualsIfExists": {"sts:ExternalId": "Abc123"}}, Tri.TRUE, Tri.TRUE),
        ({"StringEqualsIfExists": {"sts:ExternalId": "x"}}, Tri.FALSE, Tri.TRUE),
        ({"ForAllValues:StringEquals": {"sts:ExternalId": "x"}}, Tri.FALSE, Tri.TRUE),
        ({"ForAnyValue:StringEquals": {"sts:ExternalId": "Abc123"}}, Tri.TRUE, Tri.FALSE),
        ({"ForAnyValue:StringNotEquals": {"sts:ExternalId": "x"}}, Tri.TRUE, Tri.FALSE),
        ({"StringLike": {"sts:ExternalId": "A?c*"}}, Tri.TRUE, Tri.FALSE),
        ({"StringLike": {"sts:ExternalId": "*"}}, Tri.TRUE, Tri.FALSE),
        ({"StringNotLike": {"sts:ExternalId": "x*"}}, Tri.TRUE, Tri.TRUE),
        ({"Null": {"sts:ExternalId": "true"}}, Tri.FALSE, Tri.TRUE),
        ({"Null": {"sts:ExternalId": False}}, Tri.TRUE, Tri.FALSE),
        ({"NumericEquals": {"sts:ExternalId": 1}}, Tri.UNKNOWN, Tri.FALSE),
        ({"NumericNotEquals": {"sts:ExternalId": 1}}, Tri.UNKNOWN, Tri.TRUE),
    ],
)
def test_external_id_operators(block: dict[str, Any], present: Tri, absent: Tri) -> None:
    assert truth(block, PRESENT) is present
    assert truth(block, ABSENT) is absent


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/*"}}, Tri.TRUE),
        ({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/uc"}}, Tri.TRUE),
        ({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/*"}}, Tri.FALSE),
        ({"StringEquals": {"aws:PrincipalAccount": "123456789012"}}, Tri.TRUE),
        ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, Tri.FALSE),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, Tri.TRUE),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, Tri.UNKNOWN),
        ({"StringEquals": {"aws:PrincipalOrgID": "o-1", "sts:ExternalId": "nope"}}, Tri.FALSE),
        ({"StringEquals": {"AWS:principalorgid": "o-1", "STS:EXTERNALID": "Abc123"}}, Tri.UNKNOWN),
    ],
)
def test_other_keys(block: dict[str, Any], expected: Tri) -> None:
    assert truth(block, PRESENT) is expected


def test_the_deciding_clause_is_reported() -> None:
    block = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "StringEquals": {"sts:ExternalId": "nope"}}
    result, clause = evaluate_conditions(parse_conditions(block), PRESENT)
    assert result is Tri.FALSE and clause is not None and clause.key == "sts:externalid"
    assert clause.describe() == "StringEquals sts:ExternalId 'nope'"


@pytest.mark.parametrize(
    "operator",
    ["stringequals", "StringEqualz", "ForSomeValues:StringEquals", "NullIfExists", "IfExists", "Foo:Bar"],
)
def test_unknown_operators_are_unsupported(operator: str) -> None:
    with pytest.raises(UnsupportedOperatorError):
        parse_conditions({operator: {"sts:ExternalId": "x"}})


@pytest.mark.parametrize(
    "block",
    [
        [],
        "x",
        {"StringEquals": "x"},
        {"StringEquals": {}},
        {"StringEquals": {"k": []}},
        {"StringEquals": {"k": [{}]}},
    ],
)
def test_malformed_blocks(block: Any) -> None:
    with pytest.raises(ConditionError):
        parse_conditions(block)


def test_wildcards() -> None:
    assert glob_match("sts:Assume*", "STS:ASSUMEROLE", ignore_case=True)
    assert not glob_match("sts:Assume*", "STS:ASSUMEROLE")
    assert glob_match("a.c", "a.c") and not glob_match("a.c", "abc")  # regex characters are literal
    assert glob_match("a[b]", "a[b]")
    assert arn_like("arn:aws:iam::*:role/*", ROLE)
    assert not arn_like("arn:aws:iam::*", ROLE)  # fewer than six parts never matches
