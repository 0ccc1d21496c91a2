"""The REST framework: request and response records, the route table type, paging and visibility helpers.

Handlers are plain functions `(Request) -> Response` registered in one table per API module
(`api_auth`, `api_uc`, `api_workspace`, `api_scim`, `api_admin`); `ROUTES` in `api.py` joins them.
A handler raises `SandboxError` to answer with the platform's JSON error body.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from auditor_sandbox.entities import NO_CREDENTIAL, Identity, SandboxError

if TYPE_CHECKING:
    from auditor_sandbox.control import Control
    from auditor_sandbox.state import WorkspaceState

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer: status, headers and body bytes."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """A JSON answer."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, (("Content-Type", "application/json"), *headers))

    @classmethod
    def error(cls, error: SandboxError, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """The platform's error body: `{"error_code": ..., "message": ...}`."""
        payload = {"error_code": error.error_code, "message": error.message}
        return cls.json(payload, error.http_status, headers)


@dataclass(frozen=True, slots=True)
class Request:
    """One authenticated (or public) request as a handler sees it."""

    method: str
    path: str
    params: dict[str, str]  # named groups of the route pattern, URL-decoded
    query: dict[str, list[str]]
    headers: dict[str, str] = field(repr=False)  # lower-cased names; holds the Authorization header
    body: bytes = field(repr=False)
    base_url: str  # http://127.0.0.1:PORT
    state: WorkspaceState
    control: Control
    identity: Identity | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str) -> int | None:
        """An integer query parameter; 400 INVALID_PARAMETER_VALUE if it is not one."""
        raw = self.arg(name)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise SandboxError.invalid(f"Parameter {name} must be an integer, got '{raw}'.") from None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (an empty body is `{}`); 400 MALFORMED_REQUEST otherwise."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise SandboxError("MALFORMED_REQUEST", "Request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise SandboxError("MALFORMED_REQUEST", "Request body must be a JSON object.")
        return data

    @property
    def caller(self) -> Identity:
        """The authenticated identity (routes with `auth=False` have none)."""
        if self.identity is None:
            raise SandboxError.unauthenticated(NO_CREDENTIAL)
        return self.identity


Handler = Callable[[Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: method, path pattern (`{name}` one segment, `{name:path}` the rest), family, handler."""

    method: str
    template: str
    family: str
    handler: Handler
    auth: bool = True
    admin_only: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", self.template)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The decoded path parameters if this route serves the request, else None."""
        if method != self.method:
            return None
        found = self.pattern.match(path)
        if found is None:
            return None
        return {k: unquote(v) for k, v in found.groupdict().items()}


def find_route(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The first route serving `method path`, with its parameters."""
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def family_of(path: str) -> str | None:
    """The fault/count family of a path, also for paths no route serves."""
    prefixes = (
        ("/.well-known/", "metadata"),
        ("/oidc/", "oauth"),
        ("/api/2.0/preview/scim/", "scim"),
        ("/api/2.1/unity-catalog/", "unity-catalog"),
        ("/api/2.0/sql/warehouses", "warehouses"),
        ("/api/2.0/permissions/", "permissions"),
        ("/api/2.0/token-management/", "tokens"),
        ("/api/2.0/token/", "tokens"),
        ("/api/2.0/workspace-conf", "workspace-conf"),
        ("/api/2.0/accounts/servicePrincipals/", "secrets"),
        ("/sql/", "sql"),
    )
    for prefix, family in prefixes:
        if path.startswith(prefix):
            return family
    return None


# -- paging ------------------------------------------------------------------------------------------------


def encode_page_token(offset: int) -> str:
    """An opaque page token for an offset."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> int:
    """The offset a page token stands for; 400 INVALID_PARAMETER_VALUE for a token we did not issue."""
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "o":
            raise ValueError(raw)
        return int(value)
    except ValueError:
        raise SandboxError.invalid("Invalid page token.") from None


def page(items: Sequence[T], offset: int, size: int) -> tuple[list[T], str | None]:
    """One page and the next token. A full last page still carries a token (the next page is empty),
    as the platform does: clients must stop only when the token is absent."""
    chunk = list(items[offset : offset + size])
    if len(chunk) == size and size > 0:
        return chunk, encode_page_token(offset + size)
    return chunk, None


def resolve_page_size(requested: int | None, *, default: int, maximum: int, minimum: int = 1) -> int | None:
    """None for the unpaginated form (parameter absent), else the effective page size.

    `0` means the server's default; values below `minimum` (other than 0) or negative are rejected."""
    if requested is None:
        return None
    if requested < 0:
        raise SandboxError.invalid("max_results must be greater than or equal to 0.")
    if requested == 0:
        return default
    if requested < minimum:
        raise SandboxError.invalid(f"max_results must be 0 or at least {minimum}; got {requested}.")
    return min(requested, maximum)


# -- who may see what --------------------------------------------------------------------------------------


def caller_principals(req: Request) -> set[str]:
    """Lower-cased names the caller acts as: itself and every group it belongs to."""
    caller = req.caller
    return {caller.name.lower(), *(g.lower() for g in req.state.directory.groups_of(caller.name))}
