"""Who may run a grants statement in the sandbox warehouse, following Unity Catalog's rules.

Admins may do anything. Otherwise a caller (or a group it belongs to) must own the securable or one of its
parents, or hold ``MANAGE`` on it or a parent; ``SHOW GRANTS <principal>`` is also allowed when the caller
names itself.
"""

from __future__ import annotations

from auditor_sandbox.entities import Identity
from auditor_sandbox.sql_errors import SqlError
from auditor_sandbox.sql_resolve import ResolvedSecurable
from auditor_sandbox.state import WorkspaceState


def acting_names(state: WorkspaceState, identity: Identity) -> frozenset[str]:
    """The lower-cased names the caller acts as: itself and every group it belongs to (nested too)."""
    return frozenset(name.lower() for name in (identity.name, *state.directory.groups_of(identity.name)))


def hidden_from(state: WorkspaceState, identity: Identity, securable: ResolvedSecurable) -> bool:
    """Whether a Unity Catalog object answers not-found to the caller (`state.catalog.hides_objects`)."""
    if (
        not state.catalog.hides_objects
        or securable.is_hive
        or securable.kind not in ("CATALOG", "SCHEMA", "TABLE", "VIEW")
    ):
        return False
    names = acting_names(state, identity)
    metastore = state.catalog.metastore
    if metastore is not None and metastore.owner.lower() in names:
        return False
    for level in securable.lineage():
        if level.owner is not None and level.owner.lower() in names:
            return False
        if any(
            principal.lower() in names
            for principal, _ in state.catalog.direct_grants(level.grant_type, level.full_name)
        ):
            return False
    return True


def not_found(securable: ResolvedSecurable) -> SqlError:
    """The error Databricks SQL gives for a securable that does not exist (or that the caller cannot see)."""
    parts = securable.full_name.split(".")
    if securable.kind == "CATALOG":
        return SqlError.no_such_catalog(securable.full_name)
    if securable.kind == "SCHEMA":
        return SqlError.schema_not_found(parts[0], parts[1])
    return SqlError.table_not_found(*parts)


def may_manage(state: WorkspaceState, identity: Identity, securable: ResolvedSecurable) -> bool:
    """Whether the caller may read and change the grants on a securable."""
    if identity.is_admin:
        return True
    names = acting_names(state, identity)
    for level in securable.lineage():
        if level.owner is not None and level.owner.lower() in names:
            return True
        if level.is_hive:
            continue  # hive_metastore table ACLs have no MANAGE privilege
        for principal, privilege in state.catalog.direct_grants(level.grant_type, level.full_name):
            if privilege == "MANAGE" and principal.lower() in names:
                return True
    return False


def require_manage(state: WorkspaceState, identity: Identity, securable: ResolvedSecurable) -> None:
    """Raise INSUFFICIENT_PERMISSIONS unless the caller may manage the securable's grants."""
    if not may_manage(state, identity, securable):
        raise SqlError.insufficient_permissions(
            f"User {identity.name} does not have MANAGE on {securable.kind.replace('_', ' ')} '{securable.full_name}'."
        )
