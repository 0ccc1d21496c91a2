"""IAM policy documents: decoding, the canonical form, and parsing into statements (pure).

A role's ``AssumeRolePolicyDocument`` arrives as botocore leaves it: normally a dict; a string (JSON, or
URL-encoded JSON) when botocore's own decoding failed. `decode_policy` is the one decoder, used by the
collector (which records what it could not decode) and by the trust verdict. `canonical_policy` is the
form drift compares. `parse_policy` turns a decoded document into `Statement` s the verdict
(`auditor.privileges.iam_trust`) and the corrected policy (`auditor.remediate.trust`) reason about.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import unquote

from auditor.privileges.iam_conditions import (
    Clause,
    ConditionError,
    RequestContext,
    Tri,
    UnsupportedOperatorError,
    as_text_list,
    evaluate_conditions,
    glob_match,
    parse_conditions,
)

ASSUME_ROLE: Final = "sts:AssumeRole"
GRANTING_ACTIONS: Final = (ASSUME_ROLE, "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")
POLICY_VERSION: Final = "2012-10-17"

ACCOUNT_ID_RE: Final = re.compile(r"^\d{12}$")
_DANGLING_RE: Final = re.compile(r"^(ARO|AID)[A-Z0-9]+$")
_ARN_RE: Final = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<res>.+)$")


class PolicyDecodeError(ValueError):
    """The trust policy could not be decoded into a JSON object."""


def decode_policy(document: object) -> dict[str, Any]:
    """The policy as a dict: a dict as-is; a string as JSON, else as URL-encoded JSON (what botocore
    leaves when its own decoding fails). Raises ``PolicyDecodeError`` otherwise."""
    if isinstance(document, dict):
        return document
    if not isinstance(document, str):
        raise PolicyDecodeError(f"trust policy is {type(document).__name__}, not a JSON document")
    for candidate in (document, unquote(document)):
        try:
            decoded = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(decoded, dict):
            return decoded
        raise PolicyDecodeError(f"trust policy decodes to {type(decoded).__name__}, not an object")
    raise PolicyDecodeError(f"trust policy ({len(document)} characters) is neither JSON nor URL-encoded JSON")


# ---- canonical form ------------------------------------------------------------------------------

# Keys whose value IAM treats as a set whether written as one string or a list.
_SET_VALUED = frozenset(
    {"Action", "NotAction", "Resource", "NotResource", "AWS", "Service", "Federated", "CanonicalUser"}
)


def _canonical(value: Any, key: str | None = None, in_condition: int = 0) -> Any:
    if isinstance(value, dict):
        depth = in_condition + 1 if in_condition else (1 if key == "Condition" else 0)
        return {k: _canonical(v, k, depth) for k, v in sorted(value.items())}
    as_set = key in _SET_VALUED or in_condition == 2  # condition operator -> key -> values
    if isinstance(value, str) and as_set:
        value = [value]
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def canonical_policy(document: Mapping[str, Any]) -> str:
    """The policy as canonical JSON: keys sorted, set-valued entries as sorted lists."""
    statement = document.get("Statement")
    if isinstance(statement, dict):
        document = {**document, "Statement": [statement]}
    return json.dumps(_canonical(dict(document)), sort_keys=True, separators=(",", ":"))


def policy_document(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A policy of these statements, in the current policy language version."""
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def raw_statements(document: object) -> list[dict[str, Any]]:
    """The statements of a policy as written (objects only); none when it cannot be decoded."""
    try:
        raw = decode_policy(document).get("Statement", [])
    except PolicyDecodeError:
        return []
    raw = [raw] if isinstance(raw, dict) else raw
    return [s for s in raw if isinstance(s, dict)] if isinstance(raw, list) else []


# ---- parsing -------------------------------------------------------------------------------------


class MalformedPolicyError(ValueError):
    """The document is not shaped like an IAM policy."""


@dataclass(frozen=True)
class CallerIdentity:
    """An AWS principal that calls AssumeRole (a role, user or session)."""

    arn: str
    partition: str
    account: str


def caller_identity(arn: str) -> CallerIdentity | None:
    match = _ARN_RE.match(arn)
    if match is None or match["res"] == "root":
        return None
    return CallerIdentity(arn, match["partition"], match["account"])


TrustedPrincipalKind = Literal["anyone", "account", "arn", "dangling", "foreign", "non_aws", "invalid"]


@dataclass(frozen=True)
class TrustedPrincipal:
    kind: TrustedPrincipalKind
    text: str  # as written
    partition: str = ""
    account: str = ""

    def matches(self, caller: CallerIdentity) -> bool:
        if self.kind == "anyone":
            return True
        if self.kind == "account":
            return (self.partition, self.account) == (caller.partition, caller.account)
        return self.kind == "arn" and self.text == caller.arn


def _aws_principal(text: str, partition: str) -> TrustedPrincipal:
    if text == "*":
        return TrustedPrincipal("anyone", text)
    if ACCOUNT_ID_RE.match(text):
        return TrustedPrincipal("account", text, partition, text)
    if _DANGLING_RE.match(text):
        return TrustedPrincipal("dangling", text)
    match = _ARN_RE.match(text)
    if match is None:
        return TrustedPrincipal("invalid", text)
    if match["partition"] != partition:
        return TrustedPrincipal("foreign", text)
    resource, service = match["res"], match["service"]
    if service == "iam" and resource == "root":
        return TrustedPrincipal("account", text, partition, match["account"])
    if (service == "iam" and resource.startswith(("role/", "user/"))) or (
        service == "sts" and resource.startswith(("assumed-role/", "federated-user/"))
    ):
        return TrustedPrincipal("arn", text, partition, match["account"])
    return TrustedPrincipal("invalid", text)


def _texts(value: object, what: str) -> tuple[str, ...]:
    try:
        return as_text_list(value)
    except ConditionError as exc:
        raise MalformedPolicyError(f"{what}: {exc}") from exc


def _principals(block: object, where: str, partition: str) -> tuple[TrustedPrincipal, ...]:
    if block == "*":
        return (TrustedPrincipal("anyone", "*"),)
    if not isinstance(block, dict):
        raise MalformedPolicyError(f'{where}: Principal must be "*" or an object')
    found: list[TrustedPrincipal] = []
    for key, values in block.items():
        for text in _texts(values, f"{where} Principal.{key}"):
            if key == "AWS":
                found.append(_aws_principal(text, partition))
            elif key in ("Service", "Federated", "CanonicalUser"):
                found.append(TrustedPrincipal("non_aws", f"{key} {text}"))
            else:
                found.append(TrustedPrincipal("invalid", f"{key} {text}"))
    return tuple(found)


@dataclass(frozen=True)
class Statement:
    ref: str  # Sid, or the 0-based index
    label: str  # how messages name it
    effect: str
    principals: tuple[TrustedPrincipal, ...] | None  # None: no Principal element
    actions: tuple[str, ...]
    not_action: bool
    clauses: tuple[Clause, ...]
    unsupported: tuple[str, str] | None  # (code, reason): cannot be judged, fail closed

    def covers(self, action: str) -> bool:
        listed = any(glob_match(pattern, action, ignore_case=True) for pattern in self.actions)
        return listed != self.not_action

    @property
    def granting_actions(self) -> tuple[str, ...]:
        """The assume actions this statement covers."""
        return tuple(a for a in GRANTING_ACTIONS if self.covers(a))

    @property
    def grants_assumption(self) -> bool:
        return self.effect == "Allow" and bool(self.principals) and bool(self.granting_actions)

    def applies(self, caller: CallerIdentity, action: str, external_id: str | None) -> tuple[Tri, Clause | None]:
        if not self.principals or not any(p.matches(caller) for p in self.principals):
            return Tri.FALSE, None
        if not self.covers(action):
            return Tri.FALSE, None
        context = RequestContext(caller.arn, caller.account, external_id)
        return evaluate_conditions(self.clauses, context)


def parse_statement(raw: object, index: int, partition: str) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicyError(f"statement #{index} is not an object")
    sid = raw.get("Sid")
    ref, label = (str(sid), f"statement {str(sid)!r}") if sid not in (None, "") else (str(index), f"statement #{index}")
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicyError(f"{label} has no Effect")
    if ("Action" in raw) == ("NotAction" in raw):
        raise MalformedPolicyError(f"{label} must have exactly one of Action and NotAction")
    not_action = "NotAction" in raw
    actions = _texts(raw["NotAction" if not_action else "Action"], f"{label} Action")
    principals = _principals(raw["Principal"], label, partition) if "Principal" in raw else None
    unsupported: tuple[str, str] | None = None
    try:
        clauses = parse_conditions(raw.get("Condition"))
    except ConditionError as exc:
        raise MalformedPolicyError(f"{label}: {exc}") from exc
    except UnsupportedOperatorError as exc:
        clauses = ()
        unsupported = ("unsupported-operator", f"{label} uses {exc}; the statement cannot be judged")
    if effect not in ("Allow", "Deny"):
        unsupported = ("unsupported-effect", f'{label} has Effect {effect!r}; only "Allow" and "Deny" exist')
    if "NotPrincipal" in raw:
        unsupported = (
            "not-principal",
            f"{label} uses NotPrincipal, which role trust policies do not support",
        )
    return Statement(ref, label, str(effect), principals, actions, not_action, clauses, unsupported)


def parse_policy(document: dict[str, Any], partition: str) -> tuple[Statement, ...]:
    if "Statement" not in document:
        raise MalformedPolicyError("trust policy has no Statement")
    raw = document["Statement"]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise MalformedPolicyError("Statement must be an object or a list of objects")
    return tuple(parse_statement(item, index, partition) for index, item in enumerate(raw))
