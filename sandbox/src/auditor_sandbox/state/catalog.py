"""The workspace's Unity Catalog (and hive_metastore) side: the metastore, catalogs, schemas, tables and views,
and the grants on them and on external locations and storage credentials.

Names are compared case-insensitively, as Unity Catalog does, and stored with their original casing. Grants are
stored as direct grants only; inheritance (catalog -> schema -> table) is computed by `effective_grants`.
Privileges are stored normalised (`ALL PRIVILEGES` -> `ALL_PRIVILEGES`). Every lookup goes through a dict index,
so a metastore of 100,000 tables stays fast.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace

from auditor_sandbox.entities import GRANTABLE_TYPES, Column, EffectiveGrant, Metastore, SandboxError, Securable
from auditor_sandbox.state.clock import Clock, epoch_ms
from auditor_sandbox.state.clock import name_key as _key
from auditor_sandbox.state.credentials import Credentials
from auditor_sandbox.state.directory import Directory

_TYPE_ALIASES = {"DATABASE": "SCHEMA", "CREDENTIAL": "STORAGE_CREDENTIAL", "MATERIALIZED_VIEW": "VIEW"}


def normalise_privilege(privilege: str) -> str:
    """`all privileges` -> `ALL_PRIVILEGES`; legacy names (`USAGE`, `READ_METADATA`) stay as given."""
    return privilege.strip().upper().replace(" ", "_")


def normalise_type(securable_type: str) -> str:
    """`catalog`, `external-location`, `EXTERNAL LOCATION`, `database` -> the UPPER_UNDERSCORE type."""
    upper = securable_type.strip().upper().replace(" ", "_").replace("-", "_")
    return _TYPE_ALIASES.get(upper, upper)


class Catalog:
    """The metastore's securables and every grant; principals are checked against the directory, external
    locations and storage credentials are found among the credentials."""

    def __init__(self, lock: threading.RLock, clock: Clock, directory: Directory, credentials: Credentials) -> None:
        self.lock = lock
        self._clock = clock
        self._directory = directory
        self._credentials = credentials
        self.metastore: Metastore | None = None
        self.dropped_privilege_views: frozenset[str] = frozenset()  # information_schema views this runtime lacks
        # Docs, TABLE_OR_VIEW_NOT_FOUND error class: among the most common reasons, "The user has no access to the
        # object and therefore cannot see it". When set, a catalog, schema, table or view the caller holds nothing
        # on (not a metastore admin, no ownership of it or a parent, no grant to it or a group of it there) answers
        # not-found to SHOW GRANTS and to the REST catalog APIs, workspace admins included; otherwise the sandbox
        # answers as it always did (workspace admins see everything; others get PERMISSION_DENIED).
        self.hides_objects = False
        self._catalogs: dict[str, Securable] = {}
        self._schemas: dict[str, Securable] = {}
        self._tables: dict[str, Securable] = {}
        # catalog/schema key -> child keys, in insertion order
        self._children: dict[str, dict[str, None]] = {}
        # (grant type, name key) -> principal key -> (principal as given, privileges in grant order)
        self._grants: dict[tuple[str, str], dict[str, tuple[str, dict[str, None]]]] = {}

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
                full_name=name.lower(),  # "Unity Catalog stores all object names as lowercase" (docs: sql-ref-names)
                id=self._clock.new_id("catalog", key),
                owner=owner,
                storage_location=storage_location,
                catalog_type=catalog_type,
                isolation_mode=isolation_mode,
                comment=comment,
                properties=tuple((properties or {}).items()),
                created_at=epoch_ms(self._clock.anchor),
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
                full_name=f"{catalog.full_name}.{parts[1].lower()}",
                id=self._clock.new_id("schema", key),
                owner=owner if owner is not None else catalog.owner,
                storage_location=storage_location,
                comment=comment,
                properties=tuple((properties or {}).items()),
                created_at=epoch_ms(self._clock.anchor),
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
                full_name=f"{schema.full_name}.{parts[2].lower()}",
                id=self._clock.new_id("table", key),
                owner=owner if owner is not None else schema.owner,
                storage_location=storage_location,
                table_type=table_type.upper(),
                data_source_format=None if is_view else data_source_format,
                view_definition=view_definition,
                comment=comment,
                columns=tuple(columns),
                created_at=epoch_ms(self._clock.anchor),
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
            elif not self._credentials.set_owner(kind, full_name, owner):
                raise SandboxError.not_found(f"{kind} '{full_name}' does not exist.")

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
        if kind in ("EXTERNAL_LOCATION", "STORAGE_CREDENTIAL", "CONNECTION"):
            if self._credentials.display_name(kind, key) is None:
                raise SandboxError.not_found(f"{kind.replace('_', ' ').title()} '{full_name}' does not exist.")
            return kind, key
        if self.get_securable(kind, full_name) is None:
            raise SandboxError.not_found(f"{kind.title()} '{full_name}' does not exist.")
        return ("TABLE" if kind == "VIEW" else kind), key

    def grant(self, type: str, full_name: str, principal: str, privileges: Iterable[str]) -> None:
        """Grant privileges. Raises NOT_FOUND if the securable or the principal does not exist."""
        with self.lock:
            grant_key = self._grant_key(type, full_name)
            if not self._directory.principal_exists(principal):
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

    def direct_grants(self, type: str, full_name: str, *, deleted: bool = False) -> list[tuple[str, str]]:
        """(principal, PRIVILEGE) granted directly on the securable. Raises NOT_FOUND if it does not exist.

        Grants left by deleted principals only with `deleted` (the grants API lists them by id; SQL does not
        show them here: unverified on a real warehouse).
        """
        with self.lock:
            holders = self._grants.get(self._grant_key(type, full_name), {})
            return [
                (principal, privilege)
                for principal, held in holders.values()
                if deleted or self._directory.deleted_principal_id(principal) is None
                for privilege in held
            ]

    def effective_grants(self, type: str, full_name: str, *, deleted: bool = False) -> list[EffectiveGrant]:
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
                    if not deleted and self._directory.deleted_principal_id(principal) is not None:
                        continue
                    result.extend(EffectiveGrant(principal, p, from_type, from_name) for p in held)
            return result

    def all_grants(self) -> Iterator[tuple[str, str, str, str]]:
        """Every direct grant as (TYPE, full name as stored, principal, PRIVILEGE), for bulk views."""
        with self.lock:
            rows: list[tuple[str, str, str, str]] = []
            for (kind, key), holders in self._grants.items():
                name = self._display_name(kind, key)
                for principal, held in holders.values():
                    if self._directory.deleted_principal_id(principal) is None:
                        rows.extend((kind, name, principal, privilege) for privilege in held)
        return iter(rows)

    def _display_name(self, kind: str, key: str) -> str:
        securables = {"CATALOG": self._catalogs, "SCHEMA": self._schemas, "TABLE": self._tables}.get(kind)
        if securables is not None and key in securables:
            return securables[key].full_name
        named = self._credentials.display_name(kind, key)
        if named is not None:
            return named
        return self.metastore.metastore_id if self.metastore else key
