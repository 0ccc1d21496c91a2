"""The workspace's directory: users, service principals, groups (nested, cycle-safe) and entitlements."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace

from auditor_sandbox.entities import Group, MemberRef, PrincipalKind, SandboxError, ServicePrincipal, User
from auditor_sandbox.state.clock import Clock
from auditor_sandbox.state.clock import name_key as _key

_ADMINS_GROUP = "admins"
# Built-in workspace groups. "All workspace users and service principals are members of this group"
# (docs.databricks.com/gcp/en/security/auth/entitlements); whether SCIM lists `users` in a principal's
# `groups` is undocumented (only third-party mocks show it), so listing it is an option, off by default.
_USERS_GROUP = "users"
# Legacy model: "The users group is granted the Workspace access and Databricks SQL access entitlements by
# default" (same page). After "Migrate workspace entitlement control"
# (docs.databricks.com/aws/en/security/auth/system-group-entitlements-migration): "The users group has no
# entitlements, and the admins group has all workspace entitlements. Neither can be changed."
LEGACY_USERS_ENTITLEMENTS = ("workspace-access", "databricks-sql-access")


class Directory:
    """Principals as SCIM lists them, and the names grants use for them (e-mail, application id, group name)."""

    def __init__(self, lock: threading.RLock, clock: Clock) -> None:
        self.lock = lock
        self._clock = clock
        self._users: dict[str, User] = {}  # by SCIM id
        self._users_by_name: dict[str, str] = {}
        self._sps: dict[str, ServicePrincipal] = {}
        self._sps_by_app_id: dict[str, str] = {}
        self._groups: dict[str, Group] = {}
        self._groups_by_name: dict[str, str] = {}
        self._members: dict[str, dict[MemberRef, None]] = {}  # group id -> direct members
        self._member_of: dict[MemberRef, dict[str, None]] = {}  # member -> group ids
        self._deleted: dict[str, int] = {}  # name -> the numeric id grants still carry
        self.lists_implicit_users_membership = False  # SCIM `groups` shows the implicit `users` membership

    def add_user(
        self,
        user_name: str,
        *,
        display_name: str | None = None,
        entitlements: Iterable[str] = (),
        active: bool = True,
        scim_id: str | None = None,
    ) -> User:
        """Add a workspace user (e-mail)."""
        with self.lock:
            if _key(user_name) in self._users_by_name:
                raise SandboxError("RESOURCE_ALREADY_EXISTS", f"User {user_name} already exists.", 409)
            user = User(
                scim_id or self._clock.numeric_id(7_100_000_000_000_000),
                user_name,
                display_name or user_name.split("@")[0],
                active,
                tuple(entitlements),
            )
            self._users[user.id] = user
            self._users_by_name[_key(user_name)] = user.id
            return user

    def add_service_principal(
        self,
        application_id: str,
        display_name: str,
        *,
        entitlements: Iterable[str] = (),
        active: bool = True,
        scim_id: str | None = None,
    ) -> ServicePrincipal:
        """Add a service principal, named in grants by its application id."""
        with self.lock:
            if _key(application_id) in self._sps_by_app_id:
                raise SandboxError("RESOURCE_ALREADY_EXISTS", f"{application_id} already exists.", 409)
            sp = ServicePrincipal(
                scim_id or self._clock.numeric_id(7_200_000_000_000_000),
                application_id,
                display_name,
                active,
                tuple(entitlements),
            )
            self._sps[sp.id] = sp
            self._sps_by_app_id[_key(application_id)] = sp.id
            return sp

    def add_group(
        self,
        display_name: str,
        *,
        entitlements: Iterable[str] = (),
        account: bool = True,
        scim_id: str | None = None,
    ) -> Group:
        """Add an (initially empty) group; add members with `add_group_member`."""
        with self.lock:
            if _key(display_name) in self._groups_by_name:
                raise SandboxError("RESOURCE_ALREADY_EXISTS", f"Group {display_name} already exists.", 409)
            group = Group(
                scim_id or self._clock.numeric_id(7_300_000_000_000_000),
                display_name,
                tuple(entitlements),
                (),
                account,
            )
            self._groups[group.id] = group
            self._members[group.id] = {}
            self._groups_by_name[_key(display_name)] = group.id
            return group

    def add_group_member(self, group_name: str, member: str) -> None:
        """Add a user (e-mail), service principal (application id) or group (name) to a group."""
        with self.lock:
            group = self.group_by_name(group_name)
            if group is None:
                raise SandboxError.not_found(f"Group {group_name} does not exist.")
            ref = self.member_ref(member)
            if ref is None:
                raise SandboxError.not_found(f"Principal {member} does not exist.")
            self._members[group.id][ref] = None
            self._member_of.setdefault(ref, {})[group.id] = None

    def delete_principal(self, name: str) -> None:
        """Delete a user, service principal or group; the Unity Catalog grants it held stay behind.

        The grants API then answers them with `principal` empty and `principal_id` set: "For deleted principals,
        principal is empty while principal_id is populated" (docs.databricks.com/api, Grants get-permissions).
        """
        with self.lock:
            ref = self.member_ref(name)
            if ref is None:
                raise SandboxError.not_found(f"Principal {name} does not exist.")
            key = _key(name)
            if ref.kind == "user":
                del self._users[ref.id], self._users_by_name[key]
            elif ref.kind == "service_principal":
                del self._sps[ref.id], self._sps_by_app_id[key]
            else:
                del self._groups[ref.id], self._groups_by_name[key], self._members[ref.id]
            for group_id in self._member_of.pop(ref, {}):
                self._members.get(group_id, {}).pop(ref, None)
            for members in self._members.values():
                members.pop(ref, None)
            self._deleted[key] = int(ref.id)

    def deleted_principal_id(self, name: str) -> int | None:
        """The id of a deleted principal's leftover grants, None for a principal that was never deleted."""
        with self.lock:
            return self._deleted.get(_key(name))

    def add_builtin_groups(self, model: str) -> None:
        """The workspace-local `users` and `admins` groups, unless already there (model: legacy or migrated)."""
        with self.lock:
            if self.group_by_name(_USERS_GROUP) is None:
                legacy = model == "legacy"
                self.add_group(_USERS_GROUP, entitlements=LEGACY_USERS_ENTITLEMENTS if legacy else (), account=False)
            if self.group_by_name(_ADMINS_GROUP) is None:
                self.add_group(_ADMINS_GROUP, account=False)

    def set_entitlements(self, principal: str, entitlements: Iterable[str]) -> None:
        """Replace a user's, service principal's or group's direct entitlements."""
        with self.lock:
            ref = self.member_ref(principal)
            values = tuple(entitlements)
            if ref is None:
                raise SandboxError.not_found(f"Principal {principal} does not exist.")
            if ref.kind == "user":
                self._users[ref.id] = replace(self._users[ref.id], entitlements=values)
            elif ref.kind == "service_principal":
                self._sps[ref.id] = replace(self._sps[ref.id], entitlements=values)
            else:
                self._groups[ref.id] = replace(self._groups[ref.id], entitlements=values)

    def member_ref(self, name: str) -> MemberRef | None:
        """Resolve a principal name (application id, e-mail or group name) to its kind and SCIM id."""
        key = _key(name)
        with self.lock:
            if key in self._sps_by_app_id:
                return MemberRef("service_principal", self._sps_by_app_id[key])
            if key in self._users_by_name:
                return MemberRef("user", self._users_by_name[key])
            if key in self._groups_by_name:
                return MemberRef("group", self._groups_by_name[key])
            return None

    def principal_exists(self, name: str) -> bool:
        """Whether a user e-mail, group name or service principal application id is known."""
        return self.member_ref(name) is not None

    def principal_kind(self, name: str) -> PrincipalKind | None:
        """`user`, `service_principal` or `group` for a known principal name, else None."""
        ref = self.member_ref(name)
        return ref.kind if ref else None

    def principal_name(self, ref: MemberRef) -> str:
        """The name grants use for a member: e-mail, application id or group name."""
        with self.lock:
            if ref.kind == "user":
                return self._users[ref.id].user_name
            if ref.kind == "service_principal":
                return self._sps[ref.id].application_id
            return self._groups[ref.id].display_name

    def user_by_name(self, user_name: str) -> User | None:
        """The user with that e-mail, or None."""
        with self.lock:
            scim_id = self._users_by_name.get(_key(user_name))
            return self._users[scim_id] if scim_id else None

    def user_by_id(self, scim_id: str) -> User | None:
        """The user with that SCIM id, or None."""
        with self.lock:
            return self._users.get(scim_id)

    def service_principal_by_app_id(self, application_id: str) -> ServicePrincipal | None:
        """The service principal with that application id, or None."""
        with self.lock:
            scim_id = self._sps_by_app_id.get(_key(application_id))
            return self._sps[scim_id] if scim_id else None

    def service_principal_by_id(self, scim_id: str) -> ServicePrincipal | None:
        """The service principal with that numeric SCIM id, or None."""
        with self.lock:
            return self._sps.get(scim_id)

    def group_by_name(self, display_name: str) -> Group | None:
        """The group with that name, or None."""
        with self.lock:
            scim_id = self._groups_by_name.get(_key(display_name))
            return self._group_view(scim_id) if scim_id else None

    def group_by_id(self, scim_id: str) -> Group | None:
        """The group with that SCIM id, or None."""
        with self.lock:
            return self._group_view(scim_id) if scim_id in self._groups else None

    def list_users(self) -> list[User]:
        """Every user, in creation order."""
        with self.lock:
            return list(self._users.values())

    def list_service_principals(self) -> list[ServicePrincipal]:
        """Every service principal, in creation order."""
        with self.lock:
            return list(self._sps.values())

    def list_groups(self) -> list[Group]:
        """Every group, in creation order."""
        with self.lock:
            return [self._group_view(gid) for gid in self._groups]

    def _group_view(self, group_id: str) -> Group:
        # members are kept in a dict so that adding one is O(1); the record gets them when read
        return replace(self._groups[group_id], members=tuple(self._members[group_id]))

    def direct_groups(self, ref: MemberRef) -> list[Group]:
        """The groups that list `ref` as a direct member."""
        with self.lock:
            return [self._group_view(g) for g in self._member_of.get(ref, {})]

    def _ancestors(self, ref: MemberRef, *, implicit: bool = True) -> list[tuple[str, bool]]:
        """Ids of every group `ref` belongs to, directly or through nesting, nearest first; cycles end.

        A user or service principal is implicitly a direct member of the built-in `users` group."""
        result: list[tuple[str, bool]] = []
        seen: set[str] = set()
        frontier = [(gid, True) for gid in self._member_of.get(ref, {})]
        users_id = self._groups_by_name.get(_USERS_GROUP)
        if implicit and users_id and ref.kind != "group" and users_id not in self._member_of.get(ref, {}):
            frontier.append((users_id, True))
        while frontier:
            next_frontier: list[tuple[str, bool]] = []
            for gid, direct in frontier:
                if gid in seen:
                    continue
                seen.add(gid)
                result.append((gid, direct))
                next_frontier.extend((parent, False) for parent in self._member_of.get(MemberRef("group", gid), {}))
            frontier = next_frontier
        return result

    def all_groups(self, ref: MemberRef) -> list[tuple[Group, bool]]:
        """Every group `ref` belongs to, directly or through nesting: (group, is_direct), nearest first."""
        with self.lock:
            return [(self._group_view(gid), direct) for gid, direct in self._ancestors(ref)]

    def listed_groups(self, ref: MemberRef) -> list[tuple[Group, bool]]:
        """The groups SCIM lists for `ref`: the implicit `users` membership only if that option is on."""
        with self.lock:
            ancestors = self._ancestors(ref, implicit=self.lists_implicit_users_membership)
            return [(self._group_view(gid), direct) for gid, direct in ancestors]

    def groups_of(self, principal: str, *, transitive: bool = True) -> list[str]:
        """Names of the groups a principal is in (through nested groups too, unless `transitive` is False)."""
        ref = self.member_ref(principal)
        if ref is None:
            return []
        with self.lock:
            ids = self._member_of.get(ref, {}) if not transitive else [gid for gid, _ in self._ancestors(ref)]
            return [self._groups[gid].display_name for gid in ids]

    def is_admin(self, principal: str) -> bool:
        """Whether the principal is a workspace admin (in `admins`, directly or nested)."""
        return any(_key(g) == _ADMINS_GROUP for g in self.groups_of(principal))

    def effective_entitlements(self, principal: str) -> list[str]:
        """The principal's own entitlements plus those of every group it belongs to."""
        with self.lock:
            ref = self.member_ref(principal)
            if ref is None:
                return []
            own: tuple[str, ...]
            if ref.kind == "user":
                own = self._users[ref.id].entitlements
            elif ref.kind == "service_principal":
                own = self._sps[ref.id].entitlements
            else:
                own = self._groups[ref.id].entitlements
            merged = dict.fromkeys(own)
            for gid, _ in self._ancestors(ref):
                merged.update(dict.fromkeys(self._groups[gid].entitlements))
            return list(merged)
