"""Checks on the existence and shape of securables, and on Unity Catalog itself."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from auditor.evaluate.context import EvalContext, FactReader
from auditor.evaluate.kinds._common import Names, NonEmpty, subject_of
from auditor.evaluate.registry import CheckKind, KindArgs, Outcome, register
from auditor.model.facts import FactFamily, Grant, Securable, SecurableType
from auditor.model.findings import Remediation, Status
from auditor.model.plan import CollectionPlan, SecurableRef
from auditor.privileges.databricks import OWNERSHIP_DOC, held_as_owner
from auditor.privileges.names import is_hive, normalize_privilege


class SecurableExistsArgs(KindArgs):
    securable_type: Literal["CATALOG", "SCHEMA", "TABLE", "VIEW", "EXTERNAL_LOCATION", "STORAGE_CREDENTIAL"]
    names: Names
    managed: bool | None = Field(None, description="catalogs: must be a Unity Catalog MANAGED_CATALOG")
    storage_location: bool = Field(False, description="catalogs/schemas: must have a storage location")
    on_external_location: str | None = Field(None, description="catalogs: storage lies under this location's URL")
    credential: str | None = Field(None, description="external locations: must use this storage credential")


@register
class SecurableExists(CheckKind[SecurableExistsArgs]):
    """A securable exists (and, optionally, is managed, has storage, uses the right credential or location)."""

    name = "securable_exists"
    Args = SecurableExistsArgs
    families = frozenset({FactFamily.SECURABLES, FactFamily.STORAGE_CREDENTIALS, FactFamily.EXTERNAL_LOCATIONS})

    def plan(self, args: SecurableExistsArgs) -> CollectionPlan:
        kind = SecurableType(args.securable_type)
        if kind is SecurableType.STORAGE_CREDENTIAL:
            return CollectionPlan(
                families=frozenset({FactFamily.STORAGE_CREDENTIALS}),
                storage_credentials=frozenset(args.names),
            )
        if kind is SecurableType.EXTERNAL_LOCATION:
            return CollectionPlan(
                families=frozenset({FactFamily.EXTERNAL_LOCATIONS}), external_locations=frozenset(args.names)
            )
        plan = CollectionPlan(
            families=frozenset({FactFamily.SECURABLES}),
            securables=frozenset(SecurableRef(type=kind, full_name=n) for n in args.names),
            needs_hive_metastore=any(is_hive(n) for n in args.names),
        )
        if args.on_external_location:
            plan = plan.merge(
                CollectionPlan(
                    families=frozenset({FactFamily.EXTERNAL_LOCATIONS}),
                    external_locations=frozenset({args.on_external_location}),
                )
            )
        return plan

    def evaluate(self, args: SecurableExistsArgs, ctx: EvalContext) -> list[Outcome]:
        kind = SecurableType(args.securable_type)
        return [ctx.judge(self._one, args, kind, name, ctx) for name in args.names]

    def _one(self, args: SecurableExistsArgs, kind: SecurableType, name: str, ctx: EvalContext) -> Outcome:
        subject = subject_of(kind, name)
        if kind is SecurableType.STORAGE_CREDENTIAL:
            return self._credential(name, subject, ctx)
        if kind is SecurableType.EXTERNAL_LOCATION:
            return self._location(args, name, subject, ctx)
        securable = ctx.facts.securable(kind, name)
        if securable is None:
            return Outcome(
                Status.FAIL,
                subject,
                f"{kind.value} {name} does not exist",
                expected="exists",
                found="missing",
            )
        problems: list[str] = []
        if args.managed and (securable.catalog_type or "MANAGED_CATALOG") != "MANAGED_CATALOG":
            problems.append(f"is a {securable.catalog_type}, not a Unity Catalog managed catalog")
        if args.managed and is_hive(name):
            problems.append("is hive_metastore, not Unity Catalog")
        if args.storage_location and not securable.storage_location:
            problems.append("has no storage location")
        if args.on_external_location:
            located = self._under_location(securable.storage_location, args.on_external_location, ctx)
            if located:
                problems.append(located)
        if problems:
            return Outcome(
                Status.FAIL,
                subject,
                f"{kind.value} {name} " + "; ".join(problems),
                found=securable.storage_location or securable.catalog_type,
            )
        detail = f" (storage {securable.storage_location})" if securable.storage_location else ""
        return Outcome(Status.PASS, subject, f"{kind.value} {name} exists{detail}")

    def _under_location(self, storage: str | None, location: str, ctx: EvalContext) -> str:
        found = ctx.facts.external_location(location)
        if found is None:
            return f"cannot lie on external location {location}: it does not exist"
        if not storage or not storage.rstrip("/").startswith(found.url.rstrip("/")):
            return f"storage {storage or '(none)'} is not on external location {location} ({found.url})"
        return ""

    def _credential(self, name: str, subject: str, ctx: EvalContext) -> Outcome:
        credential = ctx.facts.storage_credential(name)
        if credential is None:
            return Outcome(Status.FAIL, subject, f"storage credential {name} does not exist")
        return Outcome(Status.PASS, subject, f"storage credential {name} exists (role {credential.aws_role_arn})")

    def _location(self, args: SecurableExistsArgs, name: str, subject: str, ctx: EvalContext) -> Outcome:
        location = ctx.facts.external_location(name)
        if location is None:
            return Outcome(Status.FAIL, subject, f"external location {name} does not exist")
        if args.credential and location.credential_name != args.credential:
            return Outcome(
                Status.FAIL,
                subject,
                f"external location {name} uses credential {location.credential_name}, not {args.credential}",
                expected=args.credential,
                found=location.credential_name,
            )
        return Outcome(
            Status.PASS,
            subject,
            f"external location {name} exists ({location.url}, credential {location.credential_name})",
        )


class UnityCatalogArgs(KindArgs):
    catalogs: Names = Field(default=(), description="target catalogs: none may be hive_metastore")


@register
class UnityCatalogEnabled(CheckKind[UnityCatalogArgs]):
    """A Unity Catalog metastore is assigned (privilege model 1.0), and no target catalog is hive_metastore."""

    name = "unity_catalog_enabled"
    Args = UnityCatalogArgs
    families = frozenset({FactFamily.METASTORE})

    def plan(self, args: UnityCatalogArgs) -> CollectionPlan:
        return CollectionPlan(families=self.families)

    def evaluate(self, args: UnityCatalogArgs, ctx: EvalContext) -> list[Outcome]:
        subject = "metastore"
        hive_targets = [c for c in args.catalogs if is_hive(c)]
        if hive_targets:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"target catalog {hive_targets[0]} is hive_metastore: Segment requires a Unity Catalog catalog",
                    expected="a Unity Catalog catalog",
                    found="hive_metastore",
                )
            ]
        metastore = ctx.facts.metastore()
        if metastore is None:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    "no Unity Catalog metastore is assigned to the workspace",
                    expected="a metastore assignment",
                    found="METASTORE_DOES_NOT_EXIST",
                )
            ]
        version = metastore.privilege_model_version
        if version is not None and version != "1.0":
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"metastore {metastore.metastore_id} runs privilege model {version}: no inheritance",
                    expected="1.0",
                    found=version,
                )
            ]
        return [Outcome(Status.PASS, subject, f"Unity Catalog metastore {metastore.metastore_id} is assigned")]


class ForbiddenPrivilegeArgs(KindArgs):
    principal: NonEmpty
    catalogs: Names
    forbidden: tuple[str, ...] = Field(min_length=1, description="privileges or prefixes ending in '*' (CREATE_*)")


def _matches(privilege: str, patterns: tuple[str, ...]) -> bool:
    return any(privilege == p or (p.endswith("*") and privilege.startswith(p[:-1])) for p in patterns)


@register
class ForbiddenPrivilege(CheckKind[ForbiddenPrivilegeArgs]):
    """Read-only catalogs stay read-only: the principal holds none of the forbidden privileges anywhere in them,
    neither granted nor as an owner (an owner holds every privilege on what it owns: `owner_holds`)."""

    name = "forbidden_privilege"
    Args = ForbiddenPrivilegeArgs
    families = frozenset({FactFamily.GRANTS, FactFamily.PRINCIPALS, FactFamily.SECURABLES})

    def plan(self, args: ForbiddenPrivilegeArgs) -> CollectionPlan:
        return CollectionPlan(
            families=self.families,
            watched_catalogs=frozenset(args.catalogs),
            principals=frozenset({args.principal}),
            securables=frozenset(SecurableRef(type=SecurableType.CATALOG, full_name=c) for c in args.catalogs),
        )

    def evaluate(self, args: ForbiddenPrivilegeArgs, ctx: EvalContext) -> list[Outcome]:

        patterns = tuple(normalize_privilege(p) for p in args.forbidden)
        return [ctx.judge(self._one, args.principal, catalog, patterns, ctx) for catalog in args.catalogs]

    def _one(self, principal: str, catalog: str, patterns: tuple[str, ...], ctx: EvalContext) -> Outcome:
        from auditor.evaluate.kinds.least_privilege import revoke_fix

        subject = subject_of(SecurableType.CATALOG, catalog)
        # A write grant or an ownership that was seen is held, however partial the sweep: the fail rests on it.
        offending = _offending(ctx.seen, principal, catalog, patterns)
        owned = _owned(ctx.seen, principal, catalog, patterns)
        if not offending and not owned:
            # "none" rests on the whole sweep of the catalog, its owner and the principal's memberships.
            _offending(ctx.facts, principal, catalog, patterns)
            _owned(ctx.facts, principal, catalog, patterns)
            return Outcome(Status.PASS, subject, f"{principal} holds no write privilege in read-only catalog {catalog}")
        found = [f"{g.privilege} on {g.securable_type.value} {g.securable_name} (to {g.principal})" for g in offending]
        found += [
            f"{', '.join(privileges)} as owner of {securable.type.value} {securable.full_name} ({securable.owner})"
            for securable, privileges in owned
        ]
        fix = revoke_fix(offending)
        if owned:
            names = ", ".join(f"{s.type.value} {s.full_name}" for s, _ in owned)
            summary = (
                f"transfer ownership of {names} to a principal other than {principal} "
                f"(an owner holds every privilege on what it owns: {OWNERSHIP_DOC})"
            )
            fix = Remediation(
                summary=summary + (f"; {fix.summary}" if fix.revoke_sql else ""), revoke_sql=fix.revoke_sql
            )
        return Outcome(
            Status.FAIL,
            subject,
            f"{principal} holds write privileges in read-only catalog {catalog}: " + ", ".join(found),
            expected="read-only (USE CATALOG, USE SCHEMA, SELECT)",
            found=", ".join(sorted({g.privilege for g in offending} | ({"OWNER"} if owned else set()))),
            remediation=fix,
        )


def _offending(facts: FactReader, principal: str, catalog: str, patterns: tuple[str, ...]) -> list[Grant]:
    holders = {principal.lower(), *facts.groups_of(principal)}
    return [
        g
        for g in facts.grants_in_catalog(catalog)
        if g.principal.lower() in holders and _matches(g.privilege, patterns)
    ]


def _owned(
    facts: FactReader, principal: str, catalog: str, patterns: tuple[str, ...]
) -> list[tuple[Securable, tuple[str, ...]]]:
    """The catalog, and any securable inside it the snapshot knows, that the principal (or a group of it) owns,
    with the forbidden privileges it holds there as owner (`held_as_owner`: write privileges included)."""
    holders = {principal.lower(), *facts.groups_of(principal)}
    found: list[tuple[Securable, tuple[str, ...]]] = []
    for securable in [facts.securable(SecurableType.CATALOG, catalog), *facts.securables_in(catalog)]:
        if securable is None or not securable.owner or securable.owner.lower() not in holders:
            continue
        held = tuple(
            sorted(p for p in held_as_owner(securable.type, hive=is_hive(securable.full_name)) if _matches(p, patterns))
        )
        if held:
            found.append((securable, held))
    return found
