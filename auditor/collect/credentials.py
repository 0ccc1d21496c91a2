"""Credentials metadata: personal access tokens, who may use tokens, workspace-conf, OAuth secrets.

Token values and secret values are never read (the APIs do not return them). Times: token-management
answers epoch milliseconds (``-1``, ``0`` or missing: never expires); OAuth secrets answer RFC 3339
strings (missing ``expire_time``: never expires).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from auditor.collect.clients import RestClient
from auditor.collect.identities import ScimDirectory
from auditor.collect.interface import ObjectNotFound
from auditor.collect.warehouses import PERMISSIONS, parse_acl
from auditor.model.facts import AclEntry, OAuthSecret, Token

TOKENS = "/api/2.0/token-management/tokens"
WORKSPACE_CONF = "/api/2.0/workspace-conf"


def read_tokens(rest: RestClient, directory: ScimDirectory) -> list[Token]:
    """Every token in the workspace, each owner named as grants name it (application id or user name)."""
    payload = rest.get(TOKENS)
    tokens: list[Token] = []
    for info in payload.get("token_infos") or ():
        if not isinstance(info, dict) or not info.get("token_id"):
            continue
        tokens.append(
            Token(
                token_id=str(info["token_id"]),
                owner=_owner(info, directory),
                comment=info.get("comment"),
                creation_time=epoch_ms(info.get("creation_time")),
                expiry_time=epoch_ms(info.get("expiry_time")),
            )
        )
    return tokens


def _owner(info: dict[str, Any], directory: ScimDirectory) -> str:
    owner_id = info.get("owner_id")
    creator_id = info.get("created_by_id")
    if owner_id in (None, 0, "0"):
        owner_id = creator_id
    if owner_id not in (None, 0, "0"):
        name = directory.name_of(str(owner_id))
        if name is not None:
            return name
    if owner_id == creator_id and info.get("created_by_username"):
        return str(info["created_by_username"])
    return f"scim-id:{owner_id}"


def epoch_ms(value: Any) -> datetime | None:
    """Epoch milliseconds as an aware UTC datetime; ``-1``, ``0``, missing or garbage: None (never)."""
    try:
        millis = int(value)
    except (TypeError, ValueError):
        return None
    if millis <= 0:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def rfc3339(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware UTC datetime; None if missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def read_token_permissions(rest: RestClient) -> list[AclEntry]:
    """Who may create and use personal access tokens (every level verbatim, CAN_MANAGE included)."""
    return parse_acl(rest.get(f"{PERMISSIONS}/authorization/tokens"))


def read_workspace_conf(rest: RestClient, keys: Iterable[str]) -> dict[str, str | None]:
    """The values of the given workspace-conf keys (None: not set)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    payload = rest.get(WORKSPACE_CONF, {"keys": ",".join(wanted)})
    values: dict[str, str | None] = {}
    for key in wanted:
        value = payload.get(key)
        values[key] = None if value is None else str(value)
    return values


def read_oauth_secrets(rest: RestClient, directory: ScimDirectory, application_id: str) -> list[OAuthSecret] | None:
    """The service principal's OAuth secrets; None if SCIM knows no such service principal."""
    resource = directory.find(application_id)
    if resource is None or resource.get("id") is None:
        return None
    path = oauth_secrets_path(str(resource["id"]))
    try:
        items = rest.uc_pages(path, "secrets", page_size_param=None)
    except ObjectNotFound:
        return None
    return parse_oauth_secrets(items, application_id)


def oauth_secrets_path(scim_id: str) -> str:
    """The workspace proxy listing of a service principal's OAuth secrets (by its SCIM id)."""
    return f"/api/2.0/accounts/servicePrincipals/{scim_id}/credentials/secrets"


def parse_oauth_secrets(items: Iterable[dict[str, Any]], application_id: str) -> list[OAuthSecret]:
    """Items of a secrets listing (``id``, ``status``, RFC 3339 ``create_time``/``expire_time``) as facts."""
    return [
        OAuthSecret(
            application_id=application_id,
            secret_id=str(item.get("id")),
            status=str(item.get("status") or "UNKNOWN"),
            create_time=rfc3339(item.get("create_time")),
            expire_time=rfc3339(item.get("expire_time")),
        )
        for item in items
        if item.get("id") is not None
    ]
