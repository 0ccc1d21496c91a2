"""Resolve the names a SQL statement gives against the sandbox workspace, as Databricks SQL does.

Relative names take the session's current catalog and schema (``SHOW GRANTS ON SCHEMA sales`` in a session
on ``hive_metastore`` is ``hive_metastore.sales``). Lookups are case-insensitive; resolved names carry the
casing the workspace stores. Callers hold ``state.lock`` when they need several reads to agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor_sandbox.sql_errors import SqlError, quote_name
from auditor_sandbox.sql_parse import SecurableKind, SecurableRef
from auditor_sandbox.state import WorkspaceState

HIVE_CATALOG = "hive_metastore"
DEFAULT_NAMESPACE_SCHEMA = "default"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A SQL session's current catalog and schema (``USE CATALOG`` / ``USE SCHEMA``)."""

    catalog: str = HIVE_CATALOG
    schema: str = DEFAULT_NAMESPACE_SCHEMA


@dataclass(frozen=True, slots=True)
class ResolvedSecurable:
    """An existing securable: its kind, stored name, owner, and parents (nearest first)."""

    kind: SecurableKind
    full_name: str  # catalog[.schema[.table]], a location or credential name, or the metastore id
    owner: str | None
    parents: tuple[ResolvedSecurable, ...] = ()

    @property
    def is_hive(self) -> bool:
        """Whether the securable lives in the legacy ``hive_metastore`` catalog."""
        return self.kind in ("CATALOG", "SCHEMA", "TABLE", "VIEW") and is_hive_catalog(self.full_name.split(".", 1)[0])

    @property
    def grant_type(self) -> str:
        """The type the workspace state files the securable's grants under (views share TABLE)."""
        return "TABLE" if self.kind == "VIEW" else self.kind

    def lineage(self) -> tuple[ResolvedSecurable, ...]:
        """The securable itself, then its parents, nearest first."""
        return (self, *self.parents)


def is_hive_catalog(name: str) -> bool:
    """Whether a catalog name is the legacy ``hive_metastore``."""
    return name.lower() == HIVE_CATALOG


def resolve_securable(state: WorkspaceState, namespace: Namespace, ref: SecurableRef) -> ResolvedSecurable:
    """Find the securable a statement names; raise the Databricks-style not-found `SqlError` otherwise."""
    parts = ref.name_parts
    if ref.kind == "METASTORE":
        metastore = state.catalog.metastore
        if metastore is None:
            raise SqlError.no_metastore()
        return ResolvedSecurable("METASTORE", metastore.metastore_id, metastore.owner)
    if ref.kind in _NAMED_MISSING:
        return _named(state, ref.kind, _single_part(parts))
    if ref.kind == "CATALOG":
        return resolve_catalog(state, _single_part(parts) if parts else namespace.catalog)
    if ref.kind == "SCHEMA":
        if len(parts) > 2:
            raise SqlError.too_many_name_parts(parts, 2)
        catalog_name, schema_name = (namespace.catalog, *parts) if len(parts) == 1 else parts
        return resolve_schema(state, catalog_name, schema_name)
    table = resolve_table(state, *qualify_table_name(namespace, parts))
    if ref.kind == "VIEW" and table.kind != "VIEW":
        raise SqlError(
            "EXPECT_VIEW_NOT_TABLE.NO_ALTERNATIVE",
            f"The name {quote_name(*table.full_name.split('.'))} refers to a table, not a view.",
            "42809",
        )
    return table


def qualify_table_name(namespace: Namespace, parts: tuple[str, ...]) -> tuple[str, str, str]:
    """``t`` -> (current catalog, current schema, t); ``s.t`` -> (current catalog, s, t); ``c.s.t`` as is."""
    if len(parts) == 1:
        return namespace.catalog, namespace.schema, parts[0]
    if len(parts) == 2:
        return namespace.catalog, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise SqlError.too_many_name_parts(parts, 3)


def resolve_catalog(state: WorkspaceState, name: str) -> ResolvedSecurable:
    """An existing catalog (only ``hive_metastore`` exists when no metastore is assigned)."""
    found = None
    if "." not in name and (state.catalog.metastore is not None or is_hive_catalog(name)):
        found = state.catalog.get_securable("CATALOG", name)
    if found is None:
        raise SqlError.no_such_catalog(name)
    return ResolvedSecurable("CATALOG", found.full_name, found.owner)


def resolve_schema(state: WorkspaceState, catalog_name: str, schema_name: str) -> ResolvedSecurable:
    """An existing schema of an existing catalog."""
    catalog = resolve_catalog(state, catalog_name)
    found = None if "." in schema_name else state.catalog.get_securable("SCHEMA", f"{catalog.full_name}.{schema_name}")
    if found is None:
        raise SqlError.schema_not_found(catalog.full_name, schema_name)
    return ResolvedSecurable("SCHEMA", found.full_name, found.owner, (catalog,))


def resolve_table(state: WorkspaceState, catalog_name: str, schema_name: str, table_name: str) -> ResolvedSecurable:
    """An existing table or view (kind VIEW for views)."""
    try:
        schema = resolve_schema(state, catalog_name, schema_name)
    except SqlError as error:
        if error.error_class == "NO_SUCH_CATALOG_EXCEPTION":
            raise
        raise SqlError.table_not_found(catalog_name, schema_name, table_name) from None
    found = None if "." in table_name else state.catalog.get_securable("TABLE", f"{schema.full_name}.{table_name}")
    if found is None:
        raise SqlError.table_not_found(*schema.full_name.split("."), table_name)
    kind: SecurableKind = "VIEW" if found.type == "VIEW" else "TABLE"
    return ResolvedSecurable(kind, found.full_name, found.owner, (schema, *schema.parents))


# kind -> (error class, label) of "does not exist" for the securables named by one plain name
_NAMED_MISSING: dict[str, tuple[str, str]] = {
    "EXTERNAL_LOCATION": ("EXTERNAL_LOCATION_DOES_NOT_EXIST", "External Location"),
    "STORAGE_CREDENTIAL": ("STORAGE_CREDENTIAL_DOES_NOT_EXIST", "Storage Credential"),
    "CONNECTION": ("CONNECTION_NOT_FOUND", "Connection"),
}


def _named(state: WorkspaceState, kind: SecurableKind, name: str) -> ResolvedSecurable:
    """An external location, storage credential or connection, by its one-part name."""
    if state.catalog.metastore is None:
        raise SqlError.no_metastore()
    lookup = {
        "EXTERNAL_LOCATION": state.credentials.external_location,
        "STORAGE_CREDENTIAL": state.credentials.storage_credential,
        "CONNECTION": state.credentials.connection,
    }[kind]
    found = lookup(name)
    if found is None:
        error_class, label = _NAMED_MISSING[kind]
        raise SqlError(error_class, f"{label} '{name}' does not exist.", "42704")
    return ResolvedSecurable(kind, found.name, found.owner)


def _single_part(parts: tuple[str, ...]) -> str:
    if len(parts) != 1:
        raise SqlError.too_many_name_parts(parts, 1)
    return parts[0]
