"""IAM ``Condition`` semantics for trust policies: operators, absent keys, wildcards (pure, no I/O).

Evaluation is three-valued: a condition on a key this module cannot know the value of (``aws:SourceIp``,
``aws:PrincipalOrgID`` ...) is ``Tri.UNKNOWN``, never silently true or false. The caller decides what an
unknown means (a warning on the required trust, a failure when it is all that keeps an outsider out).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal


class Tri(IntEnum):
    """Three-valued truth: ``min`` is AND, ``max`` is OR."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2


class ConditionError(ValueError):
    """The Condition element is not shaped like one (a malformed document)."""


class UnsupportedOperatorError(ValueError):
    """A condition operator this evaluator does not know: the statement cannot be judged (fail closed)."""


SetQualifier = Literal["", "ForAllValues", "ForAnyValue"]

_STRING_OPERATORS: Final = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
    }
)
_ARN_OPERATORS: Final = frozenset({"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"})
# Operators whose comparison this module does not implement: on a present value they give UNKNOWN.
_OPAQUE_OPERATORS: Final = frozenset(
    {
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "IpAddress",
        "NotIpAddress",
        "BinaryEquals",
    }
)
_BASE_OPERATORS: Final = _STRING_OPERATORS | _ARN_OPERATORS | _OPAQUE_OPERATORS | {"Bool", "Null"}
NEGATED_OPERATORS: Final = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "ArnNotEquals",
        "ArnNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
    }
)

EXTERNAL_ID_KEY: Final = "sts:externalid"
PRINCIPAL_ARN_KEY: Final = "aws:principalarn"
PRINCIPAL_ACCOUNT_KEY: Final = "aws:principalaccount"
PROBE_EXTERNAL_ID: Final = "grants-auditor-probe-not-an-external-id"  # named by no policy
# Never present when a service role (Segment's, Databricks') calls AssumeRole.
_ALWAYS_ABSENT_KEYS: Final = frozenset({"aws:multifactorauthpresent", "aws:multifactorauthage"})


def scalar_text(value: object) -> str:
    """A JSON scalar as IAM compares it: strings as-is, booleans as ``true``/``false``, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ConditionError(f"expected a string, number or boolean, found {type(value).__name__}")


def as_text_list(value: object) -> tuple[str, ...]:
    """A policy value that may be one scalar or a list of scalars, as a tuple of strings."""
    if isinstance(value, list):
        return tuple(scalar_text(item) for item in value)
    return (scalar_text(value),)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: ``*`` is any run of characters, ``?`` one character, everything else literal."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def arn_like(pattern: str, value: str) -> bool:
    """``ArnLike``/``ArnEquals``: each of the six colon-separated parts is matched on its own."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


@dataclass(frozen=True)
class Clause:
    """One operator + key + values entry of a Condition block; the values are ORed."""

    operator: str  # as written, e.g. "ForAnyValue:StringEqualsIfExists"
    base: str  # e.g. "StringEquals"
    qualifier: SetQualifier
    if_exists: bool
    key: str  # lower-cased: key names are case-insensitive
    key_as_written: str
    values: tuple[str, ...]

    @property
    def negated(self) -> bool:
        """Whether the operator is a negation (true when no value matches, and when the key is absent)."""
        return self.base in NEGATED_OPERATORS

    def describe(self) -> str:
        """The clause as a reader would write it, for messages."""
        shown = self.values[0] if len(self.values) == 1 else list(self.values)
        return f"{self.operator} {self.key_as_written} {shown!r}"


def parse_operator(operator: str) -> tuple[str, SetQualifier, bool]:
    """Split ``ForAnyValue:StringEqualsIfExists`` into base, set qualifier and IfExists flag.

    Operator names are matched exactly: tolerance of other spellings is unverified, so they are unsupported.
    """
    qualifier: SetQualifier = ""
    rest = operator
    if ":" in operator:
        prefix, rest = operator.split(":", 1)
        if prefix == "ForAllValues":
            qualifier = "ForAllValues"
        elif prefix == "ForAnyValue":
            qualifier = "ForAnyValue"
        else:
            raise UnsupportedOperatorError(f"unknown condition operator {operator!r}")
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    base = rest.removesuffix("IfExists") if if_exists else rest
    if base not in _BASE_OPERATORS or (base == "Null" and (if_exists or qualifier)):
        raise UnsupportedOperatorError(f"unknown condition operator {operator!r}")
    return base, qualifier, if_exists


def parse_conditions(block: object) -> tuple[Clause, ...]:
    """Normalise a statement's ``Condition`` element into clauses (ANDed).

    Raises ``ConditionError`` for a malformed block and ``UnsupportedOperatorError`` for an unknown operator.
    """
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise ConditionError("Condition must be an object")
    clauses: list[Clause] = []
    for operator, keys in block.items():
        if not isinstance(keys, dict) or not keys:
            raise ConditionError(f"Condition operator {operator!r} must map keys to values")
        base, qualifier, if_exists = parse_operator(str(operator))
        for key, raw_values in keys.items():
            values = as_text_list(raw_values)
            if not values:
                raise ConditionError(f"Condition {operator} {key} has an empty value list")
            clauses.append(Clause(str(operator), base, qualifier, if_exists, str(key).lower(), str(key), values))
    return tuple(clauses)


class _Unknown:
    """Marker: the key's value cannot be known from the policy and the caller's identity."""


UNKNOWN_VALUE: Final = _Unknown()


@dataclass(frozen=True)
class RequestContext:
    """What an ``sts:AssumeRole`` call by one principal carries, as far as a trust check can know it."""

    principal_arn: str
    principal_account: str
    external_id: str | None  # None: the caller sends no external ID

    def value_of(self, key: str) -> str | _Unknown | None:
        """The value of a lower-cased condition key: a string, ``None`` when absent, or ``UNKNOWN_VALUE``."""
        if key == EXTERNAL_ID_KEY:
            return self.external_id
        if key == PRINCIPAL_ARN_KEY:
            return self.principal_arn
        if key == PRINCIPAL_ACCOUNT_KEY:
            return self.principal_account
        if key in _ALWAYS_ABSENT_KEYS:
            return None
        return UNKNOWN_VALUE


def _value_matches(base: str, pattern: str, value: str) -> bool:
    if base in ("StringEquals", "StringNotEquals"):
        return value == pattern
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return value.casefold() == pattern.casefold()
    if base in ("StringLike", "StringNotLike"):
        return glob_match(pattern, value)
    if base in _ARN_OPERATORS:
        return arn_like(pattern, value)
    return value.lower() == pattern.lower()  # Bool


def evaluate_clause(clause: Clause, context: RequestContext) -> Tri:
    """Evaluate one clause against a request: absent keys, IfExists, set qualifiers and negation included."""
    value = context.value_of(clause.key)
    if isinstance(value, _Unknown):
        return Tri.UNKNOWN
    if clause.base == "Null":
        wanted_absent = {v.lower() for v in clause.values}
        return Tri.TRUE if ("true" if value is None else "false") in wanted_absent else Tri.FALSE
    if value is None:
        holds = (
            clause.if_exists
            or clause.qualifier == "ForAllValues"
            or (clause.negated and clause.qualifier != "ForAnyValue")
        )
        return Tri.TRUE if holds else Tri.FALSE
    if clause.base in _OPAQUE_OPERATORS:
        return Tri.UNKNOWN
    any_match = any(_value_matches(clause.base, pattern, value) for pattern in clause.values)
    return Tri.TRUE if any_match != clause.negated else Tri.FALSE


def evaluate_conditions(clauses: Sequence[Clause], context: RequestContext) -> tuple[Tri, Clause | None]:
    """AND of all clauses, with the clause that decided it (first false one, else first unknown one)."""
    first_unknown: Clause | None = None
    for clause in clauses:
        result = evaluate_clause(clause, context)
        if result is Tri.FALSE:
            return Tri.FALSE, clause
        if result is Tri.UNKNOWN and first_unknown is None:
            first_unknown = clause
    return (Tri.UNKNOWN, first_unknown) if first_unknown else (Tri.TRUE, None)


def external_id_probe_values(clauses: Sequence[Clause], required_ids: Sequence[str]) -> frozenset[str]:
    """External IDs worth trying to show that a value other than the required ones gets in.

    Built from every value the policy compares ``sts:ExternalId`` with (case variants, wildcard
    witnesses, near misses) plus a sentinel no policy names, so that a ``*`` pattern, a negated
    operator or a case-insensitive comparison is caught without enumerating strings.
    """
    seeds = [v for c in clauses if c.key == EXTERNAL_ID_KEY for v in c.values] + list(required_ids)
    probes: set[str] = {PROBE_EXTERNAL_ID}
    for seed in seeds:
        probes.update({seed, seed.swapcase(), seed.lower(), seed.upper(), seed + "x", "x" + seed})
        if "*" in seed or "?" in seed:
            for filler in ("", "x", "\u2603probe"):
                probes.add(seed.replace("*", filler).replace("?", "x"))
    return frozenset(probes)
