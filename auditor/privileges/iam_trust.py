"""Trust-policy semantics for the IAM role behind a Unity Catalog storage credential (requirement AWS-6).

Pure: documents in, verdicts out (decoding and parsing: `auditor.privileges.iam_policy`; the corrected
policy: `auditor.remediate.trust`). The required pairs are those of Segment's "Databricks Delta Lake
Destination (AWS)" guide, Step 4.3; statements are judged as AWS's IAM policy evaluation logic does.
Choices where that leaves room:

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

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from auditor.privileges.iam_conditions import (
    EXTERNAL_ID_KEY,
    PRINCIPAL_ACCOUNT_KEY,
    PRINCIPAL_ARN_KEY,
    PROBE_EXTERNAL_ID,
    Clause,
    RequestContext,
    Tri,
    evaluate_conditions,
    external_id_probe_values,
    glob_match,
)
from auditor.privileges.iam_policy import (
    ACCOUNT_ID_RE,
    ASSUME_ROLE,
    CallerIdentity,
    MalformedPolicyError,
    PolicyDecodeError,
    Statement,
    TrustedPrincipal,
    caller_identity,
    decode_policy,
    parse_policy,
)

SEGMENT_ROLE_ARN: Final = "arn:aws:iam::595280932656:role/segment-storage-destinations-production-access"

_STS_EXTERNAL_ID_RE: Final = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
_CASE_SENSITIVE_EQUALS: Final = frozenset({"StringEquals", "StringLike"})
_PROBE_ROLE_NAME: Final = "grants-auditor-probe-role"


Severity = Literal["fail", "warn"]


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


# ---- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allow: Tri
    allowed_by: Statement | None
    allow_clause: Clause | None
    deny: Tri
    denied_by: Statement | None
    deny_clause: Clause | None

    @property
    def permitted(self) -> bool:
        """Possibly allowed and not certainly denied: how an outsider or a wrong external ID is judged."""
        return self.allow is not Tri.FALSE and self.deny is not Tri.TRUE


def decide(
    allows: Iterable[Statement],
    denies: Iterable[Statement],
    caller: CallerIdentity,
    external_id: str | None,
    action: str = ASSUME_ROLE,
) -> Decision:
    best: list[tuple[Tri, Statement | None, Clause | None]] = [
        (Tri.FALSE, None, None),
        (Tri.FALSE, None, None),
    ]
    for slot, statements in enumerate((allows, denies)):
        for statement in statements:
            result, clause = statement.applies(caller, action, external_id)
            if result > best[slot][0]:
                best[slot] = (result, statement, clause)
    return Decision(*best[0], *best[1])


def _error(code: str, message: str) -> TrustVerdict:
    return TrustVerdict("error", (TrustProblem("fail", code, message, None),), ())


class _Evaluation:
    """One evaluation of a parsed policy; collects problems and evidence."""

    def __init__(self, statements: Sequence[Statement], required: Sequence[RequiredTrust], role: CallerIdentity):
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
        self.callers: dict[str, CallerIdentity] = {}  # required principal ARN -> identity, usable pairs only

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

    def _add(self, severity: Severity, code: str, statement: Statement | None, message: str) -> None:
        self.problems.append(TrustProblem(severity, code, message, statement.ref if statement else None))

    def _check_required_principals(self) -> None:
        for pair in self.required:
            caller = caller_identity(pair.principal_arn)
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

    def _lint_external_id_clause(self, statement: Statement, clause: Clause) -> None:
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
        decision = decide(self.allows, self.denies, caller, pair.external_id)
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

    def _why_not_allowed(self, caller: CallerIdentity, external_id: str) -> tuple[Statement | None, str]:
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

    def _check_external_id(self, arn: str, caller: CallerIdentity, probes: frozenset[str]) -> None:
        labels = dict.fromkeys(p.label for p in self.required if p.principal_arn == arn)
        who = f"{' and '.join(labels)} ({arn})"
        absent = decide(self.allows, self.denies, caller, None)
        if absent.permitted:
            self._add(
                "fail",
                "assumable-without-external-id",
                absent.allowed_by,
                f"{who} can assume the role without sending an external ID through "
                f"{_label(absent.allowed_by)}{_external_id_hint(absent.allowed_by)}",
            )
        folded_required = {r.casefold(): r for r in self.required_ids}
        wrong: list[tuple[str, Decision]] = []
        case_only: list[tuple[str, Decision]] = []
        # The sentinel first, so that messages show a plausible wrong ID rather than "" when several get in.
        wrong_ids = probes - set(self.required_ids)
        ordered = sorted(wrong_ids, key=lambda v: (v != PROBE_EXTERNAL_ID, len(v) < 2, v))
        for probe in ordered:
            decision = decide(self.allows, self.denies, caller, probe)
            if not decision.permitted:
                continue
            exact = folded_required.get(probe.casefold())
            if exact is None:
                wrong.append((probe, decision))
            elif decide(self.allows, self.denies, caller, exact).permitted:
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

    def _check_trusted_principals(self, statement: Statement, probes: frozenset[str]) -> None:
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
                caller = CallerIdentity(principal.text, principal.partition, principal.account)
                if self._lets_in(statement, caller, probes):
                    self._unrelated(statement, principal.text)

    def _check_anyone(self, statement: Statement, probes: frozenset[str]) -> None:
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

    def _check_account(self, statement: Statement, principal: TrustedPrincipal, probes: frozenset[str]) -> None:
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

    def _unrelated(self, statement: Statement, what: str) -> None:
        self._add(
            "fail",
            "unrelated-principal",
            statement,
            f"{statement.label} lets {what} assume the role; the guide trusts only {self._required_names()}",
        )

    def _condition_callers(self, statement: Statement) -> list[CallerIdentity]:
        """Principals other than the required ones that the statement's conditions name explicitly."""
        found: list[CallerIdentity] = []
        for clause in statement.clauses:
            for value in clause.values if clause.key == PRINCIPAL_ARN_KEY else ():
                caller = None if "*" in value or "?" in value else caller_identity(value)
                if caller and caller.partition == self.role.partition and caller.arn not in self.callers:
                    found.append(caller)
            for value in clause.values if clause.key == PRINCIPAL_ACCOUNT_KEY else ():
                if ACCOUNT_ID_RE.match(value):
                    found.append(self._probe_caller(value))
        return found

    def _probe_caller(self, account: str) -> CallerIdentity:
        arn = f"arn:{self.role.partition}:iam::{account}:role/{_PROBE_ROLE_NAME}"
        return CallerIdentity(arn, self.role.partition, account)

    def _lets_in(self, statement: Statement, caller: CallerIdentity, probes: frozenset[str]) -> bool:
        """Whether ``statement`` may let ``caller`` in with some external ID (or none), despite every Deny."""
        values: list[str | None] = [None, *sorted(probes | set(self.required_ids))]
        return any(
            decide((statement,), self.denies, caller, value, action).permitted
            for action in statement.granting_actions
            for value in values
        )

    def _required_names(self) -> str:
        return ", ".join(f"{p.label} ({p.principal_arn})" for p in self.required)

    def _outsider_account(self) -> str:
        taken = {c.account for c in self.callers.values()} | {self.role.account}
        return next(a for a in ("999999999999", "999999999998", "999999999997", "999999999996") if a not in taken)


def _label(statement: Statement | None) -> str:
    return statement.label if statement else "no statement"


def _describe(clause: Clause | None) -> str:
    return f"the condition {clause.describe()}" if clause else "its condition"


def _external_id_hint(statement: Statement | None) -> str:
    if statement is None:
        return ""
    clauses = [c for c in statement.clauses if c.key == EXTERNAL_ID_KEY]
    if not clauses:
        return ", which does not check sts:ExternalId"
    return " (" + "; ".join(c.describe() for c in clauses) + ")"


def evaluate_trust(
    document: dict[str, Any] | str | None, required: Sequence[RequiredTrust], role_arn: str
) -> TrustVerdict:
    """Decide whether a role's trust policy allows exactly the required pairs.

    ``document`` is what ``iam.get_role`` returned (normally a dict; a str when botocore could not decode
    it). An undecodable or malformed document, or an invalid role ARN, is an ``error`` verdict, never a pass.
    """
    if not required:
        raise ValueError("evaluate_trust needs at least one required pair")
    role = caller_identity(role_arn)
    if role is None:
        return _error("invalid-role-arn", f"{role_arn!r} is not an IAM role ARN")
    try:
        statements = parse_policy(decode_policy(document), role.partition)
    except PolicyDecodeError as exc:
        return _error("undecodable-policy", f"trust policy of {role_arn}: {exc}")
    except MalformedPolicyError as exc:
        return _error("malformed-policy", f"trust policy of {role_arn}: {exc}")
    return _Evaluation(statements, required, role).verdict()
