"""Checks on workspace objects: warehouses and their ACLs, token usage, entitlements, principals, settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import Field

from auditor.evaluate.context import EvalContext, RequiredAcl
from auditor.evaluate.kinds import _fixes
from auditor.evaluate.kinds._common import Names, NonEmpty
from auditor.evaluate.registry import CheckKind, KindArgs, Outcome, register
from auditor.model.facts import AclEntry, FactFamily, PrincipalKind
from auditor.model.findings import FixAction, Remediation, Status
from auditor.model.plan import CollectionPlan
from auditor.privileges.databricks import Membership, entitlements_through

# Warehouse and token permission levels, weakest first: a stronger level includes the weaker ones.
PERMISSION_ORDER: tuple[str, ...] = ("CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER")
PermissionLevel = Literal["CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER"]


def level_rank(level: str) -> int:
    return PERMISSION_ORDER.index(level) if level in PERMISSION_ORDER else -1


def best_acl_level(ctx: EvalContext, principal: str, acl: tuple[AclEntry, ...], needed: str) -> tuple[str | None, str]:
    """The strongest level the principal holds through the ACL (directly or via groups), and how.

    ``needed`` held directly rests on the ACL alone; any other answer (held through a group, or not
    held) also rests on the principal's memberships.
    """
    direct, _ = _best(principal, acl, {})
    if direct is not None and level_rank(direct) >= level_rank(needed):
        return _best(principal, acl, {})
    return _best(principal, acl, ctx.facts.groups_of(principal))


def _best(principal: str, acl: Iterable[AclEntry], groups: Mapping[str, Membership]) -> tuple[str | None, str]:
    best: tuple[str | None, str] = (None, "")
    for entry in acl:
        holder = entry.principal.lower()
        if holder == principal.lower():
            how = "directly"
        elif holder in groups:
            how = groups[holder].describe()
        else:
            continue
        if entry.inherited:
            how += f", inherited from {entry.inherited_from or 'a parent object'}"
        if best[0] is None or level_rank(entry.permission_level) > level_rank(best[0]):
            best = (entry.permission_level, how)
    return best


class WarehousePermissionArgs(KindArgs):
    principal: NonEmpty
    warehouse_id: NonEmpty
    level: PermissionLevel = "CAN_USE"


@register
class WarehousePermission(CheckKind[WarehousePermissionArgs]):
    """The principal holds at least ``level`` on the SQL warehouse (directly or via a group)."""

    name = "warehouse_permission"
    Args = WarehousePermissionArgs
    families = frozenset({FactFamily.WAREHOUSES, FactFamily.WAREHOUSE_ACLS, FactFamily.PRINCIPALS})

    def plan(self, args: WarehousePermissionArgs) -> CollectionPlan:
        return CollectionPlan(
            families=self.families,
            warehouses=frozenset({args.warehouse_id}),
            principals=frozenset({args.principal}),
        )

    def required(self, args: WarehousePermissionArgs) -> list[RequiredAcl]:
        return [RequiredAcl(args.principal, "warehouse", args.warehouse_id, args.level)]

    def evaluate(self, args: WarehousePermissionArgs, ctx: EvalContext) -> list[Outcome]:
        subject = f"warehouse:{args.warehouse_id}"
        warehouse = ctx.facts.warehouse(args.warehouse_id)
        if warehouse is None:
            return [Outcome(Status.FAIL, subject, f"warehouse {args.warehouse_id} does not exist")]
        level, how = best_acl_level(ctx, args.principal, ctx.facts.warehouse_acl(warehouse), args.level)
        wanted = args.level.replace("_", " ").title()
        if level is not None and level_rank(level) >= level_rank(args.level):
            return [
                Outcome(
                    Status.PASS,
                    subject,
                    f"{args.principal} has {level} on warehouse {warehouse.name}",
                    expected=args.level,
                    found=level,
                    evidence=(f"{level} {how}",),
                )
            ]
        fix = _fixes.warehouse_permission(
            args.warehouse_id, args.principal, ctx.principal_kind(args.principal), args.level
        )
        return [
            Outcome(
                Status.FAIL,
                subject,
                f"{args.principal} lacks {wanted} on warehouse {warehouse.name}"
                + (f" (has only {level})" if level else ""),
                expected=args.level,
                found=level or "no permission",
                evidence=(f"{level} {how}",) if level else (),
                remediation=fix,
            )
        ]


class TokenPermissionArgs(KindArgs):
    principal: NonEmpty
    level: Literal["CAN_USE", "CAN_MANAGE"] = "CAN_USE"


@register
class TokenPermission(CheckKind[TokenPermissionArgs]):
    """The principal may use personal access tokens (token usage permission, directly or via a group)."""

    name = "token_permission"
    Args = TokenPermissionArgs
    families = frozenset({FactFamily.TOKEN_PERMISSIONS, FactFamily.PRINCIPALS})

    def plan(self, args: TokenPermissionArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families, principals=frozenset({args.principal}))

    def required(self, args: TokenPermissionArgs) -> list[RequiredAcl]:
        return [RequiredAcl(args.principal, "tokens", "tokens", args.level)]

    def evaluate(self, args: TokenPermissionArgs, ctx: EvalContext) -> list[Outcome]:
        subject = "tokens"
        level, how = best_acl_level(ctx, args.principal, ctx.facts.token_permissions(), args.level)
        if level is not None and level_rank(level) >= level_rank(args.level):
            return [
                Outcome(
                    Status.PASS,
                    subject,
                    f"{args.principal} has {level} on token usage",
                    evidence=(f"{level} {how}",),
                )
            ]
        return [
            Outcome(
                Status.FAIL,
                subject,
                f"{args.principal} lacks {args.level} on token usage",
                expected=args.level,
                found=level or "no permission",
                remediation=_fixes.token_permission(args.principal, ctx.principal_kind(args.principal), args.level),
            )
        ]


class WarehouseStateArgs(KindArgs):
    warehouse_id: NonEmpty
    expect: tuple[str, ...] = Field(("STARTING", "RUNNING", "STOPPING", "STOPPED"), description="acceptable states")


@register
class WarehouseState(CheckKind[WarehouseStateArgs]):
    """The warehouse exists, is not deleted, and is in one of the expected states."""

    name = "warehouse_state"
    Args = WarehouseStateArgs
    families = frozenset({FactFamily.WAREHOUSES})

    def plan(self, args: WarehouseStateArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families, warehouses=frozenset({args.warehouse_id}))

    def evaluate(self, args: WarehouseStateArgs, ctx: EvalContext) -> list[Outcome]:
        subject = f"warehouse:{args.warehouse_id}"
        warehouse = ctx.facts.warehouse(args.warehouse_id)
        if warehouse is None or warehouse.state in {"DELETED", "DELETING"}:
            state = "does not exist" if warehouse is None else f"is {warehouse.state}"
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"warehouse {args.warehouse_id} {state}",
                    expected=" or ".join(args.expect),
                    found=warehouse.state if warehouse else "missing",
                )
            ]
        if warehouse.state not in args.expect:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"warehouse {warehouse.name} is {warehouse.state}",
                    expected=" or ".join(args.expect),
                    found=warehouse.state,
                    remediation=Remediation(
                        summary="start the warehouse",
                        commands=(f"databricks warehouses start {args.warehouse_id}",),
                        kind=FixAction.CHANGE,
                    ),
                )
            ]
        return [
            Outcome(
                Status.PASS,
                subject,
                f"warehouse {warehouse.name} is {warehouse.state}",
                found=warehouse.state,
            )
        ]


class WarehouseConfigArgs(KindArgs):
    warehouse_id: NonEmpty
    cluster_size: str | None = "Small"
    types: tuple[Literal["serverless", "pro", "classic"], ...] = ("serverless", "pro")
    min_num_clusters: int | None = Field(2, ge=1)
    max_num_clusters: int | None = Field(6, ge=1)


@register
class WarehouseConfig(CheckKind[WarehouseConfigArgs]):
    """The warehouse is sized and typed as the document recommends (usually an advisory rule)."""

    name = "warehouse_config"
    Args = WarehouseConfigArgs
    families = frozenset({FactFamily.WAREHOUSES})

    def plan(self, args: WarehouseConfigArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families, warehouses=frozenset({args.warehouse_id}))

    def evaluate(self, args: WarehouseConfigArgs, ctx: EvalContext) -> list[Outcome]:
        subject = f"warehouse:{args.warehouse_id}"
        w = ctx.facts.warehouse(args.warehouse_id)
        if w is None:
            return [Outcome(Status.FAIL, subject, f"warehouse {args.warehouse_id} does not exist")]
        kind = "serverless" if w.enable_serverless_compute else (w.warehouse_type or "classic").lower()
        found = f"{w.cluster_size}, {kind}, clusters {w.min_num_clusters}..{w.max_num_clusters}"
        expected = (
            f"{args.cluster_size}, {' else '.join(args.types)}, clusters "
            f"{args.min_num_clusters}..{args.max_num_clusters}"
        )
        problems = []
        if args.cluster_size and (w.cluster_size or "").lower() != args.cluster_size.lower():
            problems.append(f"size {w.cluster_size}, recommended {args.cluster_size}")
        if kind not in args.types:
            problems.append(f"type {kind}, recommended {' else '.join(args.types)}")
        if args.min_num_clusters is not None and (w.min_num_clusters or 0) < args.min_num_clusters:
            problems.append(f"min clusters {w.min_num_clusters}, recommended {args.min_num_clusters}")
        if args.max_num_clusters is not None and (w.max_num_clusters or 0) < args.max_num_clusters:
            problems.append(f"max clusters {w.max_num_clusters}, recommended {args.max_num_clusters}")
        if problems:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"warehouse {w.name}: " + "; ".join(problems),
                    expected=expected,
                    found=found,
                    remediation=_fixes.warehouse_edit(
                        args.warehouse_id, args.cluster_size, args.min_num_clusters, args.max_num_clusters
                    ),
                )
            ]
        return [Outcome(Status.PASS, subject, f"warehouse {w.name} is {found}", expected=expected, found=found)]


class EntitlementArgs(KindArgs):
    principal: NonEmpty
    entitlements: Names = Field(min_length=1)


@register
class Entitlement(CheckKind[EntitlementArgs]):
    """The principal holds the workspace entitlements, directly or through any of its groups (``users`` and
    ``admins`` included: see `entitlements_through`)."""

    name = "entitlement"
    Args = EntitlementArgs
    families = frozenset({FactFamily.PRINCIPALS, FactFamily.ENTITLEMENTS})

    def plan(self, args: EntitlementArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families, principals=frozenset({args.principal}))

    def evaluate(self, args: EntitlementArgs, ctx: EvalContext) -> list[Outcome]:
        subject = f"principal:{args.principal}"
        who = ctx.facts.principal(args.principal)
        if who is None:
            return [Outcome(Status.FAIL, subject, f"principal {args.principal} does not exist")]
        sources: dict[str, str] = {e: "directly" for e in ctx.facts.entitlements_of(args.principal)}
        # an entitlement held directly needs no group; one missing or held through a group rests on them
        groups = ctx.seen.groups_of(args.principal)
        for key, membership in groups.items():
            for entitlement in entitlements_through(membership.group, ctx.seen.entitlements_of(key)):
                sources.setdefault(entitlement, membership.describe())
        missing = [e for e in args.entitlements if e not in sources]
        evidence = tuple(f"{e} {sources[e]}" for e in args.entitlements if e in sources)
        if missing or any(sources[e] != "directly" for e in args.entitlements if e in sources):
            for membership in ctx.facts.groups_of(args.principal).values():
                ctx.facts.entitlements_of(membership.group)
        if missing:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"{args.principal} lacks entitlement(s) {', '.join(missing)}",
                    expected=", ".join(args.entitlements),
                    found=", ".join(sorted(sources)) or "none",
                    evidence=evidence,
                    remediation=_fixes.entitlements(who, missing),
                )
            ]
        return [
            Outcome(
                Status.PASS,
                subject,
                f"{args.principal} has {', '.join(args.entitlements)}",
                evidence=evidence,
            )
        ]


class PrincipalExistsArgs(KindArgs):
    principal: NonEmpty
    kind: Literal["user", "service_principal", "group"] | None = None


@register
class PrincipalExists(CheckKind[PrincipalExistsArgs]):
    """The principal exists in the workspace, is active, and is of the expected kind."""

    name = "principal_exists"
    Args = PrincipalExistsArgs
    families = frozenset({FactFamily.PRINCIPALS})

    def plan(self, args: PrincipalExistsArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families, principals=frozenset({args.principal}))

    def evaluate(self, args: PrincipalExistsArgs, ctx: EvalContext) -> list[Outcome]:
        subject = f"principal:{args.principal}"
        who = ctx.facts.principal(args.principal)
        label = (args.kind or "principal").replace("_", " ")
        if who is None:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"{label} {args.principal} does not exist in the workspace",
                    remediation=Remediation(summary=f"add the {label} to the workspace"),
                )
            ]
        if args.kind and who.kind is not PrincipalKind(args.kind):
            return [Outcome(Status.FAIL, subject, f"{args.principal} is a {who.kind.value}, not a {label}")]
        if not who.active:
            return [Outcome(Status.FAIL, subject, f"{label} {args.principal} is deactivated")]
        return [Outcome(Status.PASS, subject, f"{label} {args.principal} ({who.display_name}) exists and is active")]


class WorkspaceSettingArgs(KindArgs):
    key: NonEmpty
    expected: str


@register
class WorkspaceSetting(CheckKind[WorkspaceSettingArgs]):
    """A workspace-conf key has the expected value (booleans compared case-insensitively)."""

    name = "workspace_setting"
    Args = WorkspaceSettingArgs
    families = frozenset({FactFamily.WORKSPACE_CONF})

    def plan(self, args: WorkspaceSettingArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families, workspace_conf_keys=frozenset({args.key}))

    def evaluate(self, args: WorkspaceSettingArgs, ctx: EvalContext) -> list[Outcome]:
        subject = f"workspace-conf:{args.key}"
        value = ctx.facts.workspace_conf(args.key)
        if value is not None and value.strip().lower() == args.expected.strip().lower():
            return [Outcome(Status.PASS, subject, f"{args.key} is {value}", expected=args.expected, found=value)]
        return [
            Outcome(
                Status.FAIL,
                subject,
                f"{args.key} is {value if value is not None else 'unset'}",
                expected=args.expected,
                found=value,
                remediation=_fixes.workspace_conf(args.key, args.expected),
            )
        ]
