"""The one route table of the workspace emulator."""

from __future__ import annotations

from auditor_sandbox import api_admin, api_auth, api_scim, api_uc, api_workspace
from auditor_sandbox.routes import Route

ROUTES: tuple[Route, ...] = (
    *api_auth.ROUTES,
    *api_uc.ROUTES,
    *api_workspace.ROUTES,
    *api_scim.ROUTES,
    *api_admin.ROUTES,
)
