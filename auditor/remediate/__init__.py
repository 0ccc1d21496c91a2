"""Remediation text: GRANT/REVOKE SQL and CLI/REST commands a reviewer copies. Never executed."""

from __future__ import annotations

from auditor.remediate.commands import (
    ProposedCall,
    acl_principal_key,
    add_entitlements,
    create_oauth_secret,
    create_obo_token,
    delete_oauth_secret,
    delete_token,
    enable_personal_access_tokens,
    set_workspace_conf,
    token_usage_permission,
    warehouse_permission,
)
from auditor.remediate.sql import (
    commented,
    grant_statement,
    revoke_statement,
    securable_clause,
)

__all__ = [
    "ProposedCall",
    "acl_principal_key",
    "add_entitlements",
    "commented",
    "create_oauth_secret",
    "create_obo_token",
    "delete_oauth_secret",
    "delete_token",
    "enable_personal_access_tokens",
    "grant_statement",
    "revoke_statement",
    "securable_clause",
    "set_workspace_conf",
    "token_usage_permission",
    "warehouse_permission",
]
