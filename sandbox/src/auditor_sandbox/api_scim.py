"""SCIM endpoints (family `scim`): `Me`, users, service principals and groups.

Lists support `filter`, `attributes`, `excludedAttributes` and `startIndex`/`count` paging (the server caps a
page at `Limits.scim_page_size`). A resource's `groups` lists direct memberships (`type: direct`) and those
through nested groups (`type: indirect`). Non-admin callers get only identifying attributes in lists and
403 PERMISSION_DENIED for another principal's details.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from auditor_sandbox.entities import Group, MemberRef, SandboxError, ServicePrincipal, User
from auditor_sandbox.routes import Request, Response, Route
from auditor_sandbox.scim_filter import compile_filter
from auditor_sandbox.state import WorkspaceState

_SCIM = "/api/2.0/preview/scim/v2"
_CORE = "urn:ietf:params:scim:schemas:core:2.0"
_REF_PREFIX = {"user": "Users", "service_principal": "ServicePrincipals", "group": "Groups"}
_PUBLIC = {"schemas", "id", "displayName", "userName", "applicationId", "active", "emails", "meta"}


def _groups_json(state: WorkspaceState, ref: MemberRef) -> list[dict[str, Any]]:
    return [
        {
            "display": g.display_name,
            "value": g.id,
            "$ref": f"Groups/{g.id}",
            "type": "direct" if d else "indirect",
        }
        for g, d in state.directory.listed_groups(ref)
    ]


def _entitlements(values: Sequence[str]) -> list[dict[str, str]]:
    return [{"value": v} for v in values]


def user_json(state: WorkspaceState, user: User) -> dict[str, Any]:
    """A SCIM User resource."""
    return {
        "schemas": [f"{_CORE}:User"],
        "id": user.id,
        "userName": user.user_name,
        "displayName": user.display_name,
        "active": user.active,
        "emails": [{"value": user.user_name, "type": "work", "primary": True}],
        "entitlements": _entitlements(user.entitlements),
        "groups": _groups_json(state, MemberRef("user", user.id)),
        "roles": [],
    }


def sp_json(state: WorkspaceState, sp: ServicePrincipal) -> dict[str, Any]:
    """A SCIM ServicePrincipal resource."""
    return {
        "schemas": [f"{_CORE}:ServicePrincipal"],
        "id": sp.id,
        "applicationId": sp.application_id,
        "displayName": sp.display_name,
        "active": sp.active,
        "entitlements": _entitlements(sp.entitlements),
        "groups": _groups_json(state, MemberRef("service_principal", sp.id)),
        "roles": [],
    }


def group_json(state: WorkspaceState, group: Group) -> dict[str, Any]:
    """A SCIM Group resource: direct members only, with `$ref` giving each member's kind."""
    members = []
    for member in group.members:
        name = state.directory.principal_name(member)
        display = name
        if member.kind == "service_principal":
            sp = state.directory.service_principal_by_id(member.id)
            display = sp.display_name if sp else name
        elif member.kind == "user":
            user = state.directory.user_by_id(member.id)
            display = user.display_name if user else name
        members.append({"display": display, "value": member.id, "$ref": f"{_REF_PREFIX[member.kind]}/{member.id}"})
    return {
        "schemas": [f"{_CORE}:Group"],
        "id": group.id,
        "displayName": group.display_name,
        "members": members,
        "groups": [
            {"display": g.display_name, "value": g.id, "$ref": f"Groups/{g.id}", "type": "direct"}
            for g in state.directory.direct_groups(MemberRef("group", group.id))
        ],
        "entitlements": _entitlements(group.entitlements),
        "roles": [],
        "meta": {"resourceType": "Group" if group.account else "WorkspaceGroup"},
    }


def _project(req: Request, resource: dict[str, Any]) -> dict[str, Any]:
    if not req.caller.is_admin:
        resource = {k: v for k, v in resource.items() if k in _PUBLIC}
    attributes = [a.strip().lower() for a in (req.arg("attributes") or "").split(",") if a.strip()]
    if attributes:
        resource = {k: v for k, v in resource.items() if k.lower() in (*attributes, "id", "schemas")}
    excluded = {a.strip().lower() for a in (req.arg("excludedAttributes") or "").split(",") if a.strip()}
    return {k: v for k, v in resource.items() if k.lower() not in excluded}


def _list(req: Request, resources: list[dict[str, Any]]) -> Response:
    matches = compile_filter(req.arg("filter"))
    selected = [r for r in resources if matches(r)]
    start = max(req.int_arg("startIndex") or 1, 1)
    limit = req.control.limits.scim_page_size
    requested = req.int_arg("count")
    count = limit if requested is None else max(0, min(requested, limit))
    chunk = [_project(req, r) for r in selected[start - 1 : start - 1 + count]]
    return Response.json(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(selected),
            "startIndex": start,
            "itemsPerPage": len(chunk),
            "Resources": chunk,
        }
    )


def _detail(req: Request, resource: dict[str, Any] | None, is_self: bool) -> Response:
    if resource is None:
        raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Resource {req.params['id']} not found.", 404)
    if not (req.caller.is_admin or is_self):
        raise SandboxError.permission_denied("Only workspace admins can read other principals' details.")
    return Response.json(_project(req, resource))


def me(req: Request) -> Response:
    """`GET /Me`: the caller; a service principal shows as a User whose `userName` is its application id."""
    caller, state = req.caller, req.state
    if caller.kind == "user":
        user = state.directory.user_by_id(caller.scim_id)
        assert user is not None
        resource = user_json(state, user)
    else:
        sp = state.directory.service_principal_by_id(caller.scim_id)
        assert sp is not None
        resource = {**sp_json(state, sp), "schemas": [f"{_CORE}:User"], "userName": sp.application_id}
    attributes = req.arg("attributes")
    if attributes:
        keep = {a.strip().lower() for a in attributes.split(",")} | {"id", "schemas"}
        resource = {k: v for k, v in resource.items() if k.lower() in keep}
    return Response.json(resource)


def _lister(build: Callable[[Request], list[dict[str, Any]]]) -> Callable[[Request], Response]:
    return lambda req: _list(req, build(req))


users_list = _lister(lambda req: [user_json(req.state, u) for u in req.state.directory.list_users()])
sps_list = _lister(lambda req: [sp_json(req.state, s) for s in req.state.directory.list_service_principals()])
groups_list = _lister(lambda req: [group_json(req.state, g) for g in req.state.directory.list_groups()])


def user_get(req: Request) -> Response:
    """`GET /Users/{id}`."""
    user = req.state.directory.user_by_id(req.params["id"])
    return _detail(req, user_json(req.state, user) if user else None, req.params["id"] == req.caller.scim_id)


def sp_get(req: Request) -> Response:
    """`GET /ServicePrincipals/{id}` (the numeric SCIM id, not the application id)."""
    sp = req.state.directory.service_principal_by_id(req.params["id"])
    return _detail(req, sp_json(req.state, sp) if sp else None, req.params["id"] == req.caller.scim_id)


def group_get(req: Request) -> Response:
    """`GET /Groups/{id}`."""
    group = req.state.directory.group_by_id(req.params["id"])
    return _detail(req, group_json(req.state, group) if group else None, False)


# SCIM PATCH (RFC 7644 section 3.5.2) with the PatchOp schema: Databricks documents `add` and `remove` on the
# path `entitlements` with `value: [{"value": "databricks-sql-access"}]` to grant or take away an entitlement
# (docs.databricks.com/api/workspace/serviceprincipals/patch, .../users/patch, .../groups/patch); only workspace
# admins may change entitlements. The answer is 204 No Content.
_PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _patch_entitlements(req: Request, principal: str | None) -> Response:
    if principal is None:
        raise SandboxError("RESOURCE_DOES_NOT_EXIST", f"Resource {req.params['id']} not found.", 404)
    if not req.caller.is_admin:
        raise SandboxError.permission_denied("Only workspace admins can change entitlements.")
    body = req.json()
    if not isinstance(body, dict) or _PATCH_OP not in (body.get("schemas") or []):
        raise SandboxError.invalid(f"schemas must include {_PATCH_OP}")
    current = _direct(req, principal)
    for operation in body.get("Operations") or []:
        op = str(operation.get("op", "")).lower()
        if operation.get("path") != "entitlements" or op not in ("add", "remove"):
            raise SandboxError.invalid("only add and remove on the path entitlements are supported")
        values = [v.get("value") for v in operation.get("value") or [] if isinstance(v, dict)]
        if op == "add":
            current += [v for v in values if isinstance(v, str) and v not in current]
        else:
            current = [v for v in current if v not in values]
    req.state.directory.set_entitlements(principal, current)
    return Response(204)


def _direct(req: Request, principal: str) -> list[str]:
    directory = req.state.directory
    ref = directory.member_ref(principal)
    if ref is None:
        return []
    found = {
        "user": directory.user_by_id,
        "service_principal": directory.service_principal_by_id,
        "group": directory.group_by_id,
    }[ref.kind](ref.id)
    return list(found.entitlements) if found else []


def user_patch(req: Request) -> Response:
    """`PATCH /Users/{id}`: add or remove entitlements."""
    user = req.state.directory.user_by_id(req.params["id"])
    return _patch_entitlements(req, user.user_name if user else None)


def sp_patch(req: Request) -> Response:
    """`PATCH /ServicePrincipals/{id}` (numeric SCIM id): add or remove entitlements."""
    sp = req.state.directory.service_principal_by_id(req.params["id"])
    return _patch_entitlements(req, sp.application_id if sp else None)


def group_patch(req: Request) -> Response:
    """`PATCH /Groups/{id}`: add or remove entitlements."""
    group = req.state.directory.group_by_id(req.params["id"])
    return _patch_entitlements(req, group.display_name if group else None)


ROUTES = (
    Route("GET", f"{_SCIM}/Me", "scim", me),
    Route("GET", f"{_SCIM}/Users", "scim", users_list),
    Route("GET", f"{_SCIM}/Users/{{id}}", "scim", user_get),
    Route("GET", f"{_SCIM}/ServicePrincipals", "scim", sps_list),
    Route("GET", f"{_SCIM}/ServicePrincipals/{{id}}", "scim", sp_get),
    Route("GET", f"{_SCIM}/Groups", "scim", groups_list),
    Route("GET", f"{_SCIM}/Groups/{{id}}", "scim", group_get),
    Route("PATCH", f"{_SCIM}/Users/{{id}}", "scim", user_patch),
    Route("PATCH", f"{_SCIM}/ServicePrincipals/{{id}}", "scim", sp_patch),
    Route("PATCH", f"{_SCIM}/Groups/{{id}}", "scim", group_patch),
)
