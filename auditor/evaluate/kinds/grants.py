"""Checks on Unity Catalog and hive_metastore grants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field, model_validator

from auditor.evaluate.context import EvalContext
from auditor.evaluate.context import RequiredGrant as Required
from auditor.evaluate.kinds._common import GrantableType, Names, NonEmpty, Privileges, subject_of
from auditor.evaluate.registry import CheckKind, KindArgs, Outcome, register
from auditor.model.facts import FactFamily, Grant, SecurableType
from auditor.model.findings import Remediation, Status
from auditor.model.plan import CollectionPlan, SecurableRef
from auditor.privileges.databricks import OWNERSHIP_DOC, describe_denial
from auditor.privileges.names import is_hive, split_full_name, sql_spelling
from auditor.remediate.sql import grant_statement, revoke_statement


def grant_fix(privileges: Sequence[str], securable_type: SecurableType, full_name: str, principal: str) -> Remediation:
    statement = grant_statement(list(privileges), securable_type.value, split_full_name(full_name), principal)
    spelled = ", ".join(sql_spelling(p) for p in privileges)
    return Remediation(
        summary=f"grant {spelled} on {securable_type.value} {full_name} to {principal}",
        grant_sql=(statement,),
    )


def grant_plan(principal: str, securables: Sequence[tuple[SecurableType, str]]) -> CollectionPlan:
    """Grants on the securables (and their ancestors), their existence, and the principal's groups."""
    return CollectionPlan(
        families=frozenset({FactFamily.SECURABLES, FactFamily.GRANTS, FactFamily.PRINCIPALS}),
        securables=frozenset(SecurableRef(type=t, full_name=n) for t, n in securables),
        storage_credentials=frozenset(n for t, n in securables if t is SecurableType.STORAGE_CREDENTIAL),
        external_locations=frozenset(n for t, n in securables if t is SecurableType.EXTERNAL_LOCATION),
        principals=frozenset({principal}),
        needs_hive_metastore=any(is_hive(n) for _, n in securables),
    )


def check_grant(
    ctx: EvalContext,
    principal: str,
    securable_type: SecurableType,
    full_name: str,
    privileges: Sequence[str],
    *,
    if_exists: bool = False,
) -> Outcome:
    """The heart of every grant rule: proven held (pass) or proven missing (fail); unread facts give error."""
    return ctx.settle(ctx.judge(_grant, ctx, principal, securable_type, full_name, privileges, if_exists))


def _owned_but_not_held(
    ctx: EvalContext, principal: str, securable_type: SecurableType, full_name: str, missing: Sequence[str]
) -> tuple[str, ...]:
    """Why an owner still lacks privileges on what it owns (`owner_holds`), when it does."""
    owner = ctx.facts.privileges.owner_of(securable_type, full_name)
    if owner is None or owner.lower() not in {principal.lower(), *ctx.facts.groups_of(principal)}:
        return ()
    return (
        f"{owner} owns {securable_type.value} {full_name}, which gives every privilege on the object itself but "
        f"not {', '.join(sql_spelling(m) for m in missing)}: ownership reaches neither the objects inside a catalog or "
        f"schema nor EXTERNAL USE SCHEMA / LOCATION ({OWNERSHIP_DOC})",
    )


def _grant(
    ctx: EvalContext,
    principal: str,
    securable_type: SecurableType,
    full_name: str,
    privileges: Sequence[str],
    if_exists: bool,
) -> Outcome:
    subject = subject_of(securable_type, full_name)
    expected = ", ".join(sql_spelling(p) for p in privileges)
    if not ctx.facts.exists(securable_type, full_name):
        if if_exists:
            return Outcome(Status.PASS, subject, f"{securable_type.value} {full_name} does not exist: not applicable")
        return Outcome(
            Status.FAIL,
            subject,
            f"{securable_type.value} {full_name} does not exist",
            expected=f"{expected} for {principal}",
            found="no such securable",
            remediation=Remediation(
                summary=f"create {securable_type.value} {full_name}, then grant {expected} to {principal}"
            ),
        )
    missing, held = ctx.facts.missing(principal, privileges, securable_type, full_name)
    evidence = tuple(e.describe() for e in held)
    if not missing:
        return Outcome(
            Status.PASS,
            subject,
            f"{principal} holds {expected} on {securable_type.value} {full_name}",
            expected=expected,
            found=expected,
            evidence=evidence,
        )
    lacking = ", ".join(sql_spelling(m) for m in missing)
    holding = ", ".join(sql_spelling(p) for p in privileges if p not in missing)
    denials = ctx.facts.denials(principal, missing, securable_type, full_name)
    remediation = grant_fix(missing, securable_type, full_name, principal)
    if denials:
        remediation = undeny_fix(denials, remediation)
    return Outcome(
        Status.FAIL,
        subject,
        f"{principal} lacks {lacking} on {securable_type.value} {full_name}",
        expected=expected,
        found=holding or "nothing",
        evidence=evidence
        + tuple(describe_denial(d) for d in denials)
        + _owned_but_not_held(ctx, principal, securable_type, full_name, missing),
        remediation=remediation,
    )


def undeny_fix(denials: Sequence[Grant], remediation: Remediation) -> Remediation:
    """Lift each DENY first: "To undo a DENY you REVOKE the same privilege" (docs, sql/language-manual/security-deny).

    ``REVOKE <privilege> ON <securable> FROM <principal>`` undoes a DENY; a GRANT alone stays overridden.
    """
    revokes = tuple(
        revoke_statement([d.privilege], d.securable_type, split_full_name(d.securable_name), d.principal)
        for d in denials
    )
    return remediation.model_copy(
        update={
            "summary": "lift the DENY (REVOKE the same privilege), then " + remediation.summary,
            "grant_sql": revokes + remediation.grant_sql,
        }
    )


class RequiredGrantArgs(KindArgs):
    principal: NonEmpty
    securable_type: GrantableType
    securables: Names = Field(min_length=0, description="full names; one finding each")
    privileges: Privileges = Field(min_length=1)
    if_exists: bool = Field(False, description="pass as not applicable when the securable does not exist")
    also_allowed: Privileges = Field(
        (),
        description="tolerated by least-privilege checks (e.g. ALL PRIVILEGES when the document also grants that)",
    )


@register
class RequiredGrant(CheckKind[RequiredGrantArgs]):
    """The principal holds the privileges on each securable (directly, via groups, inherited or as owner)."""

    name = "required_grant"
    Args = RequiredGrantArgs
    families = frozenset({FactFamily.SECURABLES, FactFamily.GRANTS, FactFamily.PRINCIPALS})

    def plan(self, args: RequiredGrantArgs) -> CollectionPlan:
        return grant_plan(args.principal, [(SecurableType(args.securable_type), n) for n in args.securables])

    def required(self, args: RequiredGrantArgs) -> list[Required]:
        kind = SecurableType(args.securable_type)
        return [
            Required(args.principal, kind, n, frozenset(args.privileges) | frozenset(args.also_allowed))
            for n in args.securables
        ]

    def evaluate(self, args: RequiredGrantArgs, ctx: EvalContext) -> list[Outcome]:
        kind = SecurableType(args.securable_type)
        return [
            check_grant(ctx, args.principal, kind, name, args.privileges, if_exists=args.if_exists)
            for name in args.securables
        ]


class Alternative(KindArgs):
    securable_type: GrantableType
    securable: NonEmpty
    privileges: Privileges = Field(min_length=1)


class AnyGrantArgs(KindArgs):
    principal: NonEmpty
    alternatives: tuple[Alternative, ...] = Field(min_length=2)


@register
class AnyGrant(CheckKind[AnyGrantArgs]):
    """At least one of several grants holds (e.g. CREATE on the catalog, or ALL PRIVILEGES on an existing schema)."""

    name = "any_grant"
    Args = AnyGrantArgs
    families = RequiredGrant.families

    def plan(self, args: AnyGrantArgs) -> CollectionPlan:
        return grant_plan(args.principal, [(SecurableType(a.securable_type), a.securable) for a in args.alternatives])

    def required(self, args: AnyGrantArgs) -> list[Required]:
        return [
            Required(args.principal, SecurableType(a.securable_type), a.securable, frozenset(a.privileges))
            for a in args.alternatives
        ]

    def evaluate(self, args: AnyGrantArgs, ctx: EvalContext) -> list[Outcome]:
        results: list[Outcome] = []
        for alt in args.alternatives:
            kind = SecurableType(alt.securable_type)
            outcome = check_grant(ctx, args.principal, kind, alt.securable, alt.privileges)
            if outcome.status is Status.PASS:  # one alternative that holds is enough
                return [outcome]
            results.append(outcome)
        subject = results[0].subject
        errors = [r for r in results if r.status is Status.ERROR]
        if errors:
            return [Outcome(Status.ERROR, subject, "; ".join(r.message for r in errors))]
        relied_on = tuple(scope for r in results for scope in r.relied_on)
        return [
            Outcome(
                Status.FAIL,
                subject,
                "none of the alternatives holds: " + "; ".join(r.message for r in results),
                expected=" or ".join(r.expected or r.subject for r in results),
                evidence=tuple(e for r in results for e in r.evidence),
                remediation=next((r.remediation for r in results if not r.remediation.empty), Remediation()),
                relied_on=relied_on,
            )
        ]


class ReadScope(KindArgs):
    scope: Literal["catalog", "schema", "table"] = "catalog"
    schemas: Names = ()
    tables: Names = ()

    @model_validator(mode="after")
    def _names_match_scope(self) -> ReadScope:
        if self.scope == "schema" and not self.schemas:
            raise ValueError("scope 'schema' needs the list of schemas")
        if self.scope == "table" and not self.tables:
            raise ValueError("scope 'table' needs the list of tables")
        return self


class ReadAccessArgs(KindArgs):
    principal: NonEmpty
    catalogs: Names
    scopes: dict[str, ReadScope] = Field(default_factory=dict, description="per-catalog narrower scope")
    effective: bool = Field(False, description="also prove the access is usable: principal active, catalog open")
    scoped_only: bool = Field(False, description="check only the catalogs listed in scopes")

    def targets(self) -> tuple[str, ...]:
        return tuple(self.scopes) if self.scoped_only else self.catalogs


def read_requirements(catalog: str, scope: ReadScope) -> list[tuple[SecurableType, str, tuple[str, ...]]]:
    """What read-only access means at each scope, as the Data Graph document grants it."""
    if scope.scope == "catalog":
        return [(SecurableType.CATALOG, catalog, ("USE_CATALOG", "USE_SCHEMA", "SELECT"))]
    needs: list[tuple[SecurableType, str, tuple[str, ...]]] = [(SecurableType.CATALOG, catalog, ("USE_CATALOG",))]
    if scope.scope == "schema":
        needs += [(SecurableType.SCHEMA, _qualify(catalog, s), ("USE_SCHEMA", "SELECT")) for s in scope.schemas]
        return needs
    schemas = sorted({_qualify(catalog, t).rsplit(".", 1)[0] for t in scope.tables})
    needs += [(SecurableType.SCHEMA, s, ("USE_SCHEMA",)) for s in schemas]
    needs += [(SecurableType.TABLE, _qualify(catalog, t), ("SELECT",)) for t in scope.tables]
    return needs


def _qualify(catalog: str, name: str) -> str:
    return name if name.lower().startswith(catalog.lower() + ".") else f"{catalog}.{name}"


def scope_for(args: ReadAccessArgs, catalog: str) -> ReadScope:
    lowered: Mapping[str, ReadScope] = {k.lower(): v for k, v in args.scopes.items()}
    return lowered.get(catalog.lower(), ReadScope())


@register
class ReadAccess(CheckKind[ReadAccessArgs]):
    """Read-only access to catalogs at catalog, schema or table scope: every gate on the path is held."""

    name = "read_access"
    Args = ReadAccessArgs
    families = RequiredGrant.families

    def plan(self, args: ReadAccessArgs) -> CollectionPlan:
        refs = [(t, n) for c in args.targets() for t, n, _ in read_requirements(c, scope_for(args, c))]
        return grant_plan(args.principal, refs)

    def required(self, args: ReadAccessArgs) -> list[Required]:
        return [
            Required(args.principal, t, n, frozenset(p))
            for c in args.targets()
            for t, n, p in read_requirements(c, scope_for(args, c))
        ]

    def evaluate(self, args: ReadAccessArgs, ctx: EvalContext) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for catalog in args.targets():
            parts = [
                check_grant(ctx, args.principal, t, n, privs)
                for t, n, privs in read_requirements(catalog, scope_for(args, catalog))
            ]
            if args.effective:
                parts.append(ctx.settle(ctx.judge(_usability, ctx, args.principal, catalog)))
            outcomes.append(_combine(subject_of(SecurableType.CATALOG, catalog), parts))
        return outcomes


def _usability(ctx: EvalContext, principal: str, catalog: str) -> Outcome:
    """Beyond grant rows: an inactive principal or an isolated catalog defeats every grant."""
    subject = subject_of(SecurableType.CATALOG, catalog)
    found: list[Outcome] = []
    who = ctx.facts.principal(principal)
    if who is None:
        found.append(Outcome(Status.FAIL, subject, f"principal {principal} does not exist in the workspace"))
    elif not who.active:
        found.append(Outcome(Status.FAIL, subject, f"principal {principal} is deactivated"))
    securable = ctx.facts.securable(SecurableType.CATALOG, catalog)
    if securable is not None and (securable.isolation_mode or "").upper().endswith("ISOLATED"):
        found.append(
            Outcome(
                Status.WARN,
                subject,
                f"catalog {catalog} is ISOLATED: usable only from bound workspaces (bindings are not audited)",
            )
        )
    return _combine(subject, found)


def _combine(subject: str, parts: Sequence[Outcome]) -> Outcome:
    """One outcome for a catalog: fail if any part fails, else error if any errs, else pass.

    The parts are settled (`EvalContext.settle`): a fail rests on the reads of the failing parts only,
    a pass on the reads of every part.
    """
    for status in (Status.FAIL, Status.ERROR, Status.WARN):
        bad = [p for p in parts if p.status is status]
        if bad:
            fixes = [s for p in bad for s in p.remediation.grant_sql]
            return Outcome(
                status,
                subject,
                "; ".join(p.message for p in bad),
                expected="; ".join(p.expected for p in bad if p.expected) or None,
                found="; ".join(p.found for p in bad if p.found) or None,
                evidence=tuple(e for p in parts for e in p.evidence),
                remediation=Remediation(
                    summary="; ".join(p.remediation.summary for p in bad if p.remediation.summary),
                    grant_sql=tuple(fixes),
                ),
                relied_on=tuple(scope for p in bad for scope in p.relied_on),
            )
    return Outcome(
        Status.PASS,
        subject,
        "; ".join(p.message for p in parts if p.message),
        evidence=tuple(e for p in parts for e in p.evidence),
        relied_on=tuple(scope for p in parts for scope in p.relied_on),
    )
