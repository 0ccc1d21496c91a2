"""Grants through SQL: ``SHOW GRANTS`` per securable; bulk ``information_schema`` reads of watched catalogs.

``SHOW GRANTS`` answers in two forms (reference §1): Unity Catalog (``principal, actionType, objectType,
objectKey``, SQL spelling ``USE CATALOG``) and hive_metastore (``Principal, ActionType, ...``, ``CATALOG$``
with a null key, ``DATABASE`` keyed by schema name, tables keyed `` `schema`.`table` ``, ``OWN`` rows).
Column names are matched case-insensitively; rows inherited from a parent are recorded on the parent; an
``OWN`` row is the securable's owner, never a grant.

A watched catalog costs one statement per privilege view for all watched catalogs together, whatever the
number of schemas and tables in them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.interface import ObjectNotFound
from auditor.collect.sqlconn import SqlSession
from auditor.model.facts import Grant, SecurableType
from auditor.privileges.names import (
    CATALOG_OBJECTS,
    HIVE_METASTORE,
    NAMELESS,
    SECURABLE_KEYWORDS,
    is_hive,
    name_parts,
    normalize_privilege,
    quote_identifier_if_needed,
    split_quoted_name,
)

_OBJECT_TYPES = {
    "CATALOG$": SecurableType.CATALOG,
    "DATABASE": SecurableType.SCHEMA,
    "ANY_FILE": SecurableType.ANY_FILE,
    "MATERIALIZED_VIEW": SecurableType.VIEW,
    "CREDENTIAL": SecurableType.STORAGE_CREDENTIAL,
}


def quote_literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def show_grants_statement(securable_type: SecurableType, full_name: str) -> str:
    """``SHOW GRANTS ON <securable>`` with every name part quoted."""
    keyword = SECURABLE_KEYWORDS[securable_type]
    if securable_type in NAMELESS:
        return f"SHOW GRANTS ON {keyword}"
    if securable_type in CATALOG_OBJECTS:
        name = ".".join(quote_identifier_if_needed(part) for part in name_parts(full_name))
    else:
        name = quote_identifier_if_needed(full_name)
    return f"SHOW GRANTS ON {keyword} {name}"


DENIED_PREFIX = "DENIED_"
"""hive_metastore SHOW GRANTS reports ``DENY <privilege>`` as ActionType ``DENIED_<privilege>`` (UCX issue #1803:
DENIED_SELECT, DENIED_USAGE, DENIED_READ_METADATA, DENIED_MODIFY, DENIED_CREATE, DENIED_CREATE_NAMED_FUNCTION)."""


SHOW_GRANTS_COLUMNS = ("principal", "actiontype", "objecttype", "objectkey")
"""The SHOW GRANTS columns read, lower-cased: Unity Catalog answers ``principal, actionType, objectType,
objectKey``, hive_metastore ``Principal, ActionType, ObjectType, ObjectKey`` (matched case-insensitively)."""

OWN = "OWN"
"""hive_metastore SHOW GRANTS reports the owner as a row with ActionType ``OWN``."""


@dataclass
class ShowGrantsResult:
    """What one ``SHOW GRANTS`` said: grants (on the securable and its parents) and owners (``OWN`` rows)."""

    grants: list[Grant] = field(default_factory=list)
    owners: dict[tuple[SecurableType, str], str] = field(default_factory=dict)


def parse_show_grants(
    rows: Iterable[dict[str, Any]], securable_type: SecurableType, full_name: str
) -> ShowGrantsResult:
    """Rows of ``SHOW GRANTS ON <securable_type> <full_name>`` (lower-cased column names) as facts."""
    result = ShowGrantsResult()
    hive = securable_type in CATALOG_OBJECTS and is_hive(full_name)
    principal_column, action_column, type_column, key_column = SHOW_GRANTS_COLUMNS
    for row in rows:
        principal = row.get(principal_column)
        action = row.get(action_column)
        if not isinstance(principal, str) or not principal or not isinstance(action, str) or not action.strip():
            continue
        target = _row_securable(row.get(type_column), row.get(key_column), securable_type, full_name, hive=hive)
        if target is None:
            continue  # an object kind the facts model cannot name
        privilege = normalize_privilege(action)
        if privilege == OWN:
            result.owners[target] = principal
            continue
        denied = privilege.startswith(DENIED_PREFIX)
        result.grants.append(
            Grant(
                principal=principal,
                privilege=privilege.removeprefix(DENIED_PREFIX) if denied else privilege,
                securable_type=target[0],
                securable_name=target[1],
                source="sql",
                denied=denied,
            )
        )
    return result


def _row_securable(
    object_type: Any, object_key: Any, securable_type: SecurableType, full_name: str, *, hive: bool
) -> tuple[SecurableType, str] | None:
    """The securable a row is about: its own objectType/objectKey, defaulting to the statement's."""
    if not isinstance(object_type, str) or not object_type.strip():
        return securable_type, "" if securable_type in NAMELESS else full_name
    spelled = object_type.strip().upper().replace(" ", "_")
    kind = _OBJECT_TYPES.get(spelled)
    if kind is None:
        try:
            kind = SecurableType(spelled)
        except ValueError:
            return None
    if kind in NAMELESS:
        return kind, ""
    parts = split_quoted_name(object_key) if isinstance(object_key, str) and object_key.strip() else []
    if kind is SecurableType.CATALOG:
        if spelled == "CATALOG$" or (hive and not parts):
            return kind, HIVE_METASTORE
        return kind, parts[0] if parts else (*name_parts(full_name), "")[0]
    if not parts:
        return (kind, full_name) if kind is securable_type else None
    if hive and kind in CATALOG_OBJECTS and parts[0].lower() != HIVE_METASTORE:
        parts = [HIVE_METASTORE, *parts]
    return kind, ".".join(parts)


# ---- watched catalogs: information_schema ------------------------------------------------------


DIRECT_INHERITED_FROM = "NONE"
"""INHERITED_FROM of a direct grant; an inherited row names the kind of the ancestor (``'CATALOG'``, ``'SCHEMA'``)."""

DIRECT_ONLY = f"coalesce(inherited_from, '{DIRECT_INHERITED_FROM}') = '{DIRECT_INHERITED_FROM}'"
"""Direct grants only. INHERITED_FROM is documented nullable in most privilege views (catalog, schema, volume,
routine, external location, storage credential, credential; information_schema reference pages), so a NULL row
is kept as direct rather than dropped by ``inherited_from = 'NONE'``."""


@dataclass(frozen=True)
class PrivilegeView:
    """One ``system.information_schema`` privilege view and the columns naming its securable."""

    view: str
    securable_type: SecurableType
    name_columns: tuple[str, ...]

    @property
    def selected(self) -> tuple[str, ...]:
        """The columns the statements read."""
        return ("grantee", *self.name_columns, "privilege_type")

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the statements read or filter on."""
        return (*self.selected, "inherited_from")

    def statement(self, catalogs: Iterable[str]) -> str:
        listed = ", ".join(quote_literal(c.lower()) for c in sorted(set(catalogs), key=str.lower))
        columns = ", ".join(self.selected)
        return (
            f"SELECT {columns} FROM system.information_schema.{self.view} "
            f"WHERE lower({self.name_columns[0]}) IN ({listed}) AND {DIRECT_ONLY}"
        )

    def grantee_statement(self, principals: Iterable[str]) -> str:
        """Every direct grant to the principals, in every catalog the auditor can see."""
        listed = ", ".join(quote_literal(p.lower()) for p in sorted(set(principals), key=str.lower))
        columns = ", ".join(self.selected)
        return (
            f"SELECT {columns} FROM system.information_schema.{self.view} "
            f"WHERE lower(grantee) IN ({listed}) AND {DIRECT_ONLY}"
        )

    def grants(self, rows: Iterable[dict[str, Any]]) -> list[Grant]:
        found: list[Grant] = []
        for row in rows:
            grantee, privilege = row.get("grantee"), row.get("privilege_type")
            names = [row.get(column) for column in self.name_columns]
            if (
                not isinstance(grantee, str)
                or not isinstance(privilege, str)
                or not all(isinstance(n, str) for n in names)
            ):
                continue
            found.append(
                Grant(
                    principal=grantee,
                    privilege=normalize_privilege(privilege),
                    securable_type=self.securable_type,
                    securable_name="" if self.securable_type in NAMELESS else ".".join(str(n) for n in names),
                    source="information_schema",
                )
            )
        return found


PRIVILEGE_VIEWS: tuple[PrivilegeView, ...] = (
    PrivilegeView("catalog_privileges", SecurableType.CATALOG, ("catalog_name",)),
    PrivilegeView("schema_privileges", SecurableType.SCHEMA, ("catalog_name", "schema_name")),
    PrivilegeView("table_privileges", SecurableType.TABLE, ("table_catalog", "table_schema", "table_name")),
)


def read_watched_catalogs(session: SqlSession, catalogs: Iterable[str]) -> list[Grant]:
    """Every direct grant in the catalogs (catalog, schema and table level): one statement per view."""
    names = [c for c in catalogs if not is_hive(c)]
    grants: list[Grant] = []
    if not names:
        return grants
    for view in PRIVILEGE_VIEWS:
        grants.extend(view.grants(session.query(view.statement(names))))
    return grants


SWEEP_VIEWS: tuple[PrivilegeView, ...] = (
    *PRIVILEGE_VIEWS,
    PrivilegeView("volume_privileges", SecurableType.VOLUME, ("volume_catalog", "volume_schema", "volume_name")),
    # the specific_* columns: the docs spell the routine schema column `ROUTNE_SCHEMA`
    PrivilegeView(
        "routine_privileges", SecurableType.FUNCTION, ("specific_catalog", "specific_schema", "specific_name")
    ),
    PrivilegeView("metastore_privileges", SecurableType.METASTORE, ("metastore_id",)),
    PrivilegeView("external_location_privileges", SecurableType.EXTERNAL_LOCATION, ("external_location_name",)),
    # credential_privileges lists storage (and service) credentials under the same names as the view it replaces
    PrivilegeView("credential_privileges", SecurableType.STORAGE_CREDENTIAL, ("credential_name",)),
    PrivilegeView("storage_credential_privileges", SecurableType.STORAGE_CREDENTIAL, ("storage_credential_name",)),
    # GRANTOR, GRANTEE, CONNECTION_NAME, PRIVILEGE_TYPE, IS_GRANTABLE, INHERITED_FROM (docs: connection_privileges)
    PrivilegeView("connection_privileges", SecurableType.CONNECTION, ("connection_name",)),
)
"""Every information_schema privilege view (docs: information-schema/*_privileges)."""

UNREAD_PRIVILEGE_VIEWS: tuple[str, ...] = ()
"""Privilege views the platform documents that the auditor does not read (see `SWEEP_VIEWS`)."""

SWEEP_ALTERNATIVES: dict[str, str] = {
    # "Starting with Databricks Runtime 15.4, this relation is deprecated. Use
    # INFORMATION_SCHEMA.CREDENTIAL_PRIVILEGES instead." (docs: storage_credential_privileges); credential_privileges
    # applies to DBR 15.4 and above only. Either one covers storage credentials.
    "storage_credential_privileges": "credential_privileges",
    "credential_privileges": "storage_credential_privileges",
}


@dataclass
class PrincipalSweep:
    """What the principal sweep saw, and the privilege views it could not read (absent on this warehouse)."""

    grants: list[Grant] = field(default_factory=list)
    missing_views: list[str] = field(default_factory=list)

    @property
    def unread_views(self) -> list[str]:
        """Missing views no other view stands in for: the sweep is not complete without them."""
        return [v for v in self.missing_views if SWEEP_ALTERNATIVES.get(v, v) in self.missing_views]


def read_principal_grants(session: SqlSession, principals: Iterable[str]) -> PrincipalSweep:
    """Every direct grant to the principals anywhere in the metastore: one statement per view, whatever its size.

    A view the warehouse does not have (``TABLE_OR_VIEW_NOT_FOUND``) leaves only that view's part unread.
    """
    names = list(principals)
    sweep = PrincipalSweep()
    if not names:
        return sweep
    for view in SWEEP_VIEWS:
        try:
            rows = session.query(view.grantee_statement(names))
        except ObjectNotFound:
            sweep.missing_views.append(view.view)
            continue
        sweep.grants.extend(g for g in view.grants(rows) if g not in sweep.grants)
    return sweep
