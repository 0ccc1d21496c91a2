"""Workspace endpoints: SQL warehouses (`warehouses`), object permissions (`permissions`), tokens
(`tokens`), workspace settings (`workspace-conf`) and service-principal OAuth secrets (`secrets`)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from auditor_sandbox.entities import AclEntry, OAuthSecret, SandboxError, Token, Warehouse
from auditor_sandbox.routes import (
    Request,
    Response,
    Route,
    caller_principals,
    decode_page_token,
    page,
)
from auditor_sandbox.state import WorkspaceState

KNOWN_CONF_KEYS = frozenset(
    {
        "enableTokensConfig",
        "maxTokenLifetimeDays",
        "enableIpAccessLists",
        "enableDeprecatedGlobalInitScripts",
        "enableResultsDownloading",
        "enableWebTerminal",
        "enableDbfsFileBrowser",
        "enableExportNotebook",
        "enableNotebookTableClipboard",
        "enforceUserIsolation",
        "enableVerboseAuditLogs",
        "storeInteractiveNotebookResultsInCustomerAccount",
    }
)
_USE_LEVELS = {"CAN_USE", "CAN_MONITOR", "CAN_MANAGE", "IS_OWNER"}
_MANAGE_LEVELS = {"CAN_MANAGE", "IS_OWNER"}


def _ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else -1


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def acl_json(state: WorkspaceState, entries: tuple[AclEntry, ...]) -> list[dict[str, Any]]:
    """An access control list as the Permissions API renders it."""
    rendered = []
    for entry in entries:
        kind = state.directory.principal_kind(entry.principal)
        item: dict[str, Any]
        if kind == "group":
            item = {"group_name": entry.principal}
        elif kind == "service_principal":
            sp = state.directory.service_principal_by_app_id(entry.principal)
            item = {
                "service_principal_name": entry.principal,
                "display_name": sp.display_name if sp else None,
            }
        else:
            user = state.directory.user_by_name(entry.principal)
            item = {"user_name": entry.principal, "display_name": user.display_name if user else None}
        item["all_permissions"] = [{"permission_level": entry.level, "inherited": False}]
        rendered.append({k: v for k, v in item.items() if v is not None})
    return rendered


def _levels_of_caller(req: Request, warehouse: Warehouse) -> set[str]:
    mine = caller_principals(req)
    return {e.level for e in warehouse.acl if e.principal.lower() in mine}


# -- warehouses --------------------------------------------------------------------------------------------


def _warehouse(req: Request, need: set[str]) -> Warehouse:
    found = req.state.compute.warehouse(req.params["id"])
    if found is None or found.state == "DELETED":
        raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Warehouse {req.params['id']} does not exist.", 404)
    if not req.caller.is_admin and not (_levels_of_caller(req, found) & need):
        raise SandboxError.permission_denied(f"User does not have the permission required on warehouse {found.id}.")
    return found


def _warehouse_json(req: Request, w: Warehouse) -> dict[str, Any]:
    hostname = req.base_url.split("://", 1)[-1].split(":")[0]
    path = f"/sql/1.0/warehouses/{w.id}"
    return {
        "id": w.id,
        "name": w.name,
        "cluster_size": w.cluster_size,
        "min_num_clusters": w.min_num_clusters,
        "max_num_clusters": w.max_num_clusters,
        "num_clusters": w.num_clusters,
        "num_active_sessions": 0,
        "auto_stop_mins": w.auto_stop_mins,
        "enable_photon": w.enable_photon,
        "enable_serverless_compute": w.enable_serverless_compute,
        "warehouse_type": w.warehouse_type,
        "spot_instance_policy": w.spot_instance_policy,
        "channel": {"name": w.channel},
        "state": w.state,
        "health": {"status": "HEALTHY"},
        "creator_name": w.creator_name,
        "jdbc_url": f"jdbc:spark://{hostname}:443/default;transportMode=http;ssl=1;AuthMech=3;httpPath={path};",
        "odbc_params": {"hostname": hostname, "path": path, "port": 443, "protocol": "https"},
        "tags": {},
    }


def warehouses_list(req: Request) -> Response:
    """`GET /api/2.0/sql/warehouses`: the warehouses the caller has any permission on."""
    mine = caller_principals(req)
    visible = [
        _warehouse_json(req, w)
        for w in req.state.compute.list_warehouses()
        if w.state != "DELETED" and (req.caller.is_admin or any(e.principal.lower() in mine for e in w.acl))
    ]
    return Response.json({"warehouses": visible})


def warehouse_get(req: Request) -> Response:
    """`GET /api/2.0/sql/warehouses/{id}`."""
    return Response.json(_warehouse_json(req, _warehouse(req, {"CAN_VIEW", *_USE_LEVELS})))


def warehouse_start(req: Request) -> Response:
    """`POST /api/2.0/sql/warehouses/{id}/start`: RUNNING at once."""
    req.state.compute.start_warehouse(_warehouse(req, _USE_LEVELS).id)
    return Response.json({})


def warehouse_stop(req: Request) -> Response:
    """`POST /api/2.0/sql/warehouses/{id}/stop`."""
    req.state.compute.stop_warehouse(_warehouse(req, _MANAGE_LEVELS).id)
    return Response.json({})


def warehouse_permissions(req: Request) -> Response:
    """`GET /api/2.0/permissions/warehouses/{id}` (also `/permissions/sql/warehouses/{id}`)."""
    warehouse = _warehouse(req, _MANAGE_LEVELS)
    return Response.json(
        {
            "object_id": f"/sql/warehouses/{warehouse.id}",
            "object_type": "warehouses",
            "access_control_list": acl_json(req.state, warehouse.acl),
        }
    )


# The Permissions API's PATCH "updates the permissions on" an object: the principals it names get the level it
# gives, every other entry stays; PUT would replace the whole list (docs.databricks.com/api/workspace/warehouses/
# updatepermissions and .../setpermissions; the SDK's `warehouses.update_permissions` sends PATCH
# /api/2.0/permissions/warehouses/{id}). An entry names its principal by one of user_name, group_name,
# service_principal_name; a principal the workspace does not know is refused with 400 INVALID_PARAMETER_VALUE.
_WAREHOUSE_LEVELS = ("CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER")
_TOKEN_LEVELS = ("CAN_USE", "CAN_MANAGE")  # docs.databricks.com/api/workspace/tokenmanagement/updatepermissions
_ACL_PRINCIPAL_KEYS = ("user_name", "group_name", "service_principal_name")


def _acl_changes(req: Request, levels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(principal, level) for each entry of a PATCH body's `access_control_list`, validated before any change."""
    body = req.json()
    entries = body.get("access_control_list") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SandboxError.invalid("access_control_list is required")
    changes = []
    for entry in entries:
        named = [entry.get(key) for key in _ACL_PRINCIPAL_KEYS if isinstance(entry, dict) and entry.get(key)]
        level = entry.get("permission_level") if isinstance(entry, dict) else None
        if len(named) != 1 or not isinstance(named[0], str):
            raise SandboxError.invalid("each entry names exactly one of user_name, group_name, service_principal_name")
        if level not in levels:
            raise SandboxError.invalid(f"Permission level {level} is not supported here; use one of {list(levels)}")
        if not req.state.directory.principal_exists(named[0]):
            raise SandboxError.invalid(f"Principal: {named[0]} does not exist")
        changes.append((named[0], str(level)))
    return changes


def warehouse_permissions_update(req: Request) -> Response:
    """`PATCH /api/2.0/permissions/warehouses/{id}`: CAN_MANAGE or admins; sets the levels named, keeps the rest."""
    warehouse = _warehouse(req, _MANAGE_LEVELS)
    for principal, level in _acl_changes(req, _WAREHOUSE_LEVELS):
        req.state.compute.set_warehouse_permission(warehouse.id, principal, level)
    return warehouse_permissions(req)


def token_permissions_update(req: Request) -> Response:
    """`PATCH /api/2.0/permissions/authorization/tokens` (admins only): sets the levels named, keeps the rest."""
    changes = _acl_changes(req, _TOKEN_LEVELS)
    with req.state.lock:
        entries = list(req.state.credentials.token_acl)
        for principal, level in changes:
            entries = [e for e in entries if e.principal.lower() != principal.lower()] + [AclEntry(principal, level)]
        req.state.credentials.token_acl = tuple(entries)
    return token_permissions(req)


def warehouse_permission_levels(req: Request) -> Response:
    """`GET /api/2.0/permissions/warehouses/{id}/permissionLevels`."""
    _warehouse(req, _MANAGE_LEVELS)
    levels = ["CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER"]
    return Response.json({"permission_levels": [{"permission_level": level} for level in levels]})


# -- tokens ------------------------------------------------------------------------------------------------


def token_permissions(req: Request) -> Response:
    """`GET /api/2.0/permissions/authorization/tokens` (admins only); levels may include CAN_MANAGE."""
    return Response.json(
        {
            "object_id": "/authorization/tokens",
            "object_type": "tokens",
            "access_control_list": acl_json(req.state, req.state.credentials.token_acl),
        }
    )


def _token_json(state: WorkspaceState, token: Token) -> dict[str, Any]:
    ref = state.directory.member_ref(token.owner)
    owner_id = int(ref.id) if ref else 0
    body: dict[str, Any] = {
        "token_id": token.token_id,
        "created_by_id": owner_id,
        "created_by_username": token.owner,
        "owner_id": owner_id,
        "creation_time": _ms(token.creation_time),
        "expiry_time": _ms(token.expiry_time),
        "workspace_id": state.workspace_id,
    }
    if token.comment:
        body["comment"] = token.comment
    return body


def tokens_list(req: Request) -> Response:
    """`GET /api/2.0/token-management/tokens` (admins only), filterable by creator id or user name."""
    by_id, by_name = req.int_arg("created_by_id"), (req.arg("created_by_username") or "").lower()
    infos = [_token_json(req.state, t) for t in req.state.credentials.list_tokens()]
    infos = [
        i
        for i in infos
        if (by_id is None or i["created_by_id"] == by_id)
        and (not by_name or i["created_by_username"].lower() == by_name)
    ]
    return Response.json({"token_infos": infos})


def _managed_token(req: Request) -> Token:
    for token in req.state.credentials.list_tokens():
        if token.token_id == req.params["token_id"]:
            return token
    raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Token {req.params['token_id']} does not exist.", 404)


def token_get(req: Request) -> Response:
    """`GET /api/2.0/token-management/tokens/{token_id}`."""
    return Response.json({"token_info": _token_json(req.state, _managed_token(req))})


def token_delete(req: Request) -> Response:
    """`DELETE /api/2.0/token-management/tokens/{token_id}`: revoke."""
    req.state.credentials.revoke_token(_managed_token(req).token_id)
    return Response.json({})


def own_tokens(req: Request) -> Response:
    """`GET /api/2.0/token/list`: the caller's own tokens."""
    mine = req.caller.name.lower()
    infos = []
    for token in req.state.credentials.list_tokens():
        if token.owner.lower() == mine:
            info = {k: v for k, v in _token_json(req.state, token).items() if k in ("token_id", "comment")}
            info.update(creation_time=_ms(token.creation_time), expiry_time=_ms(token.expiry_time))
            infos.append(info)
    return Response.json({"token_infos": infos})


# -- workspace-conf ----------------------------------------------------------------------------------------


def conf_get(req: Request) -> Response:
    """`GET /api/2.0/workspace-conf?keys=a,b` (admins only): values are strings, unset keys null."""
    keys = [k.strip() for k in (req.arg("keys") or "").split(",") if k.strip()]
    with req.state.lock:
        conf = dict(req.state.workspace_conf)
    unknown = [k for k in keys if k not in KNOWN_CONF_KEYS and k not in conf]
    if unknown:
        raise SandboxError.invalid(f"Invalid keys: {unknown}")
    return Response.json({k: conf.get(k) for k in keys})


def conf_set(req: Request) -> Response:
    """`PATCH /api/2.0/workspace-conf` (admins only): `{key: "value"}`."""
    changes = req.json()
    with req.state.lock:
        for key, value in changes.items():
            if key not in KNOWN_CONF_KEYS:
                raise SandboxError.invalid(f"Invalid keys: ['{key}']")
            req.state.workspace_conf[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return Response.json({})


# -- service principal secrets -----------------------------------------------------------------------------


def _secret_json(secret: OAuthSecret) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": secret.id,
        "secret_hash": hashlib.sha256(secret.value.encode()).hexdigest()[:8],
        "status": secret.status,
        "scopes": list(secret.scopes),
    }
    if secret.create_time:
        body["create_time"] = _rfc3339(secret.create_time)
    if secret.update_time:
        body["update_time"] = _rfc3339(secret.update_time)
    if secret.expire_time:
        body["expire_time"] = _rfc3339(secret.expire_time)
    return body


def secrets_list(req: Request) -> Response:
    """`GET /api/2.0/accounts/servicePrincipals/{sp_id}/credentials/secrets` (admins; numeric SCIM id)."""
    sp = req.state.directory.service_principal_by_id(req.params["sp_id"])
    if sp is None:
        raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Service principal {req.params['sp_id']} not found.", 404)
    size = req.int_arg("page_size") or req.control.limits.secrets_page_size
    items = [_secret_json(s) for s in req.state.credentials.listed_oauth_secrets(sp.application_id)]
    chunk, token = page(items, decode_page_token(req.arg("page_token")), size)
    body: dict[str, Any] = {"secrets": chunk}
    if token:
        body["next_page_token"] = token
    return Response.json(body)


_WH = "/api/2.0/sql/warehouses"
_PERM = "/api/2.0/permissions"

ROUTES = (
    Route("GET", _WH, "warehouses", warehouses_list),
    Route("GET", f"{_WH}/{{id}}", "warehouses", warehouse_get),
    Route("POST", f"{_WH}/{{id}}/start", "warehouses", warehouse_start),
    Route("POST", f"{_WH}/{{id}}/stop", "warehouses", warehouse_stop),
    Route("GET", f"{_PERM}/authorization/tokens", "permissions", token_permissions, admin_only=True),
    Route("GET", f"{_PERM}/warehouses/{{id}}", "permissions", warehouse_permissions),
    Route("PATCH", f"{_PERM}/warehouses/{{id}}", "permissions", warehouse_permissions_update),
    Route("PATCH", f"{_PERM}/sql/warehouses/{{id}}", "permissions", warehouse_permissions_update),
    Route("PATCH", f"{_PERM}/authorization/tokens", "permissions", token_permissions_update, admin_only=True),
    Route("GET", f"{_PERM}/sql/warehouses/{{id}}", "permissions", warehouse_permissions),
    Route("GET", f"{_PERM}/warehouses/{{id}}/permissionLevels", "permissions", warehouse_permission_levels),
    Route("GET", "/api/2.0/token-management/tokens", "tokens", tokens_list, admin_only=True),
    Route("GET", "/api/2.0/token-management/tokens/{token_id}", "tokens", token_get, admin_only=True),
    Route("DELETE", "/api/2.0/token-management/tokens/{token_id}", "tokens", token_delete, admin_only=True),
    Route("GET", "/api/2.0/token/list", "tokens", own_tokens),
    Route("GET", "/api/2.0/workspace-conf", "workspace-conf", conf_get, admin_only=True),
    Route("PATCH", "/api/2.0/workspace-conf", "workspace-conf", conf_set, admin_only=True),
    Route(
        "GET",
        "/api/2.0/accounts/servicePrincipals/{sp_id}/credentials/secrets",
        "secrets",
        secrets_list,
        admin_only=True,
    ),
)
