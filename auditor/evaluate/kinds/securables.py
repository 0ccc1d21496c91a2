"""Checks on the existence and shape of securables, and on Unity Catalog itself."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from auditor.evaluate.context import EvalContext
from auditor.evaluate.kinds._common import Names, NonEmpty, subject_of
from auditor.evaluate.registry import CheckKind, KindArgs, Outcome, register
from auditor.model.facts import FactFamily, SecurableType
from auditor.model.findings import Status
from auditor.model.plan import CollectionPlan, SecurableRef
from auditor.privileges.names import catalog_of, is_hive, normalize_privilege


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
        return [self._one(args, kind, name, ctx) for name in args.names]

    def _one(self, args: SecurableExistsArgs, kind: SecurableType, name: str, ctx: EvalContext) -> Outcome:
        subject = subject_of(kind, name)
        if kind is SecurableType.STORAGE_CREDENTIAL:
            return self._credential(name, subject, ctx)
        if kind is SecurableType.EXTERNAL_LOCATION:
            return self._location(args, name, subject, ctx)
        unread = ctx.unread(FactFamily.SECURABLES, [subject], subject)
        if unread is not None:
            return unread
        securable = ctx.snapshot.securable(kind, name)
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
            located = self._under_location(securable.storage_location, args.on_external_location, subject, ctx)
            if isinstance(located, Outcome):
                return located
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

    def _under_location(self, storage: str | None, location: str, subject: str, ctx: EvalContext) -> str | Outcome:
        unread = ctx.unread(FactFamily.EXTERNAL_LOCATIONS, [location], subject)
        if unread is not None:
            return unread
        found = ctx.snapshot.external_location(location)
        if found is None:
            return f"cannot lie on external location {location}: it does not exist"
        if not storage or not storage.rstrip("/").startswith(found.url.rstrip("/")):
            return f"storage {storage or '(none)'} is not on external location {location} ({found.url})"
        return ""

    def _credential(self, name: str, subject: str, ctx: EvalContext) -> Outcome:
        unread = ctx.unread(FactFamily.STORAGE_CREDENTIALS, [name], subject)
        if unread is not None:
            return unread
        credential = ctx.snapshot.storage_credential(name)
        if credential is None:
            return Outcome(Status.FAIL, subject, f"storage credential {name} does not exist")
        return Outcome(Status.PASS, subject, f"storage credential {name} exists (role {credential.aws_role_arn})")

    def _location(self, args: SecurableExistsArgs, name: str, subject: str, ctx: EvalContext) -> Outcome:
        unread = ctx.unread(FactFamily.EXTERNAL_LOCATIONS, [name], subject)
        if unread is not None:
            return unread
        location = ctx.snapshot.external_location(name)
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
        unread = ctx.unread(FactFamily.METASTORE, [None], subject)
        if unread is not None:
            return [unread]
        metastore = ctx.snapshot.metastore
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
    """Read-only catalogs stay read-only: the principal holds none of the forbidden privileges anywhere in them."""

    name = "forbidden_privilege"
    Args = ForbiddenPrivilegeArgs
    families = frozenset({FactFamily.GRANTS, FactFamily.PRINCIPALS})

    def plan(self, args: ForbiddenPrivilegeArgs) -> CollectionPlan:
        return CollectionPlan(
            families=self.families,
            watched_catalogs=frozenset(args.catalogs),
            principals=frozenset({args.principal}),
        )

    def evaluate(self, args: ForbiddenPrivilegeArgs, ctx: EvalContext) -> list[Outcome]:
        from auditor.evaluate.kinds.least_privilege import revoke_fix

        patterns = tuple(normalize_privilege(p) for p in args.forbidden)
        holders = {args.principal.lower(), *ctx.privileges.groups_of(args.principal)}
        outcomes: list[Outcome] = []
        for catalog in args.catalogs:
            subject = subject_of(SecurableType.CATALOG, catalog)
            unread = ctx.unread(FactFamily.GRANTS, [f"watch:{catalog}"], subject)
            if unread is not None:
                outcomes.append(unread)
                continue
            offending = [
                g
                for g in ctx.snapshot.grants
                if g.principal.lower() in holders
                and (catalog_of(g.securable_type, g.securable_name) or "").lower() == catalog.lower()
                and _matches(g.privilege, patterns)
            ]
            if not offending:
                # a group of the principal might hold a write privilege: without memberships, unknown
                unread = ctx.unread(FactFamily.PRINCIPALS, [args.principal], subject)
                outcomes.append(
                    unread
                    or Outcome(
                        Status.PASS,
                        subject,
                        f"{args.principal} holds no write privilege in read-only catalog {catalog}",
                    )
                )
                continue
            outcomes.append(
                Outcome(
                    Status.FAIL,
                    subject,
                    f"{args.principal} holds write privileges in read-only catalog {catalog}: "
                    + ", ".join(
                        f"{g.privilege} on {g.securable_type.value} {g.securable_name} (to {g.principal})"
                        for g in offending
                    ),
                    expected="read-only (USE CATALOG, USE SCHEMA, SELECT)",
                    found=", ".join(sorted({g.privilege for g in offending})),
                    remediation=revoke_fix(offending),
                )
            )
        return outcomes
