"""SQL warehouses: configuration and state, and their access control lists (raw Permissions API JSON).

ACL entries keep every ``all_permissions`` level verbatim, known to the SDK or not, with its inherited
flag: the SDK's typed models would turn an unknown level into ``None``.
"""

from __future__ import annotations

from typing import Any

from auditor.collect.clients import RestClient
from auditor.collect.interface import ObjectNotFound
from auditor.collect.rest_grants import segment
from auditor.model.facts import AclEntry, PrincipalKind, Warehouse
from auditor.privileges.names import ACL_PRINCIPAL_KEYS

WAREHOUSES = "/api/2.0/sql/warehouses"
PERMISSIONS = "/api/2.0/permissions"

_PRINCIPAL_FIELDS = tuple((key, kind) for kind, key in ACL_PRINCIPAL_KEYS.items())


def read_warehouse_info(rest: RestClient, warehouse_id: str) -> dict[str, Any] | None:
    """The raw warehouse JSON; None if there is no such warehouse."""
    try:
        return rest.get(f"{WAREHOUSES}/{segment(warehouse_id)}")
    except ObjectNotFound:
        return None


def read_warehouse_acl(rest: RestClient, warehouse_id: str) -> list[AclEntry] | None:
    """The warehouse's ACL; None if there is no such warehouse."""
    try:
        return parse_acl(rest.get(f"{PERMISSIONS}/warehouses/{segment(warehouse_id)}"))
    except ObjectNotFound:
        return None


def warehouse_from(info: dict[str, Any], acl: list[AclEntry] | None = None) -> Warehouse:
    """Warehouse JSON (``GET /api/2.0/sql/warehouses/{id}``) as a `Warehouse`."""
    odbc = info.get("odbc_params") or {}
    return Warehouse(
        id=str(info.get("id")),
        name=str(info.get("name") or ""),
        state=str(info.get("state") or "UNKNOWN"),
        cluster_size=info.get("cluster_size"),
        warehouse_type=info.get("warehouse_type"),
        enable_serverless_compute=bool(info.get("enable_serverless_compute")),
        min_num_clusters=_int(info.get("min_num_clusters")),
        max_num_clusters=_int(info.get("max_num_clusters")),
        auto_stop_mins=_int(info.get("auto_stop_mins")),
        hostname=odbc.get("hostname"),
        http_path=odbc.get("path"),
        port=_int(odbc.get("port")),
        acl=tuple(acl or ()),
    )


def parse_acl(payload: dict[str, Any]) -> list[AclEntry]:
    """A Permissions API object (``access_control_list``) as ACL entries, one per permission level."""
    entries: list[AclEntry] = []
    for item in payload.get("access_control_list") or ():
        if not isinstance(item, dict):
            continue
        principal, kind = _principal(item)
        if principal is None or kind is None:
            continue
        permissions = item.get("all_permissions")
        if not permissions and item.get("permission_level"):
            permissions = [{"permission_level": item["permission_level"]}]
        for permission in permissions or ():
            if not isinstance(permission, dict) or not permission.get("permission_level"):
                continue
            parents = permission.get("inherited_from_object") or ()
            if isinstance(parents, str):
                parents = (parents,)
            entries.append(
                AclEntry(
                    principal=principal,
                    principal_kind=kind,
                    permission_level=str(permission["permission_level"]),
                    inherited=bool(permission.get("inherited")),
                    inherited_from=",".join(str(p) for p in parents) or None,
                )
            )
    return entries


def _principal(item: dict[str, Any]) -> tuple[str | None, PrincipalKind | None]:
    for field_name, kind in _PRINCIPAL_FIELDS:
        value = item.get(field_name)
        if isinstance(value, str) and value:
            return value, kind
    return None, None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
