"""Unity Catalog grants and securables through REST (raw ``api_client`` JSON, never the SDK's enums).

Direct grants come from ``GET /permissions/{type}/{name}`` (paged with ``max_results=0``). The parser also
accepts the effective-permissions shape: a privilege carrying ``inherited_from_type/name`` is recorded as
a grant on that parent, as the facts contract requires. Watched catalogs cost one call per catalog and
per schema plus one per table, so the REST path stops at `REST_WATCH_TABLE_CAP` tables per catalog.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from auditor.collect.clients import RestClient
from auditor.collect.interface import ObjectNotFound, ReadFailed
from auditor.model.facts import Grant, Securable, SecurableType
from auditor.privileges.names import NAMELESS, normalize_privilege

UC = "/api/2.1/unity-catalog"
REST_WATCH_TABLE_CAP = 200
"""Most tables per watched catalog whose grants the REST path reads (one request each)."""

_PATH_TYPE = {
    SecurableType.METASTORE: "metastore",
    SecurableType.CATALOG: "catalog",
    SecurableType.SCHEMA: "schema",
    SecurableType.TABLE: "table",
    SecurableType.VIEW: "table",
    SecurableType.VOLUME: "volume",
    SecurableType.FUNCTION: "function",
    SecurableType.EXTERNAL_LOCATION: "external_location",
    SecurableType.STORAGE_CREDENTIAL: "storage_credential",
    SecurableType.CONNECTION: "connection",
}
_METADATA_PATH = {
    SecurableType.CATALOG: "catalogs",
    SecurableType.SCHEMA: "schemas",
    SecurableType.TABLE: "tables",
    SecurableType.VIEW: "tables",
    SecurableType.VOLUME: "volumes",
    SecurableType.FUNCTION: "functions",
}


def segment(name: str) -> str:
    """A securable name as one URL path segment."""
    return quote(name, safe="")


def read_grants(
    rest: RestClient,
    securable_type: SecurableType,
    full_name: str,
    *,
    metastore_id: str | None = None,
    absent_ok: bool = True,
) -> list[Grant]:
    """Direct grants on one securable; an absent securable has none (raises only for failed reads), or raises
    `ObjectNotFound` when not ``absent_ok`` (the caller decides whether not-found proves absence)."""
    path_type = _PATH_TYPE.get(securable_type)
    if path_type is None:
        raise ReadFailed(f"{securable_type.value} grants cannot be read through REST (SQL only)")
    name = full_name
    if securable_type is SecurableType.METASTORE:
        if not metastore_id:
            raise ReadFailed("metastore grants need the metastore id, which was not read")
        name = metastore_id
    try:
        items = rest.uc_pages(f"{UC}/permissions/{path_type}/{segment(name)}", "privilege_assignments")
    except ObjectNotFound:
        if absent_ok:
            return []
        raise
    return parse_privilege_assignments(items, securable_type, full_name)


def parse_privilege_assignments(
    items: Iterable[dict[str, Any]], securable_type: SecurableType, full_name: str
) -> list[Grant]:
    """``privilege_assignments`` (direct or effective form) as grants, inherited rows on their parent."""
    grants: list[Grant] = []
    for item in items:
        principal = item.get("principal")
        if not isinstance(principal, str) or not principal:
            continue  # a deleted principal (only principal_id): nobody can use the grant
        for entry in item.get("privileges") or ():
            privilege, on_type, on_name = _privilege_entry(entry, securable_type, full_name)
            if privilege is None or on_type is None:
                continue
            grants.append(
                Grant(
                    principal=principal,
                    privilege=normalize_privilege(privilege),
                    securable_type=on_type,
                    securable_name=on_name,
                    source="rest",
                )
            )
    return grants


def _privilege_entry(
    entry: Any, securable_type: SecurableType, full_name: str
) -> tuple[str | None, SecurableType | None, str]:
    if isinstance(entry, str):
        return entry, securable_type, _grant_name(securable_type, full_name)
    if not isinstance(entry, dict) or not isinstance(entry.get("privilege"), str):
        return None, None, ""
    inherited_type = entry.get("inherited_from_type")
    if not inherited_type:
        return entry["privilege"], securable_type, _grant_name(securable_type, full_name)
    try:
        parent_type = SecurableType(str(inherited_type).upper())
    except ValueError:
        return None, None, ""  # a parent kind the facts model cannot name
    return (
        entry["privilege"],
        parent_type,
        _grant_name(parent_type, str(entry.get("inherited_from_name") or "")),
    )


def _grant_name(securable_type: SecurableType, name: str) -> str:
    return "" if securable_type in NAMELESS else name


def read_securable(rest: RestClient, securable_type: SecurableType, full_name: str) -> Securable | None:
    """Existence and metadata (owner, storage, catalog type, isolation) of one securable; None if absent."""
    collection = _METADATA_PATH.get(securable_type)
    if collection is None:
        raise ReadFailed(f"{securable_type.value} metadata is not read through this path")
    try:
        info = rest.get(f"{UC}/{collection}/{segment(full_name)}")
    except ObjectNotFound:
        return None
    actual_type = securable_type
    if securable_type in (SecurableType.TABLE, SecurableType.VIEW):
        actual_type = SecurableType.VIEW if str(info.get("table_type", "")).upper() == "VIEW" else SecurableType.TABLE
    return Securable(
        type=actual_type,
        full_name=str(info.get("full_name") or info.get("name") or full_name),
        owner=info.get("owner"),
        storage_location=info.get("storage_root") or info.get("storage_location"),
        catalog_type=info.get("catalog_type") if securable_type is SecurableType.CATALOG else None,
        isolation_mode=info.get("isolation_mode") if securable_type is SecurableType.CATALOG else None,
    )


def read_watched_catalog(rest: RestClient, catalog: str, *, table_cap: int = REST_WATCH_TABLE_CAP) -> list[Grant]:
    """Every direct grant in one catalog (catalog, schemas, tables) through REST, up to ``table_cap`` tables.

    Tables are listed first, so a catalog over the cap fails after a few list pages, not after thousands
    of grant reads.
    """
    grants = read_grants(rest, SecurableType.CATALOG, catalog)
    try:
        schemas = rest.uc_pages(f"{UC}/schemas", "schemas", {"catalog_name": catalog})
    except ObjectNotFound:
        return grants  # the catalog does not exist: nothing in it to watch
    schema_names = [str(s.get("full_name") or f"{catalog}.{s.get('name')}") for s in schemas]
    table_names: list[str] = []
    for schema in schema_names:
        catalog_name, _, schema_name = schema.partition(".")
        try:
            tables = rest.uc_pages(
                f"{UC}/tables",
                "tables",
                {
                    "catalog_name": catalog_name,
                    "schema_name": schema_name,
                    "omit_columns": "true",
                    "omit_properties": "true",
                },
            )
        except ObjectNotFound:
            continue  # dropped between the two lists
        table_names.extend(str(t.get("full_name") or f"{schema}.{t.get('name')}") for t in tables)
        if len(table_names) > table_cap:
            raise ReadFailed(
                f"catalog {catalog} has more than {table_cap} tables: the REST path reads table grants one "
                "request per table and cannot watch it cheaply; watch it over SQL (a running warehouse)",
                api_family="unity-catalog",
            )
    for schema in schema_names:
        grants.extend(read_grants(rest, SecurableType.SCHEMA, schema))
    for table in table_names:
        grants.extend(read_grants(rest, SecurableType.TABLE, table))
    return grants
