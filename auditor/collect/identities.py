"""Principals through SCIM: who they are, their direct entitlements, and every group they are in.

Every user and service principal is a member of the built-in ``users`` group, listed in SCIM or not: the
collector adds that membership itself, so its entitlements count.

Principals are named the way grants name them: a service principal by application id, a user by user
name (e-mail), a group by display name. Group memberships are expanded upwards through nested groups
(each group's own ``groups``) with a visited set and at most `MAX_GROUP_NESTING` levels, and every group
met becomes a `Principal` too: groups pass entitlements on. Lookups are memoised for the cycle, so a
group shared by many principals is fetched once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from auditor.collect.clients import RestClient
from auditor.collect.interface import NotVisible, ObjectNotFound, ReadFailed
from auditor.collect.runner import Memo
from auditor.model.facts import Membership, Principal, PrincipalKind
from auditor.privileges.names import SCIM_NAME_ATTRIBUTES, SCIM_RESOURCES, USERS_GROUP, principal_kind_of

SCIM = "/api/2.0/preview/scim/v2"
MAX_GROUP_NESTING = 10


@dataclass(frozen=True)
class ResolvedPrincipal:
    """A principal with its groups (transitively), as facts."""

    principal: Principal
    groups: tuple[Principal, ...]
    memberships: tuple[Membership, ...]


class ScimDirectory:
    """Memoised SCIM reads for one cycle."""

    def __init__(self, rest: RestClient) -> None:
        self._rest = rest
        self._memo = Memo()
        self._names_by_id: dict[str, str] = {}
        self._lock = threading.Lock()

    # ---- lookups --------------------------------------------------------------------------------

    def find(self, name: str) -> dict[str, Any] | None:
        """The full SCIM resource of the principal a grant calls ``name``; None if there is none."""
        kind = principal_kind_of(name)
        return self._memo.get(("name", kind, name.lower()), lambda: self._find(kind, name))

    def _find(self, kind: PrincipalKind, name: str) -> dict[str, Any] | None:
        collection, attribute = SCIM_RESOURCES[kind], SCIM_NAME_ATTRIBUTES[kind]
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        listed = self._rest.get(f"{SCIM}/{collection}", {"filter": f'{attribute} eq "{escaped}"'})
        matches = [r for r in listed.get("Resources") or () if isinstance(r, dict)]
        wanted = name.lower()
        exact = [r for r in matches if str(r.get(attribute, "")).lower() == wanted]
        if not exact:
            return None
        resource = exact[0]
        if "groups" not in resource and "entitlements" not in resource:
            # a list answered with identifying attributes only: the details need their own read
            resource = self.by_id(collection, str(resource.get("id"))) or resource
        self._remember(resource, kind)
        return resource

    def by_id(self, collection: str, scim_id: str) -> dict[str, Any] | None:
        """One resource by numeric SCIM id; None if it does not exist."""

        def fetch() -> dict[str, Any] | None:
            try:
                return self._rest.get(f"{SCIM}/{collection}/{scim_id}")
            except ObjectNotFound:
                return None

        return self._memo.get(("id", collection, scim_id), fetch)

    def name_of(self, scim_id: str) -> str | None:
        """The grant name of a user or service principal known by numeric id (e.g. a token's owner)."""
        with self._lock:
            known = self._names_by_id.get(scim_id)
        if known is not None:
            return known
        for collection, kind in (
            (SCIM_RESOURCES[PrincipalKind.SERVICE_PRINCIPAL], PrincipalKind.SERVICE_PRINCIPAL),
            (SCIM_RESOURCES[PrincipalKind.USER], PrincipalKind.USER),
        ):
            resource = self.by_id(collection, scim_id)
            if resource is not None:
                return self._remember(resource, kind)
        return None

    def remember(self, principal: Principal) -> None:
        """Make a principal read elsewhere (the auditor itself) known by its SCIM id."""
        if principal.scim_id:
            with self._lock:
                self._names_by_id[principal.scim_id] = principal.name

    def _remember(self, resource: dict[str, Any], kind: PrincipalKind) -> str:
        name = grant_name(resource, kind)
        with self._lock:
            self._names_by_id[str(resource.get("id"))] = name
        return name

    # ---- facts ----------------------------------------------------------------------------------

    def resolve(self, name: str) -> ResolvedPrincipal | None:
        """The principal, its groups and membership edges; None if SCIM has no such principal."""
        resource = self.find(name)
        if resource is None:
            return None
        kind = principal_kind_of(name)
        principal = principal_from(resource, kind, grant_name(resource, kind))
        if kind is not PrincipalKind.GROUP:
            resource = self._with_implicit_users(resource)
        groups, memberships = self.expand_groups(principal.name, resource)
        return ResolvedPrincipal(principal, tuple(groups), tuple(memberships))

    def _with_implicit_users(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The resource with its membership of the built-in ``users`` group, which SCIM need not list."""
        listed = [ref for ref in resource.get("groups") or () if isinstance(ref, dict)]
        if any(str(ref.get("display") or "").lower() == USERS_GROUP for ref in listed):
            return resource
        users = self.find(USERS_GROUP)
        if users is None or users.get("id") is None:
            return resource
        implicit = {"value": str(users["id"]), "display": USERS_GROUP, "type": "direct"}
        return {**resource, "groups": [*listed, implicit]}

    def expand_groups(self, member: str, resource: dict[str, Any]) -> tuple[list[Principal], list[Membership]]:
        """Every group ``member`` is in, transitively, with one direct edge per membership."""
        groups: list[Principal] = []
        edges: list[Membership] = []
        visited: set[str] = set()
        frontier: list[tuple[str, dict[str, Any]]] = [(member, resource)]
        for _ in range(MAX_GROUP_NESTING + 1):
            next_frontier: list[tuple[str, dict[str, Any]]] = []
            for child_name, child in frontier:
                for ref in child.get("groups") or ():
                    if not _is_direct(ref):
                        continue  # indirect memberships are found by walking up the direct ones
                    group_id = str(ref.get("value") or "")
                    group = self.by_id("Groups", group_id) if group_id else None
                    if group is None:
                        continue  # deleted since the member was read
                    group_name = str(group.get("displayName") or ref.get("display") or group_id)
                    edges.append(Membership(member=child_name, group=group_name))
                    if group_id in visited:
                        continue
                    visited.add(group_id)
                    groups.append(principal_from(group, PrincipalKind.GROUP, group_name))
                    next_frontier.append((group_name, group))
            frontier = next_frontier
            if not frontier:
                return groups, edges
        raise ReadFailed(f"groups of {member} nest deeper than {MAX_GROUP_NESTING} levels", api_family="scim")


def _is_direct(ref: Any) -> bool:
    """A ``groups`` entry for a direct membership (SCIM also lists indirect ones)."""
    return isinstance(ref, dict) and str(ref.get("type", "direct")).lower() == "direct"


def grant_name(resource: dict[str, Any], kind: PrincipalKind) -> str:
    """How grants name the principal of a SCIM resource."""
    if kind is PrincipalKind.SERVICE_PRINCIPAL:
        return str(resource.get("applicationId") or resource.get("userName") or resource.get("id"))
    if kind is PrincipalKind.USER:
        return str(resource.get("userName") or resource.get("id"))
    return str(resource.get("displayName") or resource.get("id"))


def principal_from(resource: dict[str, Any], kind: PrincipalKind, name: str) -> Principal:
    """A SCIM resource as a `Principal` (direct entitlements only)."""
    entitlements = sorted(
        {str(e["value"]) for e in resource.get("entitlements") or () if isinstance(e, dict) and e.get("value")}
    )
    resource_type = str((resource.get("meta") or {}).get("resourceType") or "")
    return Principal(
        name=name,
        kind=kind,
        scim_id=str(resource["id"]) if resource.get("id") is not None else None,
        display_name=resource.get("displayName"),
        active=resource.get("active") is not False,
        entitlements=tuple(entitlements),
        account_level=not (kind is PrincipalKind.GROUP and resource_type == "WorkspaceGroup"),
    )


@dataclass(frozen=True)
class AuditorIdentity:
    """Who the auditor is (SCIM ``Me``) and the groups it is in."""

    name: str
    resolved: ResolvedPrincipal

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(sorted(g.name for g in self.resolved.groups))


def read_me(rest: RestClient, directory: ScimDirectory) -> AuditorIdentity:
    """The auditor's own identity. A service principal shows as a User whose ``userName`` is its app id."""
    me = rest.get(f"{SCIM}/Me")
    application_id = me.get("applicationId")
    user_name = str(me.get("userName") or "")
    if application_id or principal_kind_of(user_name) is PrincipalKind.SERVICE_PRINCIPAL:
        kind, name = PrincipalKind.SERVICE_PRINCIPAL, str(application_id or user_name)
    else:
        kind, name = PrincipalKind.USER, user_name
    if not name:
        raise ReadFailed("SCIM Me answered without a user name or application id", api_family="scim")
    principal = principal_from(me, kind, name)
    try:
        groups, memberships = directory.expand_groups(name, me)
    except NotVisible:
        # a non-admin may not read groups: its direct memberships are still in its own record
        groups = []
        memberships = [
            Membership(member=name, group=str(ref["display"]))
            for ref in me.get("groups") or ()
            if _is_direct(ref) and ref.get("display")
        ]
    return AuditorIdentity(name, ResolvedPrincipal(principal, tuple(groups), tuple(memberships)))
