"""The corrected trust policy for a role that fails the trust check, and the command that installs it.

Pure: the policy is computed from the policy as read and the required pairs, and re-checked with the
verdict (`auditor.privileges.iam_trust`) before it is proposed. The auditor never installs it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any, Final

from auditor.privileges.iam_conditions import EXTERNAL_ID_KEY, Tri, as_text_list
from auditor.privileges.iam_policy import (
    ASSUME_ROLE,
    MalformedPolicyError,
    caller_identity,
    parse_statement,
    policy_document,
    raw_statements,
)
from auditor.privileges.iam_trust import RequiredTrust, decide, evaluate_trust

SEGMENT_STATEMENT_SID: Final = "SegmentDatabricksTrust"


def corrected_policy(
    document: dict[str, Any] | str | None, required: Sequence[RequiredTrust], role_arn: str
) -> dict[str, Any]:
    """The merged, corrected trust policy.

    Keeps the customer's statements that do not grant assumption and change nothing about the verdict
    (hardening Denies, ``sts:TagSession`` grants ...), keeps sound assume statements (the terraform
    self-trust, a per-principal split), and adds the missing pairs with ``StringEquals`` on
    ``sts:ExternalId``, extending the customer's Segment statement where it has the guide's shape.
    Everything that made the policy fail is dropped. The result evaluates to ``pass`` unless the
    required pairs themselves cannot pass (a principal from another partition than the role, an
    external ID STS refuses).
    """
    required = tuple(required)
    role = caller_identity(role_arn)
    partition = role.partition if role else "aws"
    statements_read = raw_statements(document)
    taken_sids = {str(s.get("Sid")) for s in statements_read}
    sid = next(
        f"{SEGMENT_STATEMENT_SID}{n or ''}"
        for n in range(len(taken_sids) + 1)
        if f"{SEGMENT_STATEMENT_SID}{n or ''}" not in taken_sids
    )
    full = _allow_statement(required, sid)
    baseline = _outcome([full], required, role_arn)
    kept: list[dict[str, Any]] = []
    for index, raw in enumerate(statements_read):
        try:
            statement = parse_statement(raw, index, partition)
        except MalformedPolicyError:
            continue
        if statement.unsupported:
            continue
        if statement.grants_assumption:
            if _sound_alone(raw, required, role_arn):
                kept.append(raw)
        elif _outcome([full, raw], required, role_arn) == baseline:
            kept.append(raw)
    harmless = [raw for raw in kept if not _grants(raw, partition)]
    for candidate in (_add_missing(kept, required, role_arn, sid), [*harmless, full], [full]):
        if evaluate_trust(policy_document(candidate), required, role_arn).status == "pass":
            return policy_document(candidate)
    return policy_document([full])


def update_command(role_arn: str, policy: dict[str, Any]) -> str:
    """The ``aws iam update-assume-role-policy`` command that installs ``policy``, shell-quoted."""
    role_name = role_arn.rsplit("/", 1)[-1]
    document = json.dumps(policy, separators=(",", ":"))
    return (
        f"aws iam update-assume-role-policy --role-name {shlex.quote(role_name)} "
        f"--policy-document {shlex.quote(document)}"
    )


def _sound_alone(raw: dict[str, Any], required: Sequence[RequiredTrust], role_arn: str) -> bool:
    """Whether an assume statement, on its own, has no problem but pairs it does not name (or, for the
    guide's shape, pairs whose external ID is missing, which ``_add_missing`` adds)."""
    verdict = evaluate_trust(policy_document([raw]), required, role_arn)
    if verdict.status == "error" or not verdict.codes <= {"pair-not-allowed"}:
        return False
    near_misses = [p for p in verdict.problems if p.statement is not None]
    return not near_misses or _guide_shaped_external_id_key(raw) is not None


def _grants(raw: dict[str, Any], partition: str) -> bool:
    return parse_statement(raw, 0, partition).grants_assumption


def _outcome(
    statements: Sequence[dict[str, Any]], required: Sequence[RequiredTrust], role_arn: str
) -> tuple[str, frozenset[str]]:
    verdict = evaluate_trust(policy_document(statements), required, role_arn)
    return verdict.status, verdict.codes


def _allow_statement(pairs: Sequence[RequiredTrust], sid: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": list(dict.fromkeys(p.principal_arn for p in pairs))},
        "Action": ASSUME_ROLE,
        "Condition": {"StringEquals": {"sts:ExternalId": list(dict.fromkeys(p.external_id for p in pairs))}},
    }


def _add_missing(
    statements: list[dict[str, Any]], required: Sequence[RequiredTrust], role_arn: str, sid: str
) -> list[dict[str, Any]]:
    """``statements`` plus whatever makes every required pair allowed: the guide-shaped statement extended
    when there is one, else a new statement for the missing pairs."""
    role = caller_identity(role_arn)
    if role is None:
        return statements
    parsed = [parse_statement(raw, i, role.partition) for i, raw in enumerate(statements)]
    allows = [s for s in parsed if s.effect == "Allow"]
    denies = [s for s in parsed if s.effect == "Deny"]
    missing = []
    for pair in required:
        caller = caller_identity(pair.principal_arn)
        decision = decide(allows, denies, caller, pair.external_id) if caller else None
        if decision is None or decision.allow is not Tri.TRUE or decision.deny is not Tri.FALSE:
            missing.append(pair)
    if not missing:
        return statements
    for index, raw in enumerate(statements):
        key = _guide_shaped_external_id_key(raw)
        if key is not None:
            aws = list(as_text_list(raw["Principal"]["AWS"]))
            ids = list(as_text_list(raw["Condition"]["StringEquals"][key]))
            extended = {
                **raw,
                "Principal": {"AWS": list(dict.fromkeys([*aws, *(p.principal_arn for p in missing)]))},
                "Condition": {"StringEquals": {key: list(dict.fromkeys([*ids, *(p.external_id for p in missing)]))}},
            }
            return [*statements[:index], extended, *statements[index + 1 :]]
    return [*statements, _allow_statement(missing, sid)]


def _guide_shaped_external_id_key(raw: dict[str, Any]) -> str | None:
    """The ExternalId key as written when ``raw`` has the guide's shape (AWS principals, sts:AssumeRole,
    only StringEquals on sts:ExternalId), else None."""
    principal, condition = raw.get("Principal"), raw.get("Condition")
    if raw.get("Effect") != "Allow" or not isinstance(principal, dict) or set(principal) != {"AWS"}:
        return None
    if [a.lower() for a in as_text_list(raw.get("Action", []))] != [ASSUME_ROLE.lower()]:
        return None
    if not isinstance(condition, dict) or list(condition) != ["StringEquals"]:
        return None
    keys = condition["StringEquals"]
    if not isinstance(keys, dict) or [str(k).lower() for k in keys] != [EXTERNAL_ID_KEY]:
        return None
    return str(next(iter(keys)))
