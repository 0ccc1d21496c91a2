"""``SHOW GRANTS``, ``GRANT`` and ``REVOKE`` over the sandbox workspace, in both output forms.

Unity Catalog form (securables outside ``hive_metastore``): columns ``principal, actionType, objectType,
objectKey``; privileges in SQL spelling (``USE CATALOG``); rows inherited from parent securables carry
the parent's type and key (dotted, each part quoted only if needed); the owner is not a row.

``hive_metastore`` form: columns ``Principal, ActionType, ObjectType, ObjectKey``; privileges with
underscores except ``ALL PRIVILEGES``; the catalog is ``CATALOG$`` with a null key, schemas are
``DATABASE`` keyed by name, tables ``TABLE`` keyed `` `schema`.`table` ``; the owner is an ``OWN`` row;
inherited rows are included.
"""

from __future__ import annotations

from auditor_sandbox.entities import Identity, SandboxError
from auditor_sandbox.sql_access import acting_names, hidden_from, may_manage, not_found, require_manage
from auditor_sandbox.sql_errors import SqlError, quote_if_needed, quote_name
from auditor_sandbox.sql_parse import ChangeGrants, ShowGrants
from auditor_sandbox.sql_resolve import Namespace, ResolvedSecurable, resolve_securable
from auditor_sandbox.sql_result import NO_RESULT, ResultSet, Row
from auditor_sandbox.state import WorkspaceState

UC_COLUMNS = ("principal", "actionType", "objectType", "objectKey")
HIVE_COLUMNS = ("Principal", "ActionType", "ObjectType", "ObjectKey")


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LEGACY = frozenset({"USAGE", "CREATE", "READ_METADATA"})
_CHILD_OF_SCHEMA = _names(
    """ALL_PRIVILEGES APPLY_TAG CREATE_FUNCTION CREATE_MATERIALIZED_VIEW CREATE_MODEL CREATE_TABLE
    CREATE_VOLUME EXECUTE EXTERNAL_USE_SCHEMA MANAGE MODIFY READ_VOLUME REFRESH SELECT USE_SCHEMA
    WRITE_VOLUME"""
)
UC_PRIVILEGES: dict[str, frozenset[str]] = {
    "METASTORE": _names(
        """CREATE_CATALOG CREATE_CLEAN_ROOM CREATE_CONNECTION CREATE_EXTERNAL_LOCATION
        CREATE_EXTERNAL_METADATA CREATE_PROVIDER CREATE_RECIPIENT CREATE_SHARE CREATE_SERVICE_CREDENTIAL
        CREATE_STORAGE_CREDENTIAL
        MANAGE_ALLOWLIST SET_SHARE_PERMISSION USE_MARKETPLACE_ASSETS USE_PROVIDER USE_RECIPIENT USE_SHARE
        READ_METADATA CREATE"""
    ),
    "CATALOG": _CHILD_OF_SCHEMA | {"BROWSE", "CREATE_SCHEMA", "USE_CATALOG"} | _LEGACY,
    "SCHEMA": _CHILD_OF_SCHEMA | _LEGACY,
    "TABLE": _names("ALL_PRIVILEGES APPLY_TAG MANAGE MODIFY SELECT READ_METADATA"),
    "VIEW": _names("ALL_PRIVILEGES APPLY_TAG MANAGE SELECT READ_METADATA"),
    "EXTERNAL_LOCATION": _names(
        """ALL_PRIVILEGES BROWSE CREATE_EXTERNAL_TABLE CREATE_EXTERNAL_VOLUME CREATE_MANAGED_STORAGE
        EXTERNAL_USE_LOCATION MANAGE READ_FILES WRITE_FILES CREATE"""
    ),
    "STORAGE_CREDENTIAL": _names(
        "ALL_PRIVILEGES CREATE_EXTERNAL_LOCATION CREATE_EXTERNAL_TABLE MANAGE READ_FILES WRITE_FILES CREATE"
    ),
    # "Connections: ALL PRIVILEGES, CREATE FOREIGN CATALOG, MANAGE, USE CONNECTION" (the privileges reference)
    "CONNECTION": _names("ALL_PRIVILEGES CREATE_FOREIGN_CATALOG MANAGE USE_CONNECTION"),
}
"""Privileges each Unity Catalog securable accepts, after "Unity Catalog privileges and securable objects"
(docs.databricks.com/data-governance/unity-catalog/manage-privileges/privileges.html: BROWSE on catalogs and
external locations, not on schemas, tables or views), plus the legacy names, which UC still accepts and maps
("Upgrade to privilege inheritance", manage-privileges/upgrade-privilege-model.html: CREATE "replaced by ... CREATE
CATALOG, CREATE EXTERNAL LOCATION, CREATE FUNCTION, CREATE SCHEMA, CREATE TABLE, CREATE MANAGED STORAGE", USAGE by
USE CATALOG and USE SCHEMA; grants in the old model are mapped automatically). The setup documents use ``USAGE``,
``CREATE`` and ``READ_METADATA`` literally."""

HIVE_PRIVILEGES = _names(
    "ALL_PRIVILEGES CREATE CREATE_NAMED_FUNCTION MODIFY MODIFY_CLASSPATH READ_METADATA SELECT USAGE"
)
"""hive_metastore table-ACL privileges (the same set on catalog, schema and table)."""

DENIED_PREFIX = "DENIED_"
"""How hive_metastore SHOW GRANTS spells a deny's ActionType (``DENIED_SELECT``; UCX issue #1803)."""

_HIVE_OBJECT_TYPES = {"CATALOG": "CATALOG$", "SCHEMA": "DATABASE", "TABLE": "TABLE", "VIEW": "TABLE"}


def uc_spelling(privilege: str) -> str:
    """``USE_CATALOG`` -> ``USE CATALOG`` (Unity Catalog SHOW GRANTS and GRANT statements)."""
    return privilege.replace("_", " ")


def hive_spelling(privilege: str) -> str:
    """``READ_METADATA`` stays; ``ALL_PRIVILEGES`` -> ``ALL PRIVILEGES`` (hive_metastore SHOW GRANTS)."""
    return "ALL PRIVILEGES" if privilege == "ALL_PRIVILEGES" else privilege


def show_grants(state: WorkspaceState, identity: Identity, namespace: Namespace, statement: ShowGrants) -> ResultSet:
    """Direct and inherited grants on a securable, optionally only those of one principal."""
    with state.lock:
        securable = resolve_securable(state, namespace, statement.securable)
        if hidden_from(state, identity, securable):
            raise not_found(securable)
        principal = statement.principal
        if principal is not None:
            _require_principal(state, principal, hive=securable.is_hive)
        naming_self = principal is not None and principal.lower() in acting_names(state, identity)
        if not naming_self and not may_manage(state, identity, securable):
            raise SqlError.insufficient_permissions(
                f"User {identity.name} may not list the grants on {securable.kind.replace('_', ' ')} "
                f"'{securable.full_name}'."
            )
        rows = _hive_rows(state, securable) if securable.is_hive else _uc_rows(state, securable)
    if principal is not None:
        wanted = principal.lower()
        rows = [row for row in rows if row[0] is not None and row[0].lower() == wanted]
    return ResultSet(HIVE_COLUMNS if securable.is_hive else UC_COLUMNS, rows)


def change_grants(
    state: WorkspaceState, identity: Identity, namespace: Namespace, statement: ChangeGrants
) -> ResultSet:
    """Apply a GRANT or REVOKE; privileges are validated against the securable before anything changes."""
    with state.lock:
        securable = resolve_securable(state, namespace, statement.securable)
        allowed = HIVE_PRIVILEGES if securable.is_hive else UC_PRIVILEGES[securable.kind]
        for privilege in statement.privileges:
            if privilege not in allowed:
                raise SqlError.invalid_privilege(
                    uc_spelling(privilege), f"{securable.kind.replace('_', ' ')} {securable.full_name}"
                )
        principal = _require_principal(state, statement.principal, hive=securable.is_hive)
        require_manage(state, identity, securable)
        privileges = list(statement.privileges)
        if statement.action == "DENY":
            # Docs "DENY" (sql/language-manual/security-deny): "This statement applies only to the hive_metastore
            # catalog"; SHOW GRANTS then lists the deny as ActionType DENIED_<privilege> (UCX issue #1803).
            if not securable.is_hive:
                raise SqlError.unsupported("DENY outside hive_metastore")
            privileges = [DENIED_PREFIX + p for p in privileges]
        elif statement.action == "REVOKE" and securable.is_hive:
            # "To undo a DENY you REVOKE the same privilege" (same page): REVOKE lifts the grant and the deny.
            privileges += [DENIED_PREFIX + p for p in privileges]
        change = state.catalog.revoke if statement.action == "REVOKE" else state.catalog.grant
        try:
            change(securable.grant_type, securable.full_name, principal, privileges)
        except SandboxError as error:
            raise SqlError(error.error_code, error.message, "42000") from None
    return NO_RESULT


def _require_principal(state: WorkspaceState, principal: str, *, hive: bool) -> str:
    """The principal's canonical name; unknown principals fail, and Unity Catalog cannot see
    workspace-local groups."""
    ref = state.directory.member_ref(principal)
    if ref is None:
        raise SqlError.principal_not_found(principal)
    if not hive and ref.kind == "group":
        group = state.directory.group_by_id(ref.id)
        if group is not None and not group.account:
            raise SqlError.principal_not_found(principal)
    return state.directory.principal_name(ref)


def _uc_rows(state: WorkspaceState, securable: ResolvedSecurable) -> list[Row]:
    rows: list[Row] = []
    for level in securable.lineage():
        object_type = uc_spelling(level.grant_type)
        key = _uc_object_key(level)
        for principal, privilege in state.catalog.direct_grants(level.grant_type, level.full_name):
            rows.append((principal, uc_spelling(privilege), object_type, key))
    return rows


def _uc_object_key(securable: ResolvedSecurable) -> str:
    """Dotted names with each part quoted only if needed (``main.`my schema```); other names as stored."""
    if securable.kind in ("CATALOG", "SCHEMA", "TABLE", "VIEW"):
        return ".".join(quote_if_needed(part) for part in securable.full_name.split("."))
    return securable.full_name


def _hive_rows(state: WorkspaceState, securable: ResolvedSecurable) -> list[Row]:
    rows: list[Row] = []
    for level in securable.lineage():
        object_type = _HIVE_OBJECT_TYPES[level.kind]
        key = _hive_object_key(level)
        if level.owner:
            rows.append((level.owner, "OWN", object_type, key))
        for principal, privilege in state.catalog.direct_grants(level.grant_type, level.full_name):
            rows.append((principal, hive_spelling(privilege), object_type, key))
    return rows


def _hive_object_key(securable: ResolvedSecurable) -> str | None:
    parts = securable.full_name.split(".")
    if securable.kind == "CATALOG":
        return None
    if securable.kind == "SCHEMA":
        return quote_if_needed(parts[1])
    return quote_name(parts[1], parts[2])
