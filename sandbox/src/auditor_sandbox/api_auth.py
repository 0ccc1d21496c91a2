"""Host metadata and OAuth machine-to-machine endpoints (families `metadata` and `oauth`)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, unquote

from auditor_sandbox.entities import SandboxError
from auditor_sandbox.routes import Request, Response, Route


def host_metadata(req: Request) -> Response:
    """`/.well-known/databricks-config`, probed unauthenticated by every SDK `Config()`."""
    state = req.state
    return Response.json(
        {
            "oidc_endpoint": f"{req.base_url}/oidc",
            "account_id": state.account_id,
            "workspace_id": str(state.workspace_id),
            "cloud": "aws",
        }
    )


def oauth_discovery(req: Request) -> Response:
    """The OAuth authorization-server metadata; clients use its `token_endpoint`."""
    oidc = f"{req.base_url}/oidc"
    return Response.json(
        {
            "issuer": oidc,
            "authorization_endpoint": f"{oidc}/v1/authorize",
            "token_endpoint": f"{oidc}/v1/token",
            "jwks_uri": f"{oidc}/jwks.json",
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": ["code"],
            "scopes_supported": ["all-apis", "offline_access", "openid", "profile", "email"],
        }
    )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response.json({"error": error, "error_description": description}, status)


def _client_credentials(req: Request, form: dict[str, list[str]]) -> tuple[str, str] | None:
    header = req.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        return (unquote(client_id), unquote(secret)) if sep else None
    if form.get("client_id") and form.get("client_secret"):
        return form["client_id"][0], form["client_secret"][0]
    return None


def token(req: Request) -> Response:
    """Client-credentials grant: HTTP Basic (or form) client id and secret -> a Bearer token that expires."""
    form = parse_qs(req.body.decode("utf-8", "replace"))
    if req.arg("grant_type"):  # requests may also put the form in the query string
        form = {**req.query, **form}
    if form.get("grant_type", [""])[0] != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported.")
    credentials = _client_credentials(req, form)
    if credentials is None:
        return _oauth_error(401, "invalid_client", "Client authentication failed.")
    scope = form.get("scope", ["all-apis"])[0]
    try:
        access_token, lifetime = req.state.credentials.issue_access_token(
            credentials[0], credentials[1], issuer=f"{req.base_url}/oidc", scope=scope
        )
    except SandboxError as exc:
        return _oauth_error(exc.http_status, exc.error_code, exc.message)
    return Response.json(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope},
        headers=(("Cache-Control", "no-store"),),
    )


ROUTES = (
    Route("GET", "/.well-known/databricks-config", "metadata", host_metadata, auth=False),
    Route("GET", "/oidc/.well-known/oauth-authorization-server", "oauth", oauth_discovery, auth=False),
    Route("POST", "/oidc/v1/token", "oauth", token, auth=False),
)
