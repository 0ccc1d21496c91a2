"""Trust-policy semantics for the IAM role behind a Unity Catalog storage credential (requirement AWS-6).

Pure: documents in, verdicts out. Semantics follow AWS's IAM User Guide (policy evaluation logic, condition
operators, multi-valued context keys); the verdicts are pass / warn / fail, failing closed. Choices:

* The role itself may be trusted through the Databricks terraform pattern (its account root, pinned by
  ``ArnLike aws:PrincipalArn``). That passes; the evidence notes that the role's identity policy must also
  allow ``sts:AssumeRole`` on itself, which cannot be seen from the trust policy.
* ``NotAction`` with ``Allow`` that still covers ``sts:AssumeRole`` warns (``broad-action``), like ``sts:*``:
  it works and AWS principals cannot use the SAML/web-identity actions it also grants. When it excludes
  ``sts:AssumeRole`` the required pairs are simply not allowed: fail.
* A condition on a key whose value cannot be known here (``aws:SourceIp``, ``aws:PrincipalOrgID`` ...) makes
  a required pair a warning, but never clears an outsider: an unrelated principal that might get in fails.
* A statement without ``Principal`` grants nothing; it is linted (``missing-principal``, warn) because IAM
  rejects it on save. Lints name their statement; problems about a required pair also name the pair.
* Decode errors and malformed structure give ``error``; well-formed but unsupported constructs (unknown
  ``Effect`` or operator, ``NotPrincipal``) give ``fail``. Neither is ever a pass.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import unquote

from auditor.privileges.iam_conditions import (
    EXTERNAL_ID_KEY,
    PRINCIPAL_ACCOUNT_KEY,
    PRINCIPAL_ARN_KEY,
    PROBE_EXTERNAL_ID,
    Clause,
    ConditionError,
    RequestContext,
    Tri,
    UnsupportedOperatorError,
    as_text_list,
    evaluate_conditions,
    external_id_probe_values,
    glob_match,
    parse_conditions,
)

ASSUME_ROLE: Final = "sts:AssumeRole"
GRANTING_ACTIONS: Final = (ASSUME_ROLE, "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")
SEGMENT_ROLE_ARN: Final = "arn:aws:iam::595280932656:role/segment-storage-destinations-production-access"
POLICY_VERSION: Final = "2012-10-17"
SEGMENT_STATEMENT_SID: Final = "SegmentDatabricksTrust"

_ACCOUNT_RE: Final = re.compile(r"^\d{12}$")
_DANGLING_RE: Final = re.compile(r"^(ARO|AID)[A-Z0-9]+$")
_ARN_RE: Final = re.compile(r"^arn:(?P<partition>aws[a-z-]*):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<res>.+)$")
_STS_EXTERNAL_ID_RE: Final = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
_CASE_SENSITIVE_EQUALS: Final = frozenset({"StringEquals", "StringLike"})
_PROBE_ROLE_NAME: Final = "grants-auditor-probe-role"


Severity = Literal["fail", "warn"]


class PolicyDecodeError(ValueError):
    """The trust policy could not be decoded into a JSON object."""


@dataclass(frozen=True)
class RequiredTrust:
    """One (principal ARN, external ID) pair that must be able to assume the role."""

    principal_arn: str
    external_id: str
    label: str  # e.g. "Segment role", "Unity Catalog master role", "the role itself"

    def describe(self) -> str:
        """The pair as messages name it."""
        return f"{self.label} ({self.principal_arn}) with external ID {self.external_id!r}"


@dataclass(frozen=True)
class TrustProblem:
    """Why a trust policy is not a clean pass."""

    severity: Severity
    code: str  # stable, e.g. "pair-not-allowed", "anyone-trusted"
    message: str  # names the pair and the statement
    statement: str | None  # Sid, or the statement's 0-based index; None when no single statement is at fault


@dataclass(frozen=True)
class TrustVerdict:
    """The outcome of evaluating one trust policy against the required pairs."""

    status: Literal["pass", "warn", "fail", "error"]
    problems: tuple[TrustProblem, ...]
    evidence: tuple[str, ...]

    @property
    def codes(self) -> frozenset[str]:
        """The distinct problem codes."""
        return frozenset(p.code for p in self.problems)


def required_pairs(
    role_arn: str,
    unity_catalog_iam_arn: str,
    databricks_external_id: str,
    segment_role_arn: str,
    segment_workspace_id: str,
) -> tuple[RequiredTrust, ...]:
    """The pairs Segment's Delta Lake on AWS guide (Step 4.3) requires, in the guide's order.

    Raises ``ValueError`` when an input is empty: the Databricks external ID in particular must come from
    the storage credential and is never assumed.
    """
    inputs = {
        "role_arn": role_arn,
        "unity_catalog_iam_arn": unity_catalog_iam_arn,
        "databricks_external_id": databricks_external_id,
        "segment_role_arn": segment_role_arn,
        "segment_workspace_id": segment_workspace_id,
    }
    missing = [name for name, value in inputs.items() if not value]
    if missing:
        raise ValueError(f"required trust inputs are empty: {', '.join(missing)}")
    return (
        RequiredTrust(unity_catalog_iam_arn, databricks_external_id, "Unity Catalog master role"),
        RequiredTrust(role_arn, databricks_external_id, "the role itself"),
        RequiredTrust(segment_role_arn, segment_workspace_id, "Segment role"),
    )


def decode_policy(document: dict[str, Any] | str | None) -> dict[str, Any]:
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


# ---------------------------------------------------------------------------------------------- parsing


class _MalformedError(ValueError):
    """The document is not shaped like an IAM policy."""


@dataclass(frozen=True)
class _Identity:
    """An AWS principal that calls AssumeRole (a role, user or session)."""

    arn: str
    partition: str
    account: str


def _identity(arn: str) -> _Identity | None:
    match = _ARN_RE.match(arn)
    if match is None or match["res"] == "root":
        return None
    return _Identity(arn, match["partition"], match["account"])


PrincipalKind = Literal["anyone", "account", "arn", "dangling", "foreign", "non_aws", "invalid"]


@dataclass(frozen=True)
class _Principal:
    kind: PrincipalKind
    text: str  # as written
    partition: str = ""
    account: str = ""

    def matches(self, caller: _Identity) -> bool:
        if self.kind == "anyone":
            return True
        if self.kind == "account":
            return (self.partition, self.account) == (caller.partition, caller.account)
        return self.kind == "arn" and self.text == caller.arn


def _aws_principal(text: str, partition: str) -> _Principal:
    if text == "*":
        return _Principal("anyone", text)
    if _ACCOUNT_RE.match(text):
        return _Principal("account", text, partition, text)
    if _DANGLING_RE.match(text):
        return _Principal("dangling", text)
    match = _ARN_RE.match(text)
    if match is None:
        return _Principal("invalid", text)
    if match["partition"] != partition:
        return _Principal("foreign", text)
    resource, service = match["res"], match["service"]
    if service == "iam" and resource == "root":
        return _Principal("account", text, partition, match["account"])
    if (service == "iam" and resource.startswith(("role/", "user/"))) or (
        service == "sts" and resource.startswith(("assumed-role/", "federated-user/"))
    ):
        return _Principal("arn", text, partition, match["account"])
    return _Principal("invalid", text)


def _texts(value: object, what: str) -> tuple[str, ...]:
    try:
        return as_text_list(value)
    except ConditionError as exc:
        raise _MalformedError(f"{what}: {exc}") from exc


def _principals(block: object, where: str, partition: str) -> tuple[_Principal, ...]:
    if block == "*":
        return (_Principal("anyone", "*"),)
    if not isinstance(block, dict):
        raise _MalformedError(f'{where}: Principal must be "*" or an object')
    found: list[_Principal] = []
    for key, values in block.items():
        for text in _texts(values, f"{where} Principal.{key}"):
            if key == "AWS":
                found.append(_aws_principal(text, partition))
            elif key in ("Service", "Federated", "CanonicalUser"):
                found.append(_Principal("non_aws", f"{key} {text}"))
            else:
                found.append(_Principal("invalid", f"{key} {text}"))
    return tuple(found)


@dataclass(frozen=True)
class _Statement:
    ref: str  # Sid, or the 0-based index
    label: str  # how messages name it
    effect: str
    principals: tuple[_Principal, ...] | None  # None: no Principal element
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

    def applies(self, caller: _Identity, action: str, external_id: str | None) -> tuple[Tri, Clause | None]:
        if not self.principals or not any(p.matches(caller) for p in self.principals):
            return Tri.FALSE, None
        if not self.covers(action):
            return Tri.FALSE, None
        context = RequestContext(caller.arn, caller.account, external_id)
        return evaluate_conditions(self.clauses, context)


def _parse_statement(raw: object, index: int, partition: str) -> _Statement:
    if not isinstance(raw, dict):
        raise _MalformedError(f"statement #{index} is not an object")
    sid = raw.get("Sid")
    ref, label = (str(sid), f"statement {str(sid)!r}") if sid not in (None, "") else (str(index), f"statement #{index}")
    effect = raw.get("Effect")
    if effect is None:
        raise _MalformedError(f"{label} has no Effect")
    if ("Action" in raw) == ("NotAction" in raw):
        raise _MalformedError(f"{label} must have exactly one of Action and NotAction")
    not_action = "NotAction" in raw
    actions = _texts(raw["NotAction" if not_action else "Action"], f"{label} Action")
    principals = _principals(raw["Principal"], label, partition) if "Principal" in raw else None
    unsupported: tuple[str, str] | None = None
    try:
        clauses = parse_conditions(raw.get("Condition"))
    except ConditionError as exc:
        raise _MalformedError(f"{label}: {exc}") from exc
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
    return _Statement(ref, label, str(effect), principals, actions, not_action, clauses, unsupported)


def _parse_document(document: dict[str, Any], partition: str) -> tuple[_Statement, ...]:
    if "Statement" not in document:
        raise _MalformedError("trust policy has no Statement")
    raw = document["Statement"]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise _MalformedError("Statement must be an object or a list of objects")
    return tuple(_parse_statement(item, index, partition) for index, item in enumerate(raw))


# ------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Decision:
    allow: Tri
    allowed_by: _Statement | None
    allow_clause: Clause | None
    deny: Tri
    denied_by: _Statement | None
    deny_clause: Clause | None

    @property
    def permitted(self) -> bool:
        """Possibly allowed and not certainly denied: how an outsider or a wrong external ID is judged."""
        return self.allow is not Tri.FALSE and self.deny is not Tri.TRUE


def _decide(
    allows: Iterable[_Statement],
    denies: Iterable[_Statement],
    caller: _Identity,
    external_id: str | None,
    action: str = ASSUME_ROLE,
) -> _Decision:
    best: list[tuple[Tri, _Statement | None, Clause | None]] = [
        (Tri.FALSE, None, None),
        (Tri.FALSE, None, None),
    ]
    for slot, statements in enumerate((allows, denies)):
        for statement in statements:
            result, clause = statement.applies(caller, action, external_id)
            if result > best[slot][0]:
                best[slot] = (result, statement, clause)
    return _Decision(*best[0], *best[1])


def _error(code: str, message: str) -> TrustVerdict:
    return TrustVerdict("error", (TrustProblem("fail", code, message, None),), ())


class _Evaluation:
    """One evaluation of a parsed policy; collects problems and evidence."""

    def __init__(self, statements: Sequence[_Statement], required: Sequence[RequiredTrust], role: _Identity):
        self.statements = statements
        active = [s for s in statements if s.unsupported is None]
        self.active = active
        self.allows = [s for s in active if s.effect == "Allow"]
        self.denies = [s for s in active if s.effect == "Deny"]
        self.required = required
        self.role = role
        self.required_ids = tuple(dict.fromkeys(p.external_id for p in required))
        self.problems: list[TrustProblem] = []
        self.evidence: list[str] = []
        self.callers: dict[str, _Identity] = {}  # required principal ARN -> identity, usable pairs only

    def verdict(self) -> TrustVerdict:
        for statement in self.statements:
            if statement.unsupported:
                self._add("fail", statement.unsupported[0], statement, statement.unsupported[1])
        self._check_required_principals()
        self._lint_statements()
        for pair in self.required:
            if pair.principal_arn in self.callers:
                self._check_pair(pair)
        probes = external_id_probe_values([c for s in self.active for c in s.clauses], self.required_ids)
        for arn, caller in self.callers.items():
            self._check_external_id(arn, caller, probes)
        for statement in self.allows:
            if statement.grants_assumption:
                self._check_trusted_principals(statement, probes)
        problems = tuple(dict.fromkeys(self.problems))
        severities = {p.severity for p in problems}
        status: Literal["pass", "warn", "fail"] = "pass"
        if severities:
            status = "fail" if "fail" in severities else "warn"
        return TrustVerdict(status, problems, tuple(self.evidence))

    def _add(self, severity: Severity, code: str, statement: _Statement | None, message: str) -> None:
        self.problems.append(TrustProblem(severity, code, message, statement.ref if statement else None))

    def _check_required_principals(self) -> None:
        for pair in self.required:
            caller = _identity(pair.principal_arn)
            if caller is None:
                self._add(
                    "fail", "invalid-required-principal", None, f"{pair.describe()}: not a role, user or session ARN"
                )
            elif caller.partition != self.role.partition:
                self._add(
                    "fail",
                    "partition-mismatch",
                    None,
                    f"{pair.describe()}: partition {caller.partition!r} never matches in role "
                    f"{self.role.arn} (partition {self.role.partition!r})",
                )
            else:
                self.callers[pair.principal_arn] = caller

    def _lint_statements(self) -> None:
        for statement in self.active:
            if not statement.principals:
                self._add(
                    "warn",
                    "missing-principal",
                    statement,
                    f"{statement.label} has no Principal: it grants nothing (IAM rejects it on save)",
                )
            if not statement.grants_assumption:
                continue
            wildcard = any(
                ("*" in action or "?" in action) and glob_match(action, ASSUME_ROLE, ignore_case=True)
                for action in statement.actions
            )
            if statement.covers(ASSUME_ROLE) and (statement.not_action or wildcard):
                written = f"{'NotAction' if statement.not_action else 'Action'} {list(statement.actions)!r}"
                self._add(
                    "warn",
                    "broad-action",
                    statement,
                    f"{statement.label} allows sts:AssumeRole through {written}, broader than the "
                    '"sts:AssumeRole" the guide asks for',
                )
            for clause in statement.clauses:
                if clause.key == EXTERNAL_ID_KEY:
                    self._lint_external_id_clause(statement, clause)

    def _lint_external_id_clause(self, statement: _Statement, clause: Clause) -> None:
        if clause.qualifier:
            self._add(
                "warn",
                "external-id-set-operator",
                statement,
                f"{statement.label} uses {clause.operator} on the single-valued sts:ExternalId; use StringEquals",
            )
        if clause.negated or clause.qualifier == "ForAllValues" or clause.if_exists:
            return
        for value in clause.values:
            if clause.base == "StringEquals" and not _STS_EXTERNAL_ID_RE.match(value):
                self._add(
                    "warn",
                    "external-id-format",
                    statement,
                    f"{statement.label} expects external ID {value!r}, which STS refuses "
                    "(2-1224 characters of letters, digits and +=,.@:/-)",
                )
            if clause.base not in _CASE_SENSITIVE_EQUALS:
                continue
            for pair in self.required:
                if value != pair.external_id and value.casefold() == pair.external_id.casefold():
                    self._add(
                        "fail",
                        "external-id-wrong-case",
                        statement,
                        f"{statement.label} compares sts:ExternalId with {value!r} under "
                        f"{clause.operator}, which is case-sensitive: {pair.describe()} does not match",
                    )

    def _check_pair(self, pair: RequiredTrust) -> None:
        caller = self.callers[pair.principal_arn]
        decision = _decide(self.allows, self.denies, caller, pair.external_id)
        allowed_by, denied_by = decision.allowed_by, decision.denied_by
        if decision.deny is Tri.TRUE:
            self._add(
                "fail",
                "pair-denied",
                denied_by,
                f"{pair.describe()} is explicitly denied by {_label(denied_by)}; an explicit Deny beats every Allow",
            )
            return
        if decision.allow is Tri.FALSE:
            near_miss, reason = self._why_not_allowed(caller, pair.external_id)
            self._add("fail", "pair-not-allowed", near_miss, f"{pair.describe()} cannot assume the role: {reason}")
            return
        if decision.allow is Tri.UNKNOWN:
            self._add(
                "warn",
                "pair-unverifiable-condition",
                allowed_by,
                f"{pair.describe()} is allowed by {_label(allowed_by)} only if "
                f"{_describe(decision.allow_clause)} holds, which cannot be verified here",
            )
        if decision.deny is Tri.UNKNOWN:
            self._add(
                "warn",
                "pair-maybe-denied",
                denied_by,
                f"{pair.describe()} is denied by {_label(denied_by)} if "
                f"{_describe(decision.deny_clause)} holds, which cannot be verified here",
            )
        self.evidence.append(f"{pair.describe()}: allowed by {_label(allowed_by)}")
        principals = (allowed_by.principals or ()) if allowed_by else ()
        named = any(p.kind in ("arn", "anyone") and p.matches(caller) for p in principals)
        if allowed_by is not None and caller.arn == self.role.arn and not named:
            self.evidence.append(
                f"{pair.label}: trusted through its account in {allowed_by.label}; the role's identity "
                "policy must also allow sts:AssumeRole on itself, which the trust policy cannot show"
            )

    def _why_not_allowed(self, caller: _Identity, external_id: str) -> tuple[_Statement | None, str]:
        for statement in self.allows:
            if not any(p.matches(caller) for p in statement.principals or ()):
                continue
            if not statement.covers(ASSUME_ROLE):
                return statement, f"{statement.label} names the principal but does not allow sts:AssumeRole"
            context = RequestContext(caller.arn, caller.account, external_id)
            _, clause = evaluate_conditions(statement.clauses, context)
            return statement, (
                f"{statement.label} names the principal but {_describe(clause)} is false "
                f"for external ID {external_id!r}"
            )
        return None, "no Allow statement names this principal (or its account) for sts:AssumeRole"

    def _check_external_id(self, arn: str, caller: _Identity, probes: frozenset[str]) -> None:
        labels = dict.fromkeys(p.label for p in self.required if p.principal_arn == arn)
        who = f"{' and '.join(labels)} ({arn})"
        absent = _decide(self.allows, self.denies, caller, None)
        if absent.permitted:
            self._add(
                "fail",
                "assumable-without-external-id",
                absent.allowed_by,
                f"{who} can assume the role without sending an external ID through "
                f"{_label(absent.allowed_by)}{_external_id_hint(absent.allowed_by)}",
            )
        folded_required = {r.casefold(): r for r in self.required_ids}
        wrong: list[tuple[str, _Decision]] = []
        case_only: list[tuple[str, _Decision]] = []
        # The sentinel first, so that messages show a plausible wrong ID rather than "" when several get in.
        wrong_ids = probes - set(self.required_ids)
        ordered = sorted(wrong_ids, key=lambda v: (v != PROBE_EXTERNAL_ID, len(v) < 2, v))
        for probe in ordered:
            decision = _decide(self.allows, self.denies, caller, probe)
            if not decision.permitted:
                continue
            exact = folded_required.get(probe.casefold())
            if exact is None:
                wrong.append((probe, decision))
            elif _decide(self.allows, self.denies, caller, exact).permitted:
                case_only.append((probe, decision))
        if wrong:
            probe, decision = wrong[0]
            self._add(
                "fail",
                "wrong-external-id-accepted",
                decision.allowed_by,
                f"{who} can assume the role with external ID {probe!r}, none of the required IDs "
                f"{list(self.required_ids)}, through {_label(decision.allowed_by)}"
                f"{_external_id_hint(decision.allowed_by)}",
            )
        elif case_only:
            probe, decision = case_only[0]
            self._add(
                "warn",
                "external-id-case-insensitive",
                decision.allowed_by,
                f"{who} can assume the role with external ID {probe!r}, another case of a required "
                f"ID, through {_label(decision.allowed_by)}; use StringEquals",
            )

    def _check_trusted_principals(self, statement: _Statement, probes: frozenset[str]) -> None:
        where = statement.label
        for principal in statement.principals or ():
            if principal.kind == "dangling":
                self._add(
                    "fail",
                    "dangling-principal",
                    statement,
                    f"{where} trusts {principal.text!r}, the unique ID of a deleted or recreated "
                    "role or user: re-save the principal's ARN",
                )
            elif principal.kind == "foreign":
                self._add(
                    "warn",
                    "foreign-partition-principal",
                    statement,
                    f"{where} names {principal.text!r}, from another partition than the role's "
                    f"{self.role.partition!r}: it never matches",
                )
            elif principal.kind == "invalid":
                self._add(
                    "fail",
                    "unsupported-principal",
                    statement,
                    f"{where} names principal {principal.text!r}, which is not a supported form",
                )
            elif principal.kind == "non_aws":
                self._unrelated(statement, principal.text)
            elif principal.kind == "anyone":
                self._check_anyone(statement, probes)
            elif principal.kind == "account":
                self._check_account(statement, principal, probes)
            elif principal.text not in self.callers:
                caller = _Identity(principal.text, principal.partition, principal.account)
                if self._lets_in(statement, caller, probes):
                    self._unrelated(statement, principal.text)

    def _check_anyone(self, statement: _Statement, probes: frozenset[str]) -> None:
        if self._lets_in(statement, self._probe_caller(self._outsider_account()), probes):
            self._add(
                "fail",
                "anyone-trusted",
                statement,
                f'{statement.label} trusts Principal "*" and its conditions do not restrict it to '
                f"{self._required_names()}: any AWS principal knowing an external ID can assume "
                "the role (external IDs are not secrets)",
            )
            return
        for caller in self._condition_callers(statement):
            if self._lets_in(statement, caller, probes):
                self._unrelated(statement, f'{caller.arn} (through Principal "*")')

    def _check_account(self, statement: _Statement, principal: _Principal, probes: frozenset[str]) -> None:
        for caller in self._condition_callers(statement):
            if caller.account == principal.account and self._lets_in(statement, caller, probes):
                self._unrelated(statement, f"{caller.arn} (through account {principal.text!r})")
        if not self._lets_in(statement, self._probe_caller(principal.account), probes):
            return
        served = [
            p.label
            for p in self.required
            if p.principal_arn in self.callers and self.callers[p.principal_arn].account == principal.account
        ]
        if not served:
            self._unrelated(statement, f"account {principal.account} ({principal.text!r})")
            return
        self._add(
            "warn",
            "account-wide-trust",
            statement,
            f"{statement.label} trusts the whole account {principal.account} ({principal.text!r}), "
            f"not just {' and '.join(dict.fromkeys(served))}: anyone its admins allow can assume "
            "the role; name the role ARN instead",
        )

    def _unrelated(self, statement: _Statement, what: str) -> None:
        self._add(
            "fail",
            "unrelated-principal",
            statement,
            f"{statement.label} lets {what} assume the role; the guide trusts only {self._required_names()}",
        )

    def _condition_callers(self, statement: _Statement) -> list[_Identity]:
        """Principals other than the required ones that the statement's conditions name explicitly."""
        found: list[_Identity] = []
        for clause in statement.clauses:
            for value in clause.values if clause.key == PRINCIPAL_ARN_KEY else ():
                caller = None if "*" in value or "?" in value else _identity(value)
                if caller and caller.partition == self.role.partition and caller.arn not in self.callers:
                    found.append(caller)
            for value in clause.values if clause.key == PRINCIPAL_ACCOUNT_KEY else ():
                if _ACCOUNT_RE.match(value):
                    found.append(self._probe_caller(value))
        return found

    def _probe_caller(self, account: str) -> _Identity:
        arn = f"arn:{self.role.partition}:iam::{account}:role/{_PROBE_ROLE_NAME}"
        return _Identity(arn, self.role.partition, account)

    def _lets_in(self, statement: _Statement, caller: _Identity, probes: frozenset[str]) -> bool:
        """Whether ``statement`` may let ``caller`` in with some external ID (or none), despite every Deny."""
        values: list[str | None] = [None, *sorted(probes | set(self.required_ids))]
        return any(
            _decide((statement,), self.denies, caller, value, action).permitted
            for action in statement.granting_actions
            for value in values
        )

    def _required_names(self) -> str:
        return ", ".join(f"{p.label} ({p.principal_arn})" for p in self.required)

    def _outsider_account(self) -> str:
        taken = {c.account for c in self.callers.values()} | {self.role.account}
        return next(a for a in ("999999999999", "999999999998", "999999999997", "999999999996") if a not in taken)


def _label(statement: _Statement | None) -> str:
    return statement.label if statement else "no statement"


def _describe(clause: Clause | None) -> str:
    return f"the condition {clause.describe()}" if clause else "its condition"


def _external_id_hint(statement: _Statement | None) -> str:
    if statement is None:
        return ""
    clauses = [c for c in statement.clauses if c.key == EXTERNAL_ID_KEY]
    if not clauses:
        return ", which does not check sts:ExternalId"
    return " (" + "; ".join(c.describe() for c in clauses) + ")"


def evaluate_trust(
    document: dict[str, Any] | str | None, required: Sequence[RequiredTrust], role_arn: str
) -> TrustVerdict:
    """Decide whether a role's trust policy allows exactly the required pairs (reference §10).

    ``document`` is what ``iam.get_role`` returned (normally a dict; a str when botocore could not decode
    it). An undecodable or malformed document, or an invalid role ARN, is an ``error`` verdict, never a pass.
    """
    if not required:
        raise ValueError("evaluate_trust needs at least one required pair")
    role = _identity(role_arn)
    if role is None:
        return _error("invalid-role-arn", f"{role_arn!r} is not an IAM role ARN")
    try:
        statements = _parse_document(decode_policy(document), role.partition)
    except PolicyDecodeError as exc:
        return _error("undecodable-policy", f"trust policy of {role_arn}: {exc}")
    except _MalformedError as exc:
        return _error("malformed-policy", f"trust policy of {role_arn}: {exc}")
    return _Evaluation(statements, required, role).verdict()


# -------------------------------------------------------------------------------------------- remedies


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
    role = _identity(role_arn)
    partition = role.partition if role else "aws"
    raw_statements = _raw_statements(document)
    taken_sids = {str(s.get("Sid")) for s in raw_statements}
    sid = next(
        f"{SEGMENT_STATEMENT_SID}{n or ''}"
        for n in range(len(taken_sids) + 1)
        if f"{SEGMENT_STATEMENT_SID}{n or ''}" not in taken_sids
    )
    full = _allow_statement(required, sid)
    baseline = _outcome([full], required, role_arn)
    kept: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_statements):
        try:
            statement = _parse_statement(raw, index, partition)
        except _MalformedError:
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
        if evaluate_trust(_policy(candidate), required, role_arn).status == "pass":
            return _policy(candidate)
    return _policy([full])


def update_command(role_arn: str, policy: dict[str, Any]) -> str:
    """The ``aws iam update-assume-role-policy`` command that installs ``policy``, shell-quoted."""
    role_name = role_arn.rsplit("/", 1)[-1]
    document = json.dumps(policy, separators=(",", ":"))
    return (
        f"aws iam update-assume-role-policy --role-name {shlex.quote(role_name)} "
        f"--policy-document {shlex.quote(document)}"
    )


def _policy(statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def _raw_statements(document: dict[str, Any] | str | None) -> list[dict[str, Any]]:
    try:
        raw = decode_policy(document).get("Statement", [])
    except PolicyDecodeError:
        return []
    raw = [raw] if isinstance(raw, dict) else raw
    return [s for s in raw if isinstance(s, dict)] if isinstance(raw, list) else []


def _sound_alone(raw: dict[str, Any], required: Sequence[RequiredTrust], role_arn: str) -> bool:
    """Whether an assume statement, on its own, has no problem but pairs it does not name (or, for the
    guide's shape, pairs whose external ID is missing, which ``_add_missing`` adds)."""
    verdict = evaluate_trust(_policy([raw]), required, role_arn)
    if verdict.status == "error" or not verdict.codes <= {"pair-not-allowed"}:
        return False
    near_misses = [p for p in verdict.problems if p.statement is not None]
    return not near_misses or _guide_shaped_external_id_key(raw) is not None


def _grants(raw: dict[str, Any], partition: str) -> bool:
    return _parse_statement(raw, 0, partition).grants_assumption


def _outcome(
    statements: Sequence[dict[str, Any]], required: Sequence[RequiredTrust], role_arn: str
) -> tuple[str, frozenset[str]]:
    verdict = evaluate_trust(_policy(statements), required, role_arn)
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
    role = _identity(role_arn)
    if role is None:
        return statements
    parsed = [_parse_statement(raw, i, role.partition) for i, raw in enumerate(statements)]
    allows = [s for s in parsed if s.effect == "Allow"]
    denies = [s for s in parsed if s.effect == "Deny"]
    missing = []
    for pair in required:
        caller = _identity(pair.principal_arn)
        decision = _decide(allows, denies, caller, pair.external_id) if caller else None
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
