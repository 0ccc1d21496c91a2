"""The one home of Databricks privilege semantics (Unity Catalog and hive_metastore).

Everything that decides "does principal P hold privilege X on securable S" lives here: the
legacy-to-Unity-Catalog mapping, what `ALL PRIVILEGES` does and does not imply, inheritance
catalog -> schema -> table, ownership, nested groups (cycle-safe) and the explanation of an effective
privilege. The names it reasons about (spellings, vocabularies, lineage) are `auditor.privileges.names`.

Sources: Databricks SQL reference "Privileges and securable objects in Unity Catalog", "Upgrade to the
Unity Catalog privilege model" (legacy names), "GRANT" (ALL PRIVILEGES) and "Hive metastore privileges".
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from auditor.model.facts import (
    ExternalLocation,
    Grant,
    PrincipalKind,
    Securable,
    SecurableType,
    Snapshot,
    StorageCredential,
)
from auditor.privileges.names import (
    ADMINS_GROUP,
    HIVE_PRIVILEGES_BY_SECURABLE,
    LEGACY_PRIVILEGES,
    UC_PRIVILEGES_BY_SECURABLE,
    WORKSPACE_ENTITLEMENTS,
    catalog_of,
    grant_lookup_key,
    is_hive,
    lineage,
    normalize_privilege,
    sql_spelling,
)

# ALL PRIVILEGES expands at check time to every applicable privilege except these.
NOT_IMPLIED_BY_ALL_PRIVILEGES: frozenset[str] = frozenset({"MANAGE", "EXTERNAL_USE_SCHEMA", "EXTERNAL_USE_LOCATION"})


def canonical(privilege: str, on: SecurableType, *, hive: bool) -> frozenset[str]:
    """What a privilege means on a securable, in the vocabulary of its metastore.

    Unity Catalog maps the legacy names by securable: ``USAGE`` -> ``USE CATALOG`` / ``USE SCHEMA``,
    ``CREATE`` -> ``CREATE SCHEMA`` on a catalog, ``CREATE TABLE`` (and the other object creations) on
    a schema, ``CREATE EXTERNAL TABLE`` on a location or credential; hive's ``READ_METADATA`` has no
    equivalent and ``BROWSE`` is the closest. hive_metastore maps the Unity Catalog names back.
    """
    priv = normalize_privilege(privilege)
    if hive:
        if priv in {"USE_CATALOG", "USE_SCHEMA"}:
            return frozenset({"USAGE"})
        if priv.startswith("CREATE_") and priv != "CREATE_NAMED_FUNCTION":
            return frozenset({"CREATE"})
        if priv == "BROWSE":
            return frozenset({"READ_METADATA"})
        return frozenset({priv})
    if priv == "USAGE":
        return frozenset({"USE_CATALOG"} if on is SecurableType.CATALOG else {"USE_SCHEMA"})
    if priv == "CREATE":
        by_type = {
            SecurableType.METASTORE: {"CREATE_CATALOG"},
            SecurableType.CATALOG: {"CREATE_SCHEMA"},
            SecurableType.SCHEMA: {
                "CREATE_TABLE",
                "CREATE_FUNCTION",
                "CREATE_VOLUME",
                "CREATE_MODEL",
                "CREATE_MATERIALIZED_VIEW",
            },
            SecurableType.EXTERNAL_LOCATION: {"CREATE_EXTERNAL_TABLE"},
            SecurableType.STORAGE_CREDENTIAL: {"CREATE_EXTERNAL_TABLE"},
        }
        return frozenset(by_type.get(on, {"CREATE"}))
    if priv == "READ_METADATA" and on is not SecurableType.METASTORE:
        return frozenset({"BROWSE"})
    return frozenset({priv})


OWNERSHIP_DOC = "https://docs.databricks.com/data/manage-ownership.html"
"""Databricks, "Manage Unity Catalog object ownership": "Owners of an object are automatically granted all privileges
on that object. ... owners of a schema do not automatically have all privileges on the tables in the schema, but
they can grant themselves privileges on the tables in the schema. To avoid accidental data exfiltration, schema
owners do not have the EXTERNAL USE SCHEMA privilege by default and external location owners do not have the
EXTERNAL USE LOCATION privilege by default." """

NOT_HELD_BY_OWNERS: MappingProxyType[SecurableType, frozenset[str]] = MappingProxyType(
    {
        SecurableType.SCHEMA: frozenset({"EXTERNAL_USE_SCHEMA"}),
        SecurableType.EXTERNAL_LOCATION: frozenset({"EXTERNAL_USE_LOCATION"}),
    }
)
"""The privileges the owner of a securable of each kind does not hold through ownership (`OWNERSHIP_DOC`)."""

_ON_THE_CONTAINER_ITSELF: MappingProxyType[tuple[SecurableType, bool], frozenset[str]] = MappingProxyType(
    {
        (SecurableType.CATALOG, False): frozenset({"USE_CATALOG", "CREATE_SCHEMA", "BROWSE", "APPLY_TAG", "MANAGE"}),
        (SecurableType.SCHEMA, False): frozenset(
            {
                "USE_SCHEMA",
                "CREATE_TABLE",
                "CREATE_FUNCTION",
                "CREATE_VOLUME",
                "CREATE_MODEL",
                "CREATE_MATERIALIZED_VIEW",
                "BROWSE",
                "APPLY_TAG",
                "MANAGE",
                "EXTERNAL_USE_SCHEMA",
            }
        ),
        **dict.fromkeys(
            ((SecurableType.CATALOG, True), (SecurableType.SCHEMA, True)),
            frozenset({"USAGE", "CREATE", "CREATE_NAMED_FUNCTION", "READ_METADATA"}),
        ),
    }
)
"""What a privilege on a catalog or schema gives on that container itself; the rest (SELECT, MODIFY, ALL PRIVILEGES,
USE SCHEMA on a catalog, ...) act on the objects inside, through inheritance, which ownership does not have."""


def owner_holds(privilege: str, owned: SecurableType, *, hive: bool) -> bool:
    """Whether the owner of a securable of kind ``owned`` holds ``privilege`` (canonical) on it through ownership.

    The one ownership rule (`OWNERSHIP_DOC`): an owner holds every privilege on what it owns, write privileges
    included (an owned catalog is not read-only for its owner: CREATE SCHEMA, MANAGE), and MANAGE too (it may
    grant, transfer and drop), except EXTERNAL USE SCHEMA on a schema and EXTERNAL USE LOCATION on an external
    location. Ownership is not inherited: the owner of a catalog or schema holds nothing through it on the objects
    inside, which their own owners hold and grants reach, so a privilege that acts on those objects (SELECT or ALL
    PRIVILEGES on a schema) is not held as the container's owner ("owners of a schema do not automatically have all
    privileges on the tables in the schema, but they can grant themselves privileges on the tables").
    """
    owned = SecurableType(owned)
    priv = normalize_privilege(privilege)
    if priv in NOT_HELD_BY_OWNERS.get(owned, frozenset()):
        return False
    itself = _ON_THE_CONTAINER_ITSELF.get((owned, hive))
    return itself is None or priv in itself


def held_as_owner(owned: SecurableType, *, hive: bool) -> frozenset[str]:
    """Every privilege a securable of this kind accepts that its owner holds on it (`owner_holds`)."""
    table = HIVE_PRIVILEGES_BY_SECURABLE if hive else UC_PRIVILEGES_BY_SECURABLE
    accepted = table.get(SecurableType(owned), frozenset())
    names = accepted if hive else accepted - LEGACY_PRIVILEGES
    return frozenset(p for p in names if owner_holds(p, owned, hive=hive))


def implies(granted: str, granted_on: SecurableType, required: str, *, hive: bool) -> bool:
    """Whether ``granted`` (on ``granted_on``) provides the canonical privilege ``required``."""
    if granted == "ALL_PRIVILEGES":
        return required not in NOT_IMPLIED_BY_ALL_PRIVILEGES
    return required in canonical(granted, granted_on, hive=hive)


def entitlements_through(group: str, listed: Iterable[str]) -> tuple[str, ...]:
    """The entitlements a member holds through ``group``: those SCIM lists on it, and all of them for ``admins``.

    Entitlements are the union of the principal's own and those of every group it is in (the built-in ``users``
    group included). In the legacy model ``users`` carries workspace and Databricks SQL access; after the
    workspace entitlement migration it carries none and "the admins group has all workspace entitlements"
    (docs.databricks.com/aws/en/security/auth/system-group-entitlements-migration), which SCIM may not list;
    before it too, "the admins group always retains its default permissions"
    (learn.microsoft.com/azure/databricks/security/auth/default-permissions)."""
    if group.lower() == ADMINS_GROUP:
        return tuple(dict.fromkeys((*listed, *WORKSPACE_ENTITLEMENTS)))
    return tuple(listed)


@dataclass(frozen=True)
class Membership:
    """How a principal reaches a group: the chain of groups, outermost last."""

    group: str
    chain: tuple[str, ...]  # e.g. ("segment-readers", "segment-integrations")

    def describe(self) -> str:
        return "via group " + " \u2282 ".join(self.chain)  # nested chain: inner ⊂ outer


@dataclass(frozen=True)
class Explanation:
    """Why a principal holds a privilege on a securable."""

    principal: str
    privilege: str  # the canonical privilege that was required
    securable_type: SecurableType
    securable_name: str
    granted: str  # what was granted ("ALL_PRIVILEGES", "USAGE", ... or "OWNER")
    granted_on: tuple[SecurableType, str]
    via: Membership | None = None

    @property
    def legacy_name(self) -> bool:
        return self.granted in LEGACY_PRIVILEGES and not is_hive(self.securable_name)

    def describe(self) -> str:
        text = f"{sql_spelling(self.privilege)} on {self.securable_type.value} {self.securable_name}"
        text += f" {self.via.describe()}" if self.via else " directly"
        if self.granted == "OWNER":
            text += ", as owner"
        elif self.granted != self.privilege:
            text += f", granted as {sql_spelling(self.granted)}"
        if self.granted_on != (self.securable_type, self.securable_name):
            text += f", inherited from {self.granted_on[0].value} {self.granted_on[1]}"
        if self.legacy_name:
            text += " (legacy privilege name: prefer the Unity Catalog name)"
        return text


@dataclass
class PrivilegeModel:
    """Effective privileges over one snapshot: grants indexed once, group closure cycle-safe."""

    snapshot: Snapshot
    _grants_by_securable: dict[tuple[SecurableType, str], list[Grant]] = field(init=False)
    _denies_by_securable: dict[tuple[SecurableType, str], list[Grant]] = field(init=False)
    _grants_by_principal: dict[str, list[Grant]] = field(init=False)  # denies excluded
    _grants_by_catalog: dict[str, list[Grant]] = field(init=False)  # denies excluded
    _groups_of_member: dict[str, set[str]] = field(init=False)

    def __post_init__(self) -> None:
        # One pass over the grants builds every index the rules look grants up by (a snapshot may hold
        # millions of grants, and every rule of an evaluation shares this model).
        by_securable: dict[tuple[SecurableType, str], list[Grant]] = defaultdict(list)
        denies: dict[tuple[SecurableType, str], list[Grant]] = defaultdict(list)
        by_principal: dict[str, list[Grant]] = defaultdict(list)
        by_catalog: dict[str, list[Grant]] = defaultdict(list)
        keys: dict[tuple[SecurableType, str], tuple[tuple[SecurableType, str], str]] = {}  # per securable
        lowered: dict[str, str] = {}  # per principal
        for grant in self.snapshot.grants:
            securable = (grant.securable_type, grant.securable_name)
            found = keys.get(securable)
            if found is None:
                found = keys[securable] = (grant_lookup_key(*securable), (catalog_of(*securable) or "").lower())
            key, catalog = found
            if grant.denied:
                denies[key].append(grant)
                continue
            by_securable[key].append(grant)
            principal = lowered.get(grant.principal)
            if principal is None:
                principal = lowered[grant.principal] = grant.principal.lower()
            by_principal[principal].append(grant)
            by_catalog[catalog].append(grant)
        self._grants_by_securable = dict(by_securable)
        self._denies_by_securable = dict(denies)
        self._grants_by_principal = dict(by_principal)
        self._grants_by_catalog = dict(by_catalog)
        groups: dict[str, set[str]] = defaultdict(set)
        for edge in self.snapshot.memberships:
            groups[edge.member.lower()].add(edge.group)
        self._groups_of_member = dict(groups)

    @cached_property
    def _workspace_local_groups(self) -> frozenset[str]:
        return frozenset(
            p.name.lower() for p in self.snapshot.principals if p.kind is PrincipalKind.GROUP and not p.account_level
        )

    def groups_of(self, principal: str) -> dict[str, Membership]:
        """Every group ``principal`` belongs to, directly or through nesting, with the shortest chain."""
        found: dict[str, Membership] = {}
        queue: deque[tuple[str, tuple[str, ...]]] = deque([(principal, ())])
        seen = {principal.lower()}
        while queue:
            member, chain = queue.popleft()
            for group in sorted(self._groups_of_member.get(member.lower(), ())):
                if group.lower() in seen:
                    continue  # cycles and diamonds: first (shortest) chain wins
                seen.add(group.lower())
                membership = Membership(group=group, chain=(*chain, group))
                found[group.lower()] = membership
                queue.append((group, membership.chain))
        return found

    def grants_on(self, securable_type: SecurableType, full_name: str) -> list[Grant]:
        """Grants on the securable itself (denies excluded)."""
        return self._grants_by_securable.get(grant_lookup_key(securable_type, full_name), [])

    def denial(self, principal: str, privilege: str, securable_type: SecurableType, full_name: str) -> Grant | None:
        """The hive_metastore DENY that refuses ``principal`` the privilege on the securable, if any.

        Docs, "DENY" (sql/language-manual/security-deny): "Denying a privilege takes precedent over any explicit
        or implicit grant"; a deny on a schema (catalog) implicitly denies the privilege on every object in it.
        A deny to a group applies to its members, as grants do.
        """
        if not self._denies_by_securable or not is_hive(full_name):
            return None
        securable_type = SecurableType(securable_type)
        wanted = canonical(privilege, securable_type, hive=True)
        holders = self._holders(principal, hive=True)
        for on_type, on_name in lineage(securable_type, full_name):
            for deny in self._denies_by_securable.get(grant_lookup_key(on_type, on_name), []):
                if deny.principal.lower() in holders and any(
                    implies(deny.privilege, on_type, required, hive=True) for required in wanted
                ):
                    return deny
        return None

    def explain(
        self, principal: str, privilege: str, securable_type: SecurableType, full_name: str
    ) -> Explanation | None:
        """How ``principal`` holds ``privilege`` on the securable, or ``None`` when it does not.

        ``privilege`` may be legacy or Unity Catalog spelling; it is interpreted on the securable's
        metastore. Grants on ancestors count (inheritance), grants to any group containing the
        principal count (nesting), and the owner of the securable itself holds what `owner_holds` says (every
        privilege on the object itself but EXTERNAL USE SCHEMA / LOCATION; nothing on the objects inside it).
        Unity Catalog ignores workspace-local groups.
        """
        securable_type = SecurableType(securable_type)
        if self.denial(principal, privilege, securable_type, full_name) is not None:
            return None
        hive = is_hive(full_name)
        wanted = canonical(privilege, securable_type, hive=hive)
        holders = self._holders(principal, hive=hive)
        owner = self.owner_of(securable_type, full_name)
        as_owner = sorted(w for w in wanted if owner_holds(w, securable_type, hive=hive))
        if owner is not None and owner.lower() in holders and as_owner:
            return Explanation(
                principal,
                as_owner[0],
                securable_type,
                full_name,
                "OWNER",
                (securable_type, full_name),
                holders[owner.lower()],
            )
        best: Explanation | None = None
        for on_type, on_name in lineage(securable_type, full_name):
            for grant in self.grants_on(on_type, on_name):
                via_key = grant.principal.lower()
                if via_key not in holders:
                    continue
                for required in sorted(wanted):
                    if implies(grant.privilege, on_type, required, hive=hive):
                        candidate = Explanation(
                            principal,
                            required,
                            securable_type,
                            full_name,
                            grant.privilege,
                            (on_type, on_name),
                            holders[via_key],
                        )
                        if best is None or _rank(candidate) < _rank(best):
                            best = candidate
        return best

    def owner_of(self, securable_type: SecurableType, full_name: str) -> str | None:
        """The owner of a securable, storage credential or external location, when known."""
        found: Securable | StorageCredential | ExternalLocation | None
        if securable_type is SecurableType.STORAGE_CREDENTIAL:
            found = self.snapshot.storage_credential(full_name)
        elif securable_type is SecurableType.EXTERNAL_LOCATION:
            found = self.snapshot.external_location(full_name)
        else:
            found = self.snapshot.securable(securable_type, full_name)
        return found.owner if found is not None else None

    def _holders(self, principal: str, *, hive: bool) -> dict[str, Membership | None]:
        holders: dict[str, Membership | None] = {principal.lower(): None}
        for key, membership in self.groups_of(principal).items():
            if not hive and key in self._workspace_local_groups:
                continue
            holders[key] = membership
        return holders

    def missing(
        self, principal: str, privileges: Iterable[str], securable_type: SecurableType, full_name: str
    ) -> tuple[list[str], list[Explanation]]:
        """Split required privileges into the missing ones and the explanations of the held ones."""
        missing: list[str] = []
        held: list[Explanation] = []
        for privilege in privileges:
            explanation = self.explain(principal, privilege, securable_type, full_name)
            if explanation is None:
                missing.append(privilege)
            else:
                held.append(explanation)
        return missing, held

    def grants_to(self, principal: str) -> list[Grant]:
        """Grants made to the principal itself (not through groups)."""
        return list(self._grants_by_principal.get(principal.lower(), ()))

    def grants_in_catalog(self, catalog: str) -> list[Grant]:
        """Every grant on the catalog or on anything inside it (denies excluded), in snapshot order."""
        return list(self._grants_by_catalog.get(catalog.lower(), ()))


def describe_denial(deny: Grant) -> str:
    """``denied by DENY SELECT on SCHEMA hive_metastore.sales to interns``."""
    on = f"{deny.securable_type.value} {deny.securable_name}".rstrip()
    return f"denied by DENY {sql_spelling(deny.privilege)} on {on} to {deny.principal}"


def _rank(explanation: Explanation) -> tuple[int, int, int]:
    """Prefer the simplest explanation: direct over group, own securable over ancestor, exact name."""
    return (
        0 if explanation.via is None else len(explanation.via.chain),
        0 if explanation.granted_on == (explanation.securable_type, explanation.securable_name) else 1,
        0 if explanation.granted == explanation.privilege else 1,
    )
