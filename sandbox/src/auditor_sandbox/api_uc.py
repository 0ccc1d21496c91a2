"""Unity Catalog endpoints (family `unity-catalog`): metastore, catalogs, schemas, tables, grants,
external locations and storage credentials.

Without a metastore every endpoint answers 404 METASTORE_DOES_NOT_EXIST. `hive_metastore` is not a Unity
Catalog catalog: REST neither lists nor serves it (its grants are visible through SQL only). Workspace
admins see everything; other callers see what they own or hold a privilege on (directly, inherited, or
through a group), and only their own rows of a grant list unless they own the object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from auditor_sandbox.entities import (
    EffectiveGrant,
    ExternalLocation,
    SandboxError,
    Securable,
    StorageCredential,
)
from auditor_sandbox.routes import (
    Request,
    Response,
    Route,
    caller_principals,
    decode_page_token,
    page,
    resolve_page_size,
)
from auditor_sandbox.state import GRANTABLE_TYPES, WorkspaceState, normalise_type

HIVE = "hive_metastore"
_UC = "/api/2.1/unity-catalog"
_OTHER_UC_TYPES = {
    "FUNCTION",
    "VOLUME",
    "SHARE",
    "PIPELINE",
    "SERVICE_CREDENTIAL",
    "CLEAN_ROOM",
}


def _metastore_id(state: WorkspaceState) -> str:
    if state.catalog.metastore is None:
        raise SandboxError("METASTORE_DOES_NOT_EXIST", "No metastore assigned for the current workspace.", 404)
    return state.catalog.metastore.metastore_id


def _missing(kind: str, name: str) -> SandboxError:
    label = {
        "EXTERNAL_LOCATION": "External Location",
        "STORAGE_CREDENTIAL": "Storage Credential",
        "CONNECTION": "Connection",
    }
    return SandboxError(f"{kind}_DOES_NOT_EXIST", f"{label.get(kind, kind.title())} '{name}' does not exist.", 404)


def _owner_chain(state: WorkspaceState, securable: Securable) -> list[str]:
    parts = securable.full_name.split(".")
    owners = [securable.owner]
    for depth in range(1, len(parts)):
        parent_type = "CATALOG" if depth == 1 else "SCHEMA"
        parent = state.catalog.get_securable(parent_type, ".".join(parts[:depth]))
        owners.append(parent.owner if parent else None)
    return [o.lower() for o in owners if o]


def _visible(req: Request, securable: Securable) -> bool:
    hides = req.state.catalog.hides_objects
    if req.caller.is_admin and not hides:
        return True
    mine = caller_principals(req)
    metastore = req.state.catalog.metastore
    if hides and metastore is not None and metastore.owner.lower() in mine:
        return True
    if mine & set(_owner_chain(req.state, securable)):
        return True
    grants = req.state.catalog.effective_grants(securable.type, securable.full_name)
    return any(g.principal.lower() in mine for g in grants)


def _get_securable(req: Request, kind: str, name: str) -> Securable:
    _metastore_id(req.state)
    found = None if name.split(".")[0].lower() == HIVE else req.state.catalog.get_securable(kind, name)
    if found is None:
        raise _missing(kind, name)
    if not _visible(req, found):
        if req.state.catalog.hides_objects:
            raise _missing(kind, name)
        raise SandboxError.permission_denied(f"User does not have USE {kind} on {kind.title()} '{name}'.")
    return found


def _page_of(req: Request, items: Sequence[Any], *, default: int, key: str, param: str = "max_results") -> Response:
    size = resolve_page_size(req.int_arg(param), default=default, maximum=max(default, 10_000), minimum=1)
    if size is None:
        return Response.json({key: list(items)})
    chunk, token = page(items, decode_page_token(req.arg("page_token")), size)
    body: dict[str, Any] = {key: chunk}
    if token:
        body["next_page_token"] = token
    return Response.json(body)


# -- JSON shapes -------------------------------------------------------------------------------------------


def _catalog_json(state: WorkspaceState, catalog: Securable) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": catalog.full_name,
        "full_name": catalog.full_name,
        "owner": catalog.owner,
        "metastore_id": _metastore_id(state),
        "catalog_type": catalog.catalog_type,
        "isolation_mode": catalog.isolation_mode or "OPEN",
        "securable_type": "CATALOG",
        "browse_only": False,
        "created_at": catalog.created_at,
        "updated_at": catalog.created_at,
        "id": catalog.id,
    }
    if catalog.storage_location:
        body["storage_root"] = catalog.storage_location
        body["storage_location"] = f"{catalog.storage_location.rstrip('/')}/__unitystorage/catalogs/{catalog.id}"
    if catalog.comment:
        body["comment"] = catalog.comment
    if catalog.properties:
        body["properties"] = dict(catalog.properties)
    return body


def _schema_json(state: WorkspaceState, schema: Securable) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": schema.name,
        "full_name": schema.full_name,
        "catalog_name": schema.catalog_name,
        "owner": schema.owner,
        "metastore_id": _metastore_id(state),
        "schema_id": schema.id,
        "securable_type": "SCHEMA",
        "browse_only": False,
        "created_at": schema.created_at,
        "updated_at": schema.created_at,
    }
    if schema.storage_location:
        body["storage_root"] = schema.storage_location
        body["storage_location"] = schema.storage_location
    if schema.comment:
        body["comment"] = schema.comment
    if schema.properties:
        body["properties"] = dict(schema.properties)
    return body


def _table_json(state: WorkspaceState, table: Securable, *, omit_columns: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": table.name,
        "full_name": table.full_name,
        "catalog_name": table.catalog_name,
        "schema_name": table.schema_name,
        "table_type": table.table_type,
        "owner": table.owner,
        "metastore_id": _metastore_id(state),
        "table_id": table.id,
        "securable_type": "TABLE",
        "browse_only": False,
        "created_at": table.created_at,
        "updated_at": table.created_at,
    }
    if table.data_source_format:
        body["data_source_format"] = table.data_source_format
    if table.storage_location:
        body["storage_location"] = table.storage_location
    if table.view_definition:
        body["view_definition"] = table.view_definition
    if table.comment:
        body["comment"] = table.comment
    if not omit_columns:
        body["columns"] = [
            {
                "name": c.name,
                "type_text": c.type_text.lower(),
                "type_name": c.type_text.split("(")[0].upper(),
                "position": i,
                "nullable": True,
            }
            for i, c in enumerate(table.columns)
        ]
    return body


def _credential_json(state: WorkspaceState, credential: StorageCredential) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": credential.name,
        "full_name": credential.name,
        "id": credential.id,
        "owner": credential.owner,
        "read_only": credential.read_only,
        "used_for_managed_storage": False,
        "isolation_mode": credential.isolation_mode,
        "metastore_id": _metastore_id(state),
        "created_at": credential.created_at,
        "updated_at": credential.created_at,
    }
    if credential.role_arn:
        role: dict[str, Any] = {"role_arn": credential.role_arn}
        if credential.external_id:
            role["external_id"] = credential.external_id
        if credential.unity_catalog_iam_arn:
            role["unity_catalog_iam_arn"] = credential.unity_catalog_iam_arn
        body["aws_iam_role"] = role
    if credential.comment:
        body["comment"] = credential.comment
    return body


def _location_json(state: WorkspaceState, location: ExternalLocation) -> dict[str, Any]:
    credential = state.credentials.storage_credential(location.credential_name)
    body: dict[str, Any] = {
        "name": location.name,
        "url": location.url,
        "credential_name": location.credential_name,
        "credential_id": credential.id if credential else None,
        "owner": location.owner,
        "read_only": location.read_only,
        "fallback": location.fallback,
        "browse_only": False,
        "isolation_mode": location.isolation_mode,
        "metastore_id": _metastore_id(state),
        "id": location.id,
        "created_at": location.created_at,
        "updated_at": location.created_at,
    }
    if location.comment:
        body["comment"] = location.comment
    return body


# -- metastore ---------------------------------------------------------------------------------------------


def current_assignment(req: Request) -> Response:
    """`GET /current-metastore-assignment`."""
    state = req.state
    metastore_id = _metastore_id(state)
    assert state.catalog.metastore is not None
    body: dict[str, Any] = {"workspace_id": state.workspace_id, "metastore_id": metastore_id}
    if state.catalog.metastore.default_catalog_name:
        body["default_catalog_name"] = state.catalog.metastore.default_catalog_name
    return Response.json(body)


def _metastore_json(state: WorkspaceState) -> dict[str, Any]:
    _metastore_id(state)
    m = state.catalog.metastore
    assert m is not None
    body: dict[str, Any] = {
        "metastore_id": m.metastore_id,
        "name": m.name,
        "owner": m.owner,
        "cloud": m.cloud,
        "region": m.region,
        "global_metastore_id": m.global_metastore_id,
        "privilege_model_version": m.privilege_model_version,
        "delta_sharing_scope": "INTERNAL",
        "external_access_enabled": False,
        "created_at": m.created_at,
        "updated_at": m.created_at,
    }
    if m.storage_root:
        body["storage_root"] = m.storage_root
    return body


def metastore_summary(req: Request) -> Response:
    """`GET /metastore_summary`."""
    return Response.json(_metastore_json(req.state))


def metastore_get(req: Request) -> Response:
    """`GET /metastores/{id}`: metastore (here: workspace) admins only."""
    body = _metastore_json(req.state)
    if req.params["id"].lower() != body["metastore_id"].lower():
        raise SandboxError("METASTORE_DOES_NOT_EXIST", f"Metastore '{req.params['id']}' does not exist.", 404)
    if not req.caller.is_admin:
        raise SandboxError.permission_denied("Only metastore admins can get a metastore.")
    return Response.json(body)


# -- catalogs, schemas, tables -----------------------------------------------------------------------------


def catalogs_list(req: Request) -> Response:
    """`GET /catalogs`."""
    _metastore_id(req.state)
    items = [
        _catalog_json(req.state, c)
        for c in req.state.catalog.list_catalogs()
        if c.full_name.lower() != HIVE and _visible(req, c)
    ]
    return _page_of(req, items, default=50, key="catalogs")


def catalog_get(req: Request) -> Response:
    """`GET /catalogs/{name}`."""
    return Response.json(_catalog_json(req.state, _get_securable(req, "CATALOG", req.params["name"])))


def schemas_list(req: Request) -> Response:
    """`GET /schemas?catalog_name=`."""
    catalog = _get_securable(req, "CATALOG", req.arg("catalog_name") or "")
    items = [
        _schema_json(req.state, s) for s in req.state.catalog.children("CATALOG", catalog.full_name) if _visible(req, s)
    ]
    return _page_of(req, items, default=100, key="schemas")


def schema_get(req: Request) -> Response:
    """`GET /schemas/{full_name}`."""
    return Response.json(_schema_json(req.state, _get_securable(req, "SCHEMA", req.params["full_name"])))


def tables_list(req: Request) -> Response:
    """`GET /tables?catalog_name=&schema_name=`."""
    catalog_name, schema_name = req.arg("catalog_name") or "", req.arg("schema_name") or ""
    schema = _get_securable(req, "SCHEMA", f"{catalog_name}.{schema_name}")
    omit = (req.arg("omit_columns") or "").lower() == "true"
    items = [
        _table_json(req.state, t, omit_columns=omit)
        for t in req.state.catalog.children("SCHEMA", schema.full_name)
        if _visible(req, t)
    ]
    return _page_of(req, items, default=1000, key="tables")


def table_get(req: Request) -> Response:
    """`GET /tables/{full_name}`."""
    return Response.json(_table_json(req.state, _get_securable(req, "TABLE", req.params["full_name"])))


# -- storage credentials and external locations ------------------------------------------------------------


def _sees(req: Request, kind: str, name: str, owner: str | None) -> bool:
    if req.caller.is_admin:
        return True
    mine = caller_principals(req)
    if owner and owner.lower() in mine:
        return True
    return any(p.lower() in mine for p, _ in req.state.catalog.direct_grants(kind, name))


def credentials_list(req: Request) -> Response:
    """`GET /storage-credentials`."""
    _metastore_id(req.state)
    items = [
        _credential_json(req.state, c)
        for c in req.state.credentials.list_storage_credentials()
        if _sees(req, "STORAGE_CREDENTIAL", c.name, c.owner)
    ]
    return _page_of(req, items, default=100, key="storage_credentials")


def credential_get(req: Request) -> Response:
    """`GET /storage-credentials/{name}`."""
    _metastore_id(req.state)
    found = req.state.credentials.storage_credential(req.params["name"])
    if found is None:
        raise _missing("STORAGE_CREDENTIAL", req.params["name"])
    if not _sees(req, "STORAGE_CREDENTIAL", found.name, found.owner):
        raise SandboxError.permission_denied(f"User does not have any privilege on '{found.name}'.")
    return Response.json(_credential_json(req.state, found))


def locations_list(req: Request) -> Response:
    """`GET /external-locations`."""
    _metastore_id(req.state)
    items = [
        _location_json(req.state, loc)
        for loc in req.state.credentials.list_external_locations()
        if _sees(req, "EXTERNAL_LOCATION", loc.name, loc.owner)
    ]
    return _page_of(req, items, default=100, key="external_locations")


def location_get(req: Request) -> Response:
    """`GET /external-locations/{name}`."""
    _metastore_id(req.state)
    found = req.state.credentials.external_location(req.params["name"])
    if found is None:
        raise _missing("EXTERNAL_LOCATION", req.params["name"])
    if not _sees(req, "EXTERNAL_LOCATION", found.name, found.owner):
        raise SandboxError.permission_denied(f"User does not have any privilege on '{found.name}'.")
    return Response.json(_location_json(req.state, found))


# -- grants ------------------------------------------------------------------------------------------------


def _grant_target(req: Request) -> tuple[str, str, str | None]:
    """(TYPE, full name, owner) of the securable a grants request names; 404 when it does not exist."""
    metastore_id = _metastore_id(req.state)
    kind = normalise_type(req.params["type"])
    name = req.params["full_name"]
    if kind in _OTHER_UC_TYPES:
        raise _missing(kind, name)
    if kind not in GRANTABLE_TYPES:
        raise SandboxError.invalid(f"Invalid securable type '{req.params['type']}'.")
    if kind in ("CATALOG", "SCHEMA", "TABLE", "VIEW"):
        securable = _get_securable(req, kind, name)
        return securable.type if securable.type != "VIEW" else "TABLE", securable.full_name, securable.owner
    if kind == "METASTORE":
        if name.lower() != metastore_id.lower():
            raise SandboxError("METASTORE_DOES_NOT_EXIST", f"Metastore '{name}' does not exist.", 404)
        assert req.state.catalog.metastore is not None
        return kind, metastore_id, req.state.catalog.metastore.owner
    lookups = {
        "STORAGE_CREDENTIAL": req.state.credentials.storage_credential,
        "EXTERNAL_LOCATION": req.state.credentials.external_location,
        "CONNECTION": req.state.credentials.connection,
    }
    other = lookups[kind](name)
    if other is None:
        raise _missing(kind, name)
    return kind, other.name, other.owner


def _rows_visible_to(req: Request, owner: str | None) -> set[str] | None:
    """None when the caller sees every row (admin or owner), else the principals whose rows it sees."""
    if req.caller.is_admin:
        return None
    mine = caller_principals(req)
    return None if owner and owner.lower() in mine else mine


def _principal_filter(req: Request, visible: set[str] | None) -> Callable[[str], bool]:
    wanted = (req.arg("principal") or "").lower()

    def keep(principal: str) -> bool:
        if wanted and principal.lower() != wanted:
            return False
        return visible is None or principal.lower() in visible

    return keep


def _direct_assignments(req: Request) -> list[dict[str, Any]]:
    kind, name, owner = _grant_target(req)
    keep = _principal_filter(req, _rows_visible_to(req, owner))
    grouped: dict[str, dict[str, Any]] = {}
    for principal, privilege in req.state.catalog.direct_grants(kind, name, deleted=True):
        if keep(principal):
            entry = grouped.setdefault(principal.lower(), _assignment(req, principal))
            entry["privileges"].append(privilege)
    return list(grouped.values())


def _assignment(req: Request, principal: str) -> dict[str, Any]:
    """A privilege assignment's head: a deleted principal's has `principal_id` and no `principal` (the API
    reference: "For deleted principals, principal is empty while principal_id is populated"; an empty proto3
    string is left out of the JSON)."""
    deleted_id = req.state.directory.deleted_principal_id(principal)
    head: dict[str, Any] = {"principal": principal} if deleted_id is None else {"principal_id": deleted_id}
    return {**head, "privileges": []}


def _effective_assignments(req: Request) -> list[dict[str, Any]]:
    kind, name, owner = _grant_target(req)
    keep = _principal_filter(req, _rows_visible_to(req, owner))
    grouped: dict[str, dict[str, Any]] = {}
    grant: EffectiveGrant
    for grant in req.state.catalog.effective_grants(kind, name, deleted=True):
        if not keep(grant.principal):
            continue
        entry = grouped.setdefault(grant.principal.lower(), _assignment(req, grant.principal))
        item: dict[str, Any] = {"privilege": grant.privilege}
        if grant.inherited_from_type:
            item["inherited_from_type"] = grant.inherited_from_type
            item["inherited_from_name"] = grant.inherited_from_name
        entry["privileges"].append(item)
    return list(grouped.values())


def _grants_page(req: Request, assignments: list[dict[str, Any]], key: str, param: str) -> Response:
    size = resolve_page_size(
        req.int_arg(param), default=req.control.limits.uc_grants_page_size, maximum=10_000, minimum=150
    )
    if size is None and param == "max_results":
        return Response.json({key: assignments})
    if size is None:
        size = req.control.limits.uc_grants_page_size
    size = min(size, req.control.limits.uc_grants_page_size)
    chunk, token = page(assignments, decode_page_token(req.arg("page_token")), size)
    body: dict[str, Any] = {key: chunk}
    if token:
        body["next_page_token"] = token
    return Response.json(body)


def permissions_get(req: Request) -> Response:
    """`GET /permissions/{type}/{full_name}`: direct grants."""
    return _grants_page(req, _direct_assignments(req), "privilege_assignments", "max_results")


def effective_get(req: Request) -> Response:
    """`GET /effective-permissions/{type}/{full_name}`: direct and inherited grants."""
    return _grants_page(req, _effective_assignments(req), "privilege_assignments", "max_results")


def assignments_list(req: Request) -> Response:
    """`GET /privilege-assignments/{type}/{full_name}` (paginated direct grants)."""
    return _grants_page(req, _direct_assignments(req), "privilege_assignments", "page_size")


def effective_assignments_list(req: Request) -> Response:
    """`GET /effective-privilege-assignments/{type}/{full_name}`."""
    return _grants_page(req, _effective_assignments(req), "effective_privilege_assignments", "page_size")


def permissions_update(req: Request) -> Response:
    """`PATCH /permissions/{type}/{full_name}`: `{"changes": [{"principal", "add", "remove"}]}`."""
    kind, name, owner = _grant_target(req)
    if _rows_visible_to(req, owner) is not None:
        raise SandboxError.permission_denied(f"User does not have MANAGE on {kind.title()} '{name}'.")
    changes = req.json().get("changes") or []
    with req.state.lock:
        for change in changes:
            principal = change.get("principal") or ""
            if change.get("add"):
                req.state.catalog.grant(kind, name, principal, change["add"])
            if change.get("remove"):
                req.state.catalog.revoke(kind, name, principal, change["remove"])
    return Response.json({"privilege_assignments": _direct_assignments(req)})


ROUTES = (
    Route("GET", f"{_UC}/current-metastore-assignment", "unity-catalog", current_assignment),
    Route("GET", f"{_UC}/metastore_summary", "unity-catalog", metastore_summary),
    Route("GET", f"{_UC}/metastores/{{id}}", "unity-catalog", metastore_get),
    Route("GET", f"{_UC}/catalogs", "unity-catalog", catalogs_list),
    Route("GET", f"{_UC}/catalogs/{{name}}", "unity-catalog", catalog_get),
    Route("GET", f"{_UC}/schemas", "unity-catalog", schemas_list),
    Route("GET", f"{_UC}/schemas/{{full_name}}", "unity-catalog", schema_get),
    Route("GET", f"{_UC}/tables", "unity-catalog", tables_list),
    Route("GET", f"{_UC}/tables/{{full_name}}", "unity-catalog", table_get),
    Route("GET", f"{_UC}/storage-credentials", "unity-catalog", credentials_list),
    Route("GET", f"{_UC}/storage-credentials/{{name}}", "unity-catalog", credential_get),
    Route("GET", f"{_UC}/external-locations", "unity-catalog", locations_list),
    Route("GET", f"{_UC}/external-locations/{{name}}", "unity-catalog", location_get),
    Route("GET", f"{_UC}/permissions/{{type}}/{{full_name:path}}", "unity-catalog", permissions_get),
    Route("PATCH", f"{_UC}/permissions/{{type}}/{{full_name:path}}", "unity-catalog", permissions_update),
    Route("GET", f"{_UC}/effective-permissions/{{type}}/{{full_name:path}}", "unity-catalog", effective_get),
    Route("GET", f"{_UC}/privilege-assignments/{{type}}/{{full_name:path}}", "unity-catalog", assignments_list),
    Route(
        "GET",
        f"{_UC}/effective-privilege-assignments/{{type}}/{{full_name:path}}",
        "unity-catalog",
        effective_assignments_list,
    ),
)
