"""The sandbox workspace's in-memory state: Unity Catalog objects, grants, identities, warehouses, tokens.

Thread-safe: every public method holds `lock` (an `RLock`, so callers may hold it across several calls for
a consistent read). Names are compared case-insensitively, as Unity Catalog does, and stored with their
original casing. Grants are stored as direct grants only; inheritance (catalog -> schema -> table) is
computed by `effective_grants`. Privileges are stored normalised (`ALL PRIVILEGES` -> `ALL_PRIVILEGES`).
Every lookup goes through a dict index, so a metastore of 100,000 tables stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from auditor_sandbox.entities import (
    GRANTABLE_TYPES,
    NO_CREDENTIAL,
    SECURABLE_TYPES,
    AclEntry,
    Column,
    EffectiveGrant,
    ExternalLocation,
    Group,
    Identity,
    MemberRef,
    Metastore,
    OAuthSecret,
    PrincipalKind,
    SandboxError,
    Securable,
    ServicePrincipal,
    StorageCredential,
    Token,
    User,
    Warehouse,
)

__all__ = [
    "GRANTABLE_TYPES",
    "SECURABLE_TYPES",
    "AclEntry",
    "Column",
    "EffectiveGrant",
    "ExternalLocation",
    "Group",
    "Identity",
    "MemberRef",
    "Metastore",
    "OAuthSecret",
    "SandboxError",
    "Securable",
    "ServicePrincipal",
    "StorageCredential",
    "Token",
    "User",
    "Warehouse",
    "WorkspaceState",
    "normalise_privilege",
    "normalise_type",
]

_TYPE_ALIASES = {"DATABASE": "SCHEMA", "CREDENTIAL": "STORAGE_CREDENTIAL", "MATERIALIZED_VIEW": "VIEW"}
_ID_NAMESPACE = uuid.UUID("5a9d0b0c-0000-4000-8000-00000000cafe")
_ADMINS_GROUP = "admins"


def normalise_privilege(privilege: str) -> str:
    """`all privileges` -> `ALL_PRIVILEGES`; legacy names (`USAGE`, `READ_METADATA`) stay as given."""
    return privilege.strip().upper().replace(" ", "_")


def normalise_type(securable_type: str) -> str:
    """`catalog`, `external-location`, `EXTERNAL LOCATION`, `database` -> the UPPER_UNDERSCORE type."""
    upper = securable_type.strip().upper().replace(" ", "_").replace("-", "_")
    return _TYPE_ALIASES.get(upper, upper)


def _key(name: str) -> str:
    return name.lower()


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class WorkspaceState:
    """One emulated workspace: its metastore, securables, grants, principals, warehouses and credentials."""

    def __init__(
        self,
        *,
        workspace_id: int = 1234567890123456,
        account_id: str = "e7a3c1d2-0000-4000-8000-00000000acc1",
        now: datetime | None = None,
        oauth_token_lifetime_seconds: int = 3600,
    ) -> None:
        self.lock = threading.RLock()
        self.workspace_id = workspace_id
        self.account_id = account_id
        self.metastore: Metastore | None = None
        self.oauth_token_lifetime_seconds = oauth_token_lifetime_seconds
        self._anchor = (now or datetime.now(UTC)).astimezone(UTC)
        self._anchor_monotonic = time.monotonic()
        self._clock_offset = timedelta()
        self._counter = itertools.count(1)

        self._catalogs: dict[str, Securable] = {}
        self._schemas: dict[str, Securable] = {}
        self._tables: dict[str, Securable] = {}
        # catalog/schema key -> child keys, in insertion order
        self._children: dict[str, dict[str, None]] = {}
        self._storage_credentials: dict[str, StorageCredential] = {}
        self._external_locations: dict[str, ExternalLocation] = {}
        # (grant type, name key) -> principal key -> (principal as given, privileges in grant order)
        self._grants: dict[tuple[str, str], dict[str, tuple[str, dict[str, None]]]] = {}

        self._users: dict[str, User] = {}  # by SCIM id
        self._users_by_name: dict[str, str] = {}
        self._sps: dict[str, ServicePrincipal] = {}
        self._sps_by_app_id: dict[str, str] = {}
        self._groups: dict[str, Group] = {}
        self._groups_by_name: dict[str, str] = {}
        self._members: dict[str, dict[MemberRef, None]] = {}  # group id -> direct members
        self._member_of: dict[MemberRef, dict[str, None]] = {}  # member -> group ids

        self._warehouses: dict[str, Warehouse] = {}
        self.token_acl: tuple[AclEntry, ...] = ()
        self.workspace_conf: dict[str, str] = {}
        self._tokens: dict[str, Token] = {}  # by token id
        self._tokens_by_value: dict[str, str] = {}
        self._oauth_secrets: dict[str, OAuthSecret] = {}  # by secret id
        self._access_tokens: dict[str, tuple[str, datetime]] = {}  # value -> (application id, expiry)

    # -- clock ----------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The sandbox's current time: the anchor given at start plus real elapsed time plus any advance."""
        elapsed = timedelta(seconds=time.monotonic() - self._anchor_monotonic)
        return self._anchor + elapsed + self._clock_offset

    @property
    def started_at(self) -> datetime:
        """The anchor the scenario's relative expiries are computed from."""
        return self._anchor

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox's clock forward (tokens and secrets expire accordingly)."""
        with self.lock:
            self._clock_offset += delta

    def new_id(self, kind: str, name: str = "") -> str:
        """A deterministic UUID for an object of `kind` named `name` (fresh when no name is given)."""
        return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{name or next(self._counter)}"))

    def _numeric_id(self, base: int) -> str:
        return str(base + next(self._counter))

    # -- securables -----------------------------------------------------------------------------------------

    def add_catalog(
        self,
        name: str,
        *,
        owner: str | None = None,
        storage_location: str | None = None,
        catalog_type: str = "MANAGED_CATALOG",
        isolation_mode: str = "OPEN",
        comment: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> Securable:
        """Create a catalog. Raises `SandboxError` CATALOG_ALREADY_EXISTS (409)."""
        with self.lock:
            key = _key(name)
            if key in self._catalogs:
                raise SandboxError("CATALOG_ALREADY_EXISTS", f"Catalog '{name}' already exists.", 409)
            catalog = Securable(
                type="CATALOG",
                full_name=name,
                id=self.new_id("catalog", key),
                owner=owner,
                storage_location=storage_location,
                catalog_type=catalog_type,
                isolation_mode=isolation_mode,
                comment=comment,
                properties=tuple((properties or {}).items()),
                created_at=_epoch_ms(self._anchor),
            )
            self._catalogs[key] = catalog
            self._children[key] = {}
            return catalog

    def add_schema(
        self,
        full_name: str,
        *,
        owner: str | None = None,
        storage_location: str | None = None,
        comment: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> Securable:
        """Create `catalog.schema`; the owner defaults to the catalog's. Raises NOT_FOUND / ALREADY_EXISTS."""
        with self.lock:
            parts = full_name.split(".")
            if len(parts) != 2:
                raise SandboxError.invalid(f"'{full_name}' is not a two-part schema name.")
            catalog = self._catalogs.get(_key(parts[0]))
            if catalog is None:
                raise SandboxError.not_found(f"Catalog '{parts[0]}' does not exist.")
            key = _key(full_name)
            if key in self._schemas:
                raise SandboxError("SCHEMA_ALREADY_EXISTS", f"Schema '{full_name}' already exists.", 409)
            schema = Securable(
                type="SCHEMA",
                full_name=f"{catalog.full_name}.{parts[1]}",
                id=self.new_id("schema", key),
                owner=owner if owner is not None else catalog.owner,
                storage_location=storage_location,
                comment=comment,
                properties=tuple((properties or {}).items()),
                created_at=_epoch_ms(self._anchor),
            )
            self._schemas[key] = schema
            self._children[key] = {}
            self._children[_key(catalog.full_name)][key] = None
            return schema

    def add_table(
        self,
        full_name: str,
        *,
        owner: str | None = None,
        table_type: str = "MANAGED",
        columns: Iterable[Column] = (),
        storage_location: str | None = None,
        data_source_format: str | None = "DELTA",
        view_definition: str | None = None,
        comment: str | None = None,
    ) -> Securable:
        """Create `catalog.schema.table` (a VIEW if `table_type` is VIEW); NOT_FOUND, ALREADY_EXISTS."""
        with self.lock:
            parts = full_name.split(".")
            if len(parts) != 3:
                raise SandboxError.invalid(f"'{full_name}' is not a three-part table name.")
            schema_key = _key(f"{parts[0]}.{parts[1]}")
            schema = self._schemas.get(schema_key)
            if schema is None:
                raise SandboxError.not_found(f"Schema '{parts[0]}.{parts[1]}' does not exist.")
            key = _key(full_name)
            if key in self._tables:
                raise SandboxError("TABLE_ALREADY_EXISTS", f"Table '{full_name}' already exists.", 409)
            is_view = table_type.upper() == "VIEW"
            table = Securable(
                type="VIEW" if is_view else "TABLE",
                full_name=f"{schema.full_name}.{parts[2]}",
                id=self.new_id("table", key),
                owner=owner if owner is not None else schema.owner,
                storage_location=storage_location,
                table_type=table_type.upper(),
                data_source_format=None if is_view else data_source_format,
                view_definition=view_definition,
                comment=comment,
                columns=tuple(columns),
                created_at=_epoch_ms(self._anchor),
            )
            self._tables[key] = table
            self._children[schema_key][key] = None
            return table

    def get_securable(self, type: str, full_name: str) -> Securable | None:
        """The catalog, schema, table or view of that type and name (TABLE also finds views), or None."""
        kind = normalise_type(type)
        key = _key(full_name)
        with self.lock:
            if kind == "CATALOG":
                return self._catalogs.get(key)
            if kind == "SCHEMA":
                return self._schemas.get(key)
            if kind in ("TABLE", "VIEW"):
                found = self._tables.get(key)
                if found is not None and kind == "VIEW" and found.type != "VIEW":
                    return None
                return found
            return None

    def children(self, type: str, full_name: str) -> list[Securable]:
        """A catalog's schemas or a schema's tables and views, in creation order; [] for anything else."""
        kind = normalise_type(type)
        key = _key(full_name)
        with self.lock:
            if kind == "CATALOG" and key in self._catalogs:
                return [self._schemas[k] for k in self._children[key]]
            if kind == "SCHEMA" and key in self._schemas:
                return [self._tables[k] for k in self._children[key]]
            return []

    def list_catalogs(self) -> list[Securable]:
        """Every catalog (hive_metastore included), in creation order."""
        with self.lock:
            return list(self._catalogs.values())

    def table_count(self) -> int:
        """How many tables and views the metastore holds."""
        with self.lock:
            return len(self._tables)

    def set_owner(self, type: str, full_name: str, owner: str) -> None:
        """Transfer ownership of a catalog, schema, table, external location or storage credential."""
        kind = normalise_type(type)
        key = _key(full_name)
        with self.lock:
            if kind == "CATALOG" and key in self._catalogs:
                self._catalogs[key] = replace(self._catalogs[key], owner=owner)
            elif kind == "SCHEMA" and key in self._schemas:
                self._schemas[key] = replace(self._schemas[key], owner=owner)
            elif kind in ("TABLE", "VIEW") and key in self._tables:
                self._tables[key] = replace(self._tables[key], owner=owner)
            elif kind == "EXTERNAL_LOCATION" and key in self._external_locations:
                self._external_locations[key] = replace(self._external_locations[key], owner=owner)
            elif kind == "STORAGE_CREDENTIAL" and key in self._storage_credentials:
                self._storage_credentials[key] = replace(self._storage_credentials[key], owner=owner)
            else:
                raise SandboxError.not_found(f"{kind} '{full_name}' does not exist.")

    # -- storage credentials and external locations ---------------------------------------------------------

    def add_storage_credential(self, credential: StorageCredential) -> StorageCredential:
        """Add a storage credential (its `id` may be empty: one is assigned)."""
        with self.lock:
            key = _key(credential.name)
            if key in self._storage_credentials:
                raise SandboxError("STORAGE_CREDENTIAL_ALREADY_EXISTS", f"'{credential.name}' exists.", 409)
            if not credential.id:
                credential = replace(credential, id=self.new_id("storage_credential", key))
            self._storage_credentials[key] = credential
            return credential

    def add_external_location(self, location: ExternalLocation) -> ExternalLocation:
        """Add an external location; its credential must exist."""
        with self.lock:
            key = _key(location.name)
            if key in self._external_locations:
                raise SandboxError("EXTERNAL_LOCATION_ALREADY_EXISTS", f"'{location.name}' exists.", 409)
            if _key(location.credential_name) not in self._storage_credentials:
                raise SandboxError.not_found(f"Storage credential '{location.credential_name}' does not exist.")
            if not location.id:
                location = replace(location, id=self.new_id("external_location", key))
            self._external_locations[key] = location
            return location

    def storage_credential(self, name: str) -> StorageCredential | None:
        """The storage credential of that name, or None."""
        with self.lock:
            return self._storage_credentials.get(_key(name))

    def external_location(self, name: str) -> ExternalLocation | None:
        """The external location of that name, or None."""
        with self.lock:
            return self._external_locations.get(_key(name))

    def list_storage_credentials(self) -> list[StorageCredential]:
        """Every storage credential, in creation order."""
        with self.lock:
            return list(self._storage_credentials.values())

    def list_external_locations(self) -> list[ExternalLocation]:
        """Every external location, in creation order."""
        with self.lock:
            return list(self._external_locations.values())

    # -- grants ---------------------------------------------------------------------------------------------

    def _grant_key(self, type: str, full_name: str) -> tuple[str, str]:
        kind = normalise_type(type)
        key = _key(full_name)
        if kind not in GRANTABLE_TYPES:
            raise SandboxError.invalid(f"Securable type {type} is not supported.")
        if kind == "METASTORE":
            if self.metastore is None:
                raise SandboxError("METASTORE_DOES_NOT_EXIST", "No metastore assigned for the current workspace.", 404)
            if key not in ("", _key(self.metastore.metastore_id)):
                raise SandboxError.not_found(f"Metastore '{full_name}' does not exist.")
            return kind, _key(self.metastore.metastore_id)
        if kind in ("EXTERNAL_LOCATION", "STORAGE_CREDENTIAL"):
            exists = self._external_locations if kind == "EXTERNAL_LOCATION" else self._storage_credentials
            if key not in exists:
                raise SandboxError.not_found(f"{kind.replace('_', ' ').title()} '{full_name}' does not exist.")
            return kind, key
        if self.get_securable(kind, full_name) is None:
            raise SandboxError.not_found(f"{kind.title()} '{full_name}' does not exist.")
        return ("TABLE" if kind == "VIEW" else kind), key

    def grant(self, type: str, full_name: str, principal: str, privileges: Iterable[str]) -> None:
        """Grant privileges. Raises NOT_FOUND if the securable or the principal does not exist."""
        with self.lock:
            grant_key = self._grant_key(type, full_name)
            if not self.principal_exists(principal):
                raise SandboxError("PRINCIPAL_DOES_NOT_EXIST", f"Could not find principal with name {principal}.", 404)
            holders = self._grants.setdefault(grant_key, {})
            _, held = holders.setdefault(_key(principal), (principal, {}))
            for privilege in privileges:
                held[normalise_privilege(privilege)] = None

    def revoke(self, type: str, full_name: str, principal: str, privileges: Iterable[str]) -> None:
        """Revoke privileges (those not held are ignored). Raises NOT_FOUND if the securable is unknown."""
        with self.lock:
            grant_key = self._grant_key(type, full_name)
            holders = self._grants.get(grant_key, {})
            entry = holders.get(_key(principal))
            if entry is None:
                return
            for privilege in privileges:
                entry[1].pop(normalise_privilege(privilege), None)
            if not entry[1]:
                del holders[_key(principal)]

    def direct_grants(self, type: str, full_name: str) -> list[tuple[str, str]]:
        """(principal, PRIVILEGE) granted directly on the securable. Raises NOT_FOUND if it does not exist."""
        with self.lock:
            holders = self._grants.get(self._grant_key(type, full_name), {})
            return [(principal, privilege) for principal, held in holders.values() for privilege in held]

    def effective_grants(self, type: str, full_name: str) -> list[EffectiveGrant]:
        """Direct grants, then those inherited from the schema and the catalog (tables and schemas only)."""
        with self.lock:
            kind, key = self._grant_key(type, full_name)
            levels: list[tuple[str, str, str | None, str | None]] = [(kind, key, None, None)]
            if kind in ("SCHEMA", "TABLE"):
                securable = self.get_securable(kind, full_name)
                assert securable is not None  # _grant_key checked it
                parts = securable.full_name.split(".")
                if kind == "TABLE":
                    schema_name = f"{parts[0]}.{parts[1]}"
                    levels.append(("SCHEMA", _key(schema_name), "SCHEMA", schema_name))
                levels.append(("CATALOG", _key(parts[0]), "CATALOG", parts[0]))
            result: list[EffectiveGrant] = []
            for level_kind, level_key, from_type, from_name in levels:
                for principal, held in self._grants.get((level_kind, level_key), {}).values():
                    result.extend(EffectiveGrant(principal, p, from_type, from_name) for p in held)
            return result

    def all_grants(self) -> Iterator[tuple[str, str, str, str]]:
        """Every direct grant as (TYPE, full name as stored, principal, PRIVILEGE), for bulk views."""
        with self.lock:
            rows: list[tuple[str, str, str, str]] = []
            for (kind, key), holders in self._grants.items():
                name = self._display_name(kind, key)
                for principal, held in holders.values():
                    rows.extend((kind, name, principal, privilege) for privilege in held)
        return iter(rows)

    def _display_name(self, kind: str, key: str) -> str:
        securables = {"CATALOG": self._catalogs, "SCHEMA": self._schemas, "TABLE": self._tables}.get(kind)
        if securables is not None and key in securables:
            return securables[key].full_name
        if kind == "EXTERNAL_LOCATION" and key in self._external_locations:
            return self._external_locations[key].name
        if kind == "STORAGE_CREDENTIAL" and key in self._storage_credentials:
            return self._storage_credentials[key].name
        return self.metastore.metastore_id if self.metastore else key

    # -- principals -----------------------------------------------------------------------------------------

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
                scim_id or self._numeric_id(7_100_000_000_000_000),
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
                scim_id or self._numeric_id(7_200_000_000_000_000),
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
                scim_id or self._numeric_id(7_300_000_000_000_000),
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

    def _ancestors(self, ref: MemberRef) -> list[tuple[str, bool]]:
        """Ids of every group `ref` belongs to, directly or through nesting, nearest first; cycles end."""
        result: list[tuple[str, bool]] = []
        seen: set[str] = set()
        frontier = [(gid, True) for gid in self._member_of.get(ref, {})]
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

    # -- warehouses -----------------------------------------------------------------------------------------

    def add_warehouse(self, warehouse: Warehouse) -> Warehouse:
        """Add a SQL warehouse (with its ACL)."""
        with self.lock:
            self._warehouses[warehouse.id] = warehouse
            return warehouse

    def warehouse(self, warehouse_id: str) -> Warehouse | None:
        """The warehouse with that id, or None."""
        with self.lock:
            return self._warehouses.get(warehouse_id)

    def list_warehouses(self) -> list[Warehouse]:
        """Every warehouse."""
        with self.lock:
            return list(self._warehouses.values())

    def _set_warehouse(self, warehouse_id: str, **changes: object) -> None:
        with self.lock:
            found = self._warehouses.get(warehouse_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Warehouse {warehouse_id} does not exist.", 404)
            self._warehouses[warehouse_id] = replace(found, **changes)  # type: ignore[arg-type]

    def start_warehouse(self, warehouse_id: str) -> None:
        """Start a warehouse (it is RUNNING at once)."""
        self._set_warehouse(warehouse_id, state="RUNNING")

    def stop_warehouse(self, warehouse_id: str) -> None:
        """Stop a warehouse."""
        self._set_warehouse(warehouse_id, state="STOPPED")

    def set_warehouse_state(self, warehouse_id: str, state: str, *, auto_start: bool | None = None) -> None:
        """Set a warehouse's state (and optionally whether queries auto-start it)."""
        changes: dict[str, object] = {"state": state}
        if auto_start is not None:
            changes["auto_start"] = auto_start
        self._set_warehouse(warehouse_id, **changes)

    def set_warehouse_permission(self, warehouse_id: str, principal: str, level: str | None) -> None:
        """Set (or with `level=None` remove) one principal's permission level on a warehouse."""
        with self.lock:
            found = self._warehouses.get(warehouse_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Warehouse {warehouse_id} does not exist.", 404)
            entries = [e for e in found.acl if _key(e.principal) != _key(principal)]
            if level is not None:
                entries.append(AclEntry(principal, level.upper()))
            self._warehouses[warehouse_id] = replace(found, acl=tuple(entries))

    # -- tokens, secrets, workspace settings ----------------------------------------------------------------

    def add_token(
        self,
        owner: str,
        value: str,
        *,
        comment: str | None = None,
        expiry_time: datetime | None = None,
        creation_time: datetime | None = None,
        token_id: str | None = None,
    ) -> Token:
        """Add a personal access token owned by a user or service principal."""
        with self.lock:
            if not self.principal_exists(owner):
                raise SandboxError.not_found(f"Principal {owner} does not exist.")
            if value in self._tokens_by_value:
                raise SandboxError("RESOURCE_ALREADY_EXISTS", "A token with that value already exists.", 409)
            token_id = token_id or hashlib.sha256(f"token:{owner}:{next(self._counter)}".encode()).hexdigest()
            token = Token(token_id, owner, value, comment, creation_time or self._anchor, expiry_time)
            self._tokens[token_id] = token
            self._tokens_by_value[value] = token_id
            return token

    def list_tokens(self) -> list[Token]:
        """Every personal access token that is not revoked."""
        with self.lock:
            return [t for t in self._tokens.values() if not t.revoked]

    def revoke_token(self, token_id: str) -> None:
        """Revoke a personal access token: it no longer authenticates nor lists."""
        with self.lock:
            found = self._tokens.get(token_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Token {token_id} does not exist.", 404)
            self._tokens[token_id] = replace(found, revoked=True)

    def set_token_expiry(self, token_id: str, expiry_time: datetime | None) -> None:
        """Change a token's expiry (None: never expires)."""
        with self.lock:
            found = self._tokens.get(token_id)
            if found is None:
                raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Token {token_id} does not exist.", 404)
            self._tokens[token_id] = replace(found, expiry_time=expiry_time)

    def add_oauth_secret(
        self,
        application_id: str,
        value: str,
        *,
        expire_time: datetime | None = None,
        status: str = "ACTIVE",
        create_time: datetime | None = None,
    ) -> OAuthSecret:
        """Add an OAuth secret to a service principal."""
        with self.lock:
            if self.service_principal_by_app_id(application_id) is None:
                raise SandboxError.not_found(f"Service principal {application_id} does not exist.")
            secret_id = hashlib.sha256(f"secret:{application_id}:{next(self._counter)}".encode()).hexdigest()[:32]
            created = create_time or self._anchor
            secret = OAuthSecret(secret_id, application_id, value, created, created, expire_time, status)
            self._oauth_secrets[secret_id] = secret
            return secret

    def oauth_secrets(self, application_id: str) -> list[OAuthSecret]:
        """A service principal's OAuth secrets."""
        with self.lock:
            return [s for s in self._oauth_secrets.values() if _key(s.application_id) == _key(application_id)]

    def issue_access_token(
        self, client_id: str, client_secret: str, *, issuer: str = "sandbox", scope: str = "all-apis"
    ) -> tuple[str, int]:
        """OAuth client-credentials: a JWT-shaped access token and its lifetime in seconds, or 401."""
        with self.lock:
            now = self.now()
            valid = any(
                secrets.compare_digest(s.value, client_secret)
                and s.status == "ACTIVE"
                and (s.expire_time is None or s.expire_time > now)
                for s in self.oauth_secrets(client_id)
            )
            sp = self.service_principal_by_app_id(client_id)
            if not valid or sp is None or not sp.active:
                raise SandboxError("invalid_client", "Client authentication failed.", 401)
            lifetime = self.oauth_token_lifetime_seconds
            expires = now + timedelta(seconds=lifetime)
            header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            wall = int(time.time())  # clients compare `exp` with their own clock, not the sandbox's
            claims = {
                "iss": issuer,
                "sub": client_id,
                "aud": issuer,
                "scope": scope,
                "iat": wall,
                "exp": wall + lifetime,
                "jti": secrets.token_hex(8),
            }
            token = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(16))}"
            self._access_tokens[token] = (client_id, expires)
            return token, lifetime

    def expire_access_tokens(self) -> None:
        """Make every OAuth access token issued so far expired (clients must fetch a new one)."""
        with self.lock:
            past = self.now() - timedelta(seconds=1)
            self._access_tokens = {t: (who, past) for t, (who, _) in self._access_tokens.items()}

    def authenticate(self, authorization_header: str | None) -> Identity:
        """Who a `Bearer` PAT or OAuth access token belongs to. Raises `SandboxError` 401 otherwise."""
        if not authorization_header:
            raise SandboxError.unauthenticated(NO_CREDENTIAL)
        scheme, _, credential = authorization_header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise SandboxError.unauthenticated(NO_CREDENTIAL)
        with self.lock:
            now = self.now()
            token_id = self._tokens_by_value.get(credential)
            if token_id is not None:
                token = self._tokens[token_id]
                if token.revoked:
                    raise SandboxError.unauthenticated("Invalid access token.")
                if token.expiry_time is not None and token.expiry_time <= now:
                    raise SandboxError.unauthenticated("Token is expired.")
                return self._identity(token.owner, "pat")
            issued = self._access_tokens.get(credential)
            if issued is None:
                raise SandboxError.unauthenticated("Invalid access token.")
            client_id, expires = issued
            if expires <= now:
                raise SandboxError.unauthenticated("Token is expired.")
            return self._identity(client_id, "oauth")

    def _identity(self, principal: str, via: str) -> Identity:
        ref = self.member_ref(principal)
        if ref is None or ref.kind == "group":
            raise SandboxError.unauthenticated("Invalid access token.")
        if ref.kind == "user":
            user = self._users[ref.id]
            active, name, display = user.active, user.user_name, user.display_name
        else:
            sp = self._sps[ref.id]
            active, name, display = sp.active, sp.application_id, sp.display_name
        if not active:
            raise SandboxError.unauthenticated(f"User {name} is not active.")
        return Identity(name, ref.kind, ref.id, display, self.is_admin(name), "oauth" if via == "oauth" else "pat")
