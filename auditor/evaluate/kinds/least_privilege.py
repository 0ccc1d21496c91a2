"""Beyond the documents: excess privilege (X-1), exposure of watched catalogs (X-2), the auditor's own
visibility (X-3)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from pydantic import Field

from auditor.evaluate.context import EvalContext, FactReader, RequiredGrant
from auditor.evaluate.kinds._common import Names, subject_of
from auditor.evaluate.kinds.workspace import level_rank
from auditor.evaluate.registry import CheckKind, KindArgs, Outcome, register
from auditor.model.facts import FactFamily, Grant, ReadState, SecurableType
from auditor.model.findings import Remediation, Status, listing
from auditor.model.plan import CollectionPlan, SecurableRef
from auditor.privileges.databricks import NOT_IMPLIED_BY_ALL_PRIVILEGES, canonical
from auditor.privileges.names import is_hive, lineage, sql_spelling
from auditor.remediate.sql import commented_revokes


def revoke_fix(grants: Iterable[Grant]) -> Remediation:
    """REVOKE suggestions, commented out: a reviewer decides; the auditor never revokes."""
    # principal -> securable type -> name -> privileges; walked in sorted order, which is the order of the
    # (principal, type, name) triples, but sorts plain strings (a million triples sharing a few principals
    # sort ten times slower as tuples)
    by_target: dict[str, dict[SecurableType, dict[str, list[str]]]] = {}
    for g in grants:
        of_principal = by_target.get(g.principal)
        if of_principal is None:
            of_principal = by_target[g.principal] = {}
        of_kind = of_principal.get(g.securable_type)
        if of_kind is None:
            of_kind = of_principal[g.securable_type] = {}
        privileges = of_kind.get(g.securable_name)
        if privileges is None:
            of_kind[g.securable_name] = [g.privilege]
        else:
            privileges.append(g.privilege)
    return Remediation(
        summary="review and, if not needed, revoke (suggestions are commented out)",
        revoke_sql=tuple(commented_revokes(_revoke_rows(by_target))),
    )


def _revoke_rows(
    by_target: dict[str, dict[SecurableType, dict[str, list[str]]]],
) -> Iterator[tuple[list[str], SecurableType, str, str]]:
    for principal in sorted(by_target):
        for kind, names in sorted(by_target[principal].items()):
            for name in sorted(names):
                privs = names[name]
                if len(privs) == 1:
                    yield privs, kind, name, principal
                    continue
                distinct = sorted(set(privs))
                # ALL PRIVILEGES cannot share a statement with other privileges
                if "ALL_PRIVILEGES" in distinct:
                    yield ["ALL_PRIVILEGES"], kind, name, principal
                rest = [p for p in distinct if p != "ALL_PRIVILEGES"]
                if rest:
                    yield rest, kind, name, principal


def _allowed(grant: Grant, required: Sequence[RequiredGrant]) -> bool:
    """A grant is needed when a requirement on its securable, or on an ancestor, asks for no less than it gives.

    A grant on an ancestor of what a rule requires is broader than needed (SELECT on a catalog where
    a schema was asked for), so it is excess; a grant below a requirement is within it.
    """
    hive = is_hive(grant.securable_name)
    gives = canonical(grant.privilege, grant.securable_type, hive=hive)
    within = {(t, n.lower()) for t, n in lineage(grant.securable_type, grant.securable_name)}
    for req in required:
        if (req.securable_type, req.full_name.lower()) not in within:
            continue
        asks = {c for p in req.privileges for c in canonical(p, req.securable_type, hive=hive)}
        asks |= {c for p in req.privileges for c in canonical(p, grant.securable_type, hive=hive)}
        if gives <= asks:
            return True
        # under a required ALL PRIVILEGES, anything it implies is redundant, not excess
        if "ALL_PRIVILEGES" in asks and not gives & NOT_IMPLIED_BY_ALL_PRIVILEGES:
            return True
    return False


class ExcessArgs(KindArgs):
    principals: Names = Field(default=(), description="default: every principal the target's integrations name")
    admin_groups: Names = ("admins",)


@register
class ExcessPrivilege(CheckKind[ExcessArgs]):
    """Any grant to a Segment principal beyond what its bound rules require, warehouse management, admin groups."""

    name = "excess_privilege"
    Args = ExcessArgs
    families = frozenset({FactFamily.GRANTS, FactFamily.PRINCIPALS, FactFamily.WAREHOUSE_ACLS})

    def plan(self, args: ExcessArgs) -> CollectionPlan:
        return CollectionPlan(
            families=self.families,
            grant_sweep_principals=frozenset(args.principals),
            principals=frozenset(args.principals),
        )

    def evaluate(self, args: ExcessArgs, ctx: EvalContext) -> list[Outcome]:
        principals = args.principals or ctx.bound_principals
        return [ctx.judge(self._one, p, args, ctx) for p in principals]

    def _one(self, principal: str, args: ExcessArgs, ctx: EvalContext) -> Outcome:
        subject = f"principal:{principal}"
        # Excess that was seen is excess, however partial the sweep: the fail rests on what is present.
        excess, problems = _excess(ctx.seen, principal, args, ctx)
        if problems:
            return Outcome(
                Status.FAIL,
                subject,
                f"{principal} holds more than its integrations need: " + listing(problems),
                expected="only the privileges the bound rules require",
                found="; ".join(problems),
                remediation=revoke_fix(excess),
            )
        _excess(ctx.facts, principal, args, ctx)  # "nothing beyond" rests on every sweep being complete
        return Outcome(Status.PASS, subject, f"{principal} holds nothing beyond what its integrations need")


def _excess(facts: FactReader, principal: str, args: ExcessArgs, ctx: EvalContext) -> tuple[list[Grant], list[str]]:
    """The principal's grants beyond what the bound rules require, and every excess described."""
    required = [r for r in ctx.required_grants if r.principal.lower() == principal.lower()]
    excess = [g for g in facts.grants_to(principal) if not _allowed(g, required)]
    problems = [f"{sql_spelling(g.privilege)} on {g.securable_type.value} {g.securable_name}" for g in excess]
    required_warehouses = {acl.object_id for acl in ctx.required_acls if acl.object_type == "warehouse"}
    for warehouse in facts.snapshot.warehouses:
        # only the ACLs of the warehouses the bound rules require were collected: only they vouch for "none"
        acl = facts.warehouse_acl(warehouse) if warehouse.id in required_warehouses else warehouse.acl
        for entry in acl:
            if (
                entry.principal.lower() == principal.lower()
                and level_rank(entry.permission_level) > level_rank("CAN_USE")
                and not entry.inherited
            ):
                problems.append(f"{entry.permission_level} on warehouse {warehouse.name}")
    for warehouse_id in sorted(required_warehouses - {w.id for w in facts.snapshot.warehouses}):
        facts.read(FactFamily.WAREHOUSE_ACLS, warehouse_id)
    groups = facts.groups_of(principal)
    admin = [g for g in args.admin_groups if g.lower() in groups]
    problems += [f"member of admin group {g} ({groups[g.lower()].describe()})" for g in admin]
    return excess, problems


class ExposureArgs(KindArgs):
    catalogs: Names = Field(default=(), description="default: the target's watched catalogs")
    allowed_principals: Names = Field(default=(), description="in addition to the integrations' principals")
    admin_groups: Names = ("admins",)


def watch_plan(catalogs: Iterable[str]) -> CollectionPlan:
    """Every grant in each catalog, and the catalog itself: its owner may hold anything."""
    return CollectionPlan(
        families=Exposure.families,
        watched_catalogs=frozenset(catalogs),
        securables=frozenset(SecurableRef(type=SecurableType.CATALOG, full_name=c) for c in catalogs),
    )


@register
class Exposure(CheckKind[ExposureArgs]):
    """Nobody but the configured principals (and owners, admins) holds anything in the catalogs Segment writes."""

    name = "exposure"
    Args = ExposureArgs
    families = frozenset({FactFamily.GRANTS, FactFamily.SECURABLES})

    def plan(self, args: ExposureArgs) -> CollectionPlan:
        return watch_plan(args.catalogs)

    def evaluate(self, args: ExposureArgs, ctx: EvalContext) -> list[Outcome]:
        catalogs = args.catalogs or ctx.snapshot.watch.catalogs
        allowed = {
            p.lower()
            for p in (
                *ctx.bound_principals,
                *ctx.snapshot.watch.principals,
                *args.allowed_principals,
                *args.admin_groups,
            )
        }
        return [ctx.judge(self._one, catalog, frozenset(allowed), ctx) for catalog in catalogs]

    def _one(self, catalog: str, allowed: frozenset[str], ctx: EvalContext) -> Outcome:
        subject = subject_of(SecurableType.CATALOG, catalog)
        securable = ctx.facts.securable(SecurableType.CATALOG, catalog)  # its owner may hold anything
        owners = {securable.owner.lower()} if securable and securable.owner else set()
        # An outsider's grant that was seen is exposure, however partial the sweep.
        insiders = allowed | owners
        exposed = [g for g in ctx.seen.grants_in_catalog(catalog) if g.principal.lower() not in insiders]
        if not exposed:
            ctx.facts.grants_in_catalog(catalog)  # "nobody else" rests on the whole sweep of the catalog
            return Outcome(Status.PASS, subject, f"only the integrations' principals hold privileges in {catalog}")
        outsiders = sorted({g.principal for g in exposed})
        return Outcome(
            Status.FAIL,
            subject,
            f"{len(outsiders)} principal(s) outside the integrations hold privileges in "
            f"{catalog}: " + listing(_Described(exposed)),
            expected="only the integrations' principals, owners and admins",
            found=", ".join(outsiders),
            remediation=revoke_fix(exposed),
        )


class _Described(Sequence[str]):
    """The exposed grants as a message names them, spelled only when read (a message shows a few of millions)."""

    def __init__(self, grants: Sequence[Grant]) -> None:
        self._grants = grants

    def __len__(self) -> int:
        return len(self._grants)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self._describe(g) for g in self._grants[index]]
        return self._describe(self._grants[index])

    @staticmethod
    def _describe(g: Grant) -> str:
        return f"{g.principal}: {sql_spelling(g.privilege)} on {g.securable_type.value} {g.securable_name}"


class VisibilityArgs(KindArgs):
    pass


@register
class AuditorVisibility(CheckKind[VisibilityArgs]):
    """The auditor's own identity can read every fact the target's rules need (so a blind spot is never a pass)."""

    name = "auditor_visibility"
    Args = VisibilityArgs
    families = frozenset({FactFamily.IDENTITY})

    def plan(self, args: VisibilityArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families)

    def evaluate(self, args: VisibilityArgs, ctx: EvalContext) -> list[Outcome]:
        identity = ctx.snapshot.auditor_identity or "the auditor"
        subject = "auditor"  # not the identity: it is read too, and a finding must not move when that read fails
        ctx.facts.read(FactFamily.IDENTITY)
        # Exempt from the engine's rule by design: X-3 judges read statuses themselves (NOT_VISIBLE
        # fails, FAILED errs), so it reads them from the snapshot, never through `ctx.facts`.
        hidden = sorted(
            {
                f"{r.family.value}" + ("" if r.scope == "*" else f" [{r.scope}]")
                for r in ctx.snapshot.reads
                if r.state is ReadState.NOT_VISIBLE
            }
        )
        failed = sorted(
            {
                f"{r.family.value}" + ("" if r.scope == "*" else f" [{r.scope}]")
                for r in ctx.snapshot.reads
                if r.state is ReadState.FAILED
            }
        )
        if hidden:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"not visible to {identity}: " + listing(hidden, separator=", "),
                    expected="every needed fact family readable",
                    found=f"{len(hidden)} not visible",
                    remediation=Remediation(
                        summary=f"grant {identity} read access (workspace admin, or "
                        "metastore admin / USE + BROWSE on the watched catalogs)"
                    ),
                )
            ]
        if failed:
            return [Outcome(Status.ERROR, subject, f"{identity} could not read: " + listing(failed, separator=", "))]
        return [Outcome(Status.PASS, subject, f"{identity} can read every fact family the rules need")]
