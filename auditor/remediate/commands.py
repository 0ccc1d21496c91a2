"""Non-SQL fixes as exact shell commands: the databricks CLI call and the equivalent REST call.

The auditor proposes these; it never runs them. Each fix is a `ProposedCall` holding two POSIX
shell command strings:

- ``cli``: the new (Go) databricks CLI, ``databricks <group> <command> <args> --json '<json>'``;
- ``curl``: the same request to the REST API, with the placeholders ``$DATABRICKS_HOST`` and
  ``$DATABRICKS_TOKEN`` (and ``$DATABRICKS_ACCOUNT_ID`` for account-level calls) left for the
  shell to expand. No real token ever appears.

Shell safety. Every argument is quoted with `shlex.quote`, so ``shlex.split`` of a command gives
back exactly the intended argv and nothing in a name (``$(...)``, backticks, ``;``, quotes, line
breaks) is interpreted by the shell. JSON bodies are compact and ASCII-only (``ensure_ascii``),
so they read the same in any terminal; ids in a REST path are percent-encoded, which lets the
URL sit inside double quotes next to ``$DATABRICKS_HOST``. Positional ids must not start with
``-`` (the CLI would read them as flags) and must not be empty. A CLI argument (an id, a token
comment) that contains a line break keeps it inside its quotes, so that command spans lines.

Permission PATCH calls (warehouse ACL, token usage) add to the access control list without
removing other entries; the SCIM PatchOp ``add`` adds entitlements without removing others.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from auditor.model.facts import PrincipalKind
from auditor.privileges.names import ACL_PRINCIPAL_KEYS, SCIM_RESOURCES

_SCIM_CLI_GROUPS: dict[PrincipalKind, str] = {
    PrincipalKind.USER: "users",
    PrincipalKind.GROUP: "groups",
    PrincipalKind.SERVICE_PRINCIPAL: "service-principals",
}
SCIM_PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_PERMISSION_LEVEL = re.compile(r"[A-Z]+(?:_[A-Z]+)*")


@dataclass(frozen=True)
class ProposedCall:
    """One fix as a databricks CLI command and the equivalent curl call (both shell-safe strings)."""

    cli: str
    curl: str

    @property
    def lines(self) -> tuple[str, str]:
        """Both commands, for `auditor.model.findings.Remediation.commands`."""
        return (self.cli, self.curl)


def acl_principal_key(kind: PrincipalKind | str) -> str:
    """The access-control-list key naming a principal of ``kind``: ``user_name``, ``group_name``, ..."""
    return ACL_PRINCIPAL_KEYS[PrincipalKind(kind)]


def warehouse_permission(
    warehouse_id: str,
    principal: str,
    kind: PrincipalKind | str,
    permission_level: str = "CAN_USE",
) -> ProposedCall:
    """Give ``principal`` ``permission_level`` on a SQL warehouse (PATCH keeps the other entries)."""
    body = _acl_body(principal, kind, permission_level)
    return ProposedCall(
        cli=_cli("warehouses", "update-permissions", _positional(warehouse_id), "--json", _json(body)),
        curl=_curl("PATCH", "/api/2.0/permissions/warehouses/" + _segment(warehouse_id), body),
    )


def token_usage_permission(
    principal: str,
    kind: PrincipalKind | str,
    permission_level: str = "CAN_USE",
) -> ProposedCall:
    """Let ``principal`` use personal access tokens (PATCH keeps the other entries)."""
    body = _acl_body(principal, kind, permission_level)
    return ProposedCall(
        cli=_cli("token-management", "update-permissions", "--json", _json(body)),
        curl=_curl("PATCH", "/api/2.0/permissions/authorization/tokens", body),
    )


def add_entitlements(scim_id: str, kind: PrincipalKind | str, entitlements: Sequence[str]) -> ProposedCall:
    """Add workspace entitlements (``databricks-sql-access``, ...) with a SCIM PatchOp ``add``.

    ``scim_id`` is the workspace SCIM ``id`` of the user, group or service principal (for a
    service principal this is the numeric id, not its application id).
    """
    principal_kind = PrincipalKind(kind)
    if isinstance(entitlements, str):
        raise TypeError("entitlements must be a sequence of entitlement names, not one str")
    values = list(dict.fromkeys(entitlements))
    if not values or any(value == "" for value in values):
        raise ValueError("at least one non-empty entitlement is required")
    body = {
        "schemas": [SCIM_PATCH_OP_SCHEMA],
        "Operations": [{"op": "add", "path": "entitlements", "value": [{"value": v} for v in values]}],
    }
    return ProposedCall(
        cli=_cli(_SCIM_CLI_GROUPS[principal_kind], "patch", _positional(scim_id), "--json", _json(body)),
        curl=_curl("PATCH", f"/api/2.0/preview/scim/v2/{SCIM_RESOURCES[principal_kind]}/{_segment(scim_id)}", body),
    )


def set_workspace_conf(values: Mapping[str, str]) -> ProposedCall:
    """Set workspace configuration keys, e.g. ``{"enableTokensConfig": "true"}`` (values are strings)."""
    if not values:
        raise ValueError("at least one workspace setting is required")
    body = {key: _require_str(value, f"workspace setting {key!r}") for key, value in values.items()}
    return ProposedCall(
        cli=_cli("workspace-conf", "set-status", "--json", _json(body)),
        curl=_curl("PATCH", "/api/2.0/workspace-conf", body),
    )


def enable_personal_access_tokens() -> ProposedCall:
    """Turn personal access tokens on for the workspace (``enableTokensConfig``)."""
    return set_workspace_conf({"enableTokensConfig": "true"})


def create_oauth_secret(
    scim_id: str,
    *,
    lifetime_seconds: int | None = None,
    account_level: bool = False,
) -> ProposedCall:
    """Create a new OAuth secret for a service principal (rotation: create, switch Segment, delete the old).

    Workspace level by default (``service-principal-secrets-proxy``); with ``account_level`` the
    account API, where ``$DATABRICKS_HOST`` is the account console and ``$DATABRICKS_ACCOUNT_ID``
    the account. ``scim_id`` is the service principal's numeric SCIM id.
    """
    lifetime = None if lifetime_seconds is None else f"{_positive(lifetime_seconds, 'lifetime_seconds')}s"
    body: dict[str, Any] = {} if lifetime is None else {"lifetime": lifetime}
    lifetime_flag = () if lifetime is None else ("--lifetime", lifetime)
    return ProposedCall(
        cli=_cli(*_secrets_group(account_level), "create", _positional(scim_id), *lifetime_flag),
        curl=_curl("POST", _secrets_path(scim_id, account_level), body),
    )


def delete_oauth_secret(scim_id: str, secret_id: str, *, account_level: bool = False) -> ProposedCall:
    """Delete a service principal's OAuth secret (the old one, once Segment uses the new one)."""
    return ProposedCall(
        cli=_cli(*_secrets_group(account_level), "delete", _positional(scim_id), _positional(secret_id)),
        curl=_curl("DELETE", _secrets_path(scim_id, account_level) + "/" + _segment(secret_id), None),
    )


def create_obo_token(
    application_id: str,
    *,
    lifetime_seconds: int | None = None,
    comment: str | None = None,
) -> ProposedCall:
    """Create a personal access token on behalf of a service principal (by its application id)."""
    body: dict[str, Any] = {"application_id": _require_str(application_id, "application_id")}
    flags: list[str] = []
    if comment is not None:
        body["comment"] = _require_str(comment, "comment")
        flags += ["--comment", comment]
    if lifetime_seconds is not None:
        body["lifetime_seconds"] = _positive(lifetime_seconds, "lifetime_seconds")
        flags += ["--lifetime-seconds", str(lifetime_seconds)]
    return ProposedCall(
        cli=_cli("token-management", "create-obo-token", _positional(application_id), *flags),
        curl=_curl("POST", "/api/2.0/token-management/on-behalf-of/tokens", body),
    )


def delete_token(token_id: str) -> ProposedCall:
    """Revoke a personal access token by its token id (admin token management)."""
    return ProposedCall(
        cli=_cli("token-management", "delete", _positional(token_id)),
        curl=_curl("DELETE", "/api/2.0/token-management/tokens/" + _segment(token_id), None),
    )


# ---- building blocks -----------------------------------------------------------------------------


def _acl_body(principal: str, kind: PrincipalKind | str, permission_level: str) -> dict[str, Any]:
    if not _PERMISSION_LEVEL.fullmatch(permission_level):
        raise ValueError(f"not a permission level: {permission_level!r}")
    if _require_str(principal, "principal") == "":
        raise ValueError("principal cannot be empty")
    return {"access_control_list": [{acl_principal_key(kind): principal, "permission_level": permission_level}]}


def _secrets_group(account_level: bool) -> tuple[str, ...]:
    return ("account", "service-principal-secrets") if account_level else ("service-principal-secrets-proxy",)


def _secrets_path(scim_id: str, account_level: bool) -> str:
    account = "/$DATABRICKS_ACCOUNT_ID" if account_level else ""
    return f"/api/2.0/accounts{account}/servicePrincipals/{_segment(scim_id)}/credentials/secrets"


def _cli(*args: str) -> str:
    return shlex.join(("databricks", *args))


def _curl(method: str, path: str, body: Mapping[str, Any] | None) -> str:
    # The URL and the Authorization header are double-quoted so the shell expands the placeholders;
    # ids in ``path`` are percent-encoded, so nothing else in those words is special to the shell.
    words = [
        "curl",
        "-sS",
        "-X",
        method,
        f'"$DATABRICKS_HOST{path}"',
        "-H",
        '"Authorization: Bearer $DATABRICKS_TOKEN"',
    ]
    if body is not None:
        words += ["-H", shlex.quote("Content-Type: application/json"), "--data-raw", shlex.quote(_json(body))]
    return " ".join(words)


def _json(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True)


def _segment(value: str) -> str:
    """One REST path segment, percent-encoded (only letters, digits and ``_.-~%`` remain)."""
    return quote(_positional(value), safe="")


def _positional(value: str) -> str:
    if _require_str(value, "id") == "":
        raise ValueError("an id cannot be empty")
    if value.startswith("-"):
        raise ValueError(f"an id cannot start with '-': {value!r}")
    return value


def _positive(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value
