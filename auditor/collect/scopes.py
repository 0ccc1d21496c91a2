"""What one cycle reads, scope by scope, derived from the `CollectionPlan` (and nothing more)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from auditor.collect.interface import GLOBAL_SCOPE, principal_scope, watch_scope
from auditor.model.facts import FactFamily, PrincipalKind, SecurableType, securable_key
from auditor.model.plan import CollectionPlan
from auditor.privileges.names import CATALOG_OBJECTS, NAMELESS, is_hive, lineage, principal_kind_of

Scope = tuple[FactFamily, str]


def needs_sql(securable_type: SecurableType, full_name: str) -> bool:
    """hive_metastore objects and ANY FILE exist for SQL only (REST does not serve them)."""
    return securable_type is SecurableType.ANY_FILE or (securable_type in CATALOG_OBJECTS and is_hive(full_name))


@dataclass(frozen=True)
class ReadPlan:
    """The scopes of one cycle: planned securables with their ancestors, principals, warehouses, ..."""

    plan: CollectionPlan

    def wants(self, *families: FactFamily) -> bool:
        """True if any of ``families`` is planned."""
        return any(f in self.plan.families for f in families)

    @cached_property
    def securables(self) -> tuple[tuple[SecurableType, str], ...]:
        """Planned securables and their ancestors, each once (names compared case-insensitively)."""
        seen: dict[str, tuple[SecurableType, str]] = {}
        for ref in sorted(self.plan.securables, key=lambda r: (r.type.value, r.full_name)):
            for securable_type, name in lineage(ref.type, ref.full_name):
                name = "" if securable_type in NAMELESS else name
                seen.setdefault(securable_key(securable_type, name).lower(), (securable_type, name))
        return tuple(seen.values())

    @cached_property
    def metadata_securables(self) -> tuple[tuple[SecurableType, str], ...]:
        """Securables whose existence and metadata come from the catalog/schema/table APIs."""
        return tuple((t, n) for t, n in self.securables if t in CATALOG_OBJECTS and not needs_sql(t, n))

    @cached_property
    def watched_catalogs(self) -> tuple[str, ...]:
        return tuple(sorted(self.plan.watched_catalogs)) if self.wants(FactFamily.GRANTS) else ()

    @cached_property
    def swept_principals(self) -> tuple[str, ...]:
        """Principals whose every direct grant is read (excess-privilege checks)."""
        return tuple(sorted(self.plan.grant_sweep_principals)) if self.wants(FactFamily.GRANTS) else ()

    @cached_property
    def service_principals(self) -> tuple[str, ...]:
        """Planned principals named by application id (they may have OAuth secrets)."""
        return tuple(p for p in sorted(self.plan.principals) if principal_kind_of(p) is PrincipalKind.SERVICE_PRINCIPAL)

    def _named(self, securable_type: SecurableType, extra: frozenset[str]) -> tuple[str, ...]:
        names = set(extra) | {n for t, n in self.securables if t is securable_type}
        return tuple(sorted(names))

    @cached_property
    def storage_credentials(self) -> tuple[str, ...]:
        """Credentials named by the plan or as securables."""
        return self._named(SecurableType.STORAGE_CREDENTIAL, self.plan.storage_credentials)

    @cached_property
    def external_locations(self) -> tuple[str, ...]:
        return self._named(SecurableType.EXTERNAL_LOCATION, self.plan.external_locations)

    @property
    def needs_metastore(self) -> bool:
        """The metastore is read for its own family and for the id that metastore grants are keyed by."""
        return self.wants(FactFamily.METASTORE) or any(t is SecurableType.METASTORE for t, _ in self.securables)

    def expected(self) -> list[Scope]:
        """Every (family, scope) this cycle must record a status for."""
        scopes: list[Scope] = [(FactFamily.IDENTITY, GLOBAL_SCOPE)]
        for family in (
            FactFamily.METASTORE,
            FactFamily.TOKENS,
            FactFamily.TOKEN_PERMISSIONS,
            FactFamily.WORKSPACE_CONF,
        ):
            if self.wants(family):
                scopes.append((family, GLOBAL_SCOPE))
        for securable_type, name in self.securables:
            key = securable_key(securable_type, name)
            scopes += [(f, key) for f in (FactFamily.GRANTS, FactFamily.SECURABLES) if self.wants(f)]
        scopes += [(FactFamily.GRANTS, watch_scope(c)) for c in self.watched_catalogs]
        scopes += [(FactFamily.GRANTS, principal_scope(p)) for p in self.swept_principals]
        for principal in sorted(self.plan.principals):
            scopes += [(f, principal) for f in (FactFamily.PRINCIPALS, FactFamily.ENTITLEMENTS) if self.wants(f)]
        if self.wants(FactFamily.OAUTH_SECRETS):
            scopes += [(FactFamily.OAUTH_SECRETS, p) for p in self.service_principals]
        for warehouse in sorted(self.plan.warehouses):
            scopes += [(f, warehouse) for f in (FactFamily.WAREHOUSES, FactFamily.WAREHOUSE_ACLS) if self.wants(f)]
        if self.wants(FactFamily.STORAGE_CREDENTIALS):
            scopes += [(FactFamily.STORAGE_CREDENTIALS, n) for n in self.storage_credentials]
        if self.wants(FactFamily.EXTERNAL_LOCATIONS):
            scopes += [(FactFamily.EXTERNAL_LOCATIONS, n) for n in self.external_locations]
        if self.wants(FactFamily.TRUST_POLICIES):
            scopes += [(FactFamily.TRUST_POLICIES, arn) for arn in sorted(self.plan.role_arns)]
        return scopes
