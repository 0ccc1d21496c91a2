"""The sandbox workspace's in-memory state, moto-style: objects and platform rules, no HTTP.

`WorkspaceState` composes `Catalog`, `Directory`, `Compute` and `Credentials` (see `workspace`). The entities are
re-exported here for callers that build state directly.
"""

from auditor_sandbox.entities import (
    GRANTABLE_TYPES,
    SECURABLE_TYPES,
    AclEntry,
    Column,
    EffectiveGrant,
    ExternalLocation,
    Group,
    Identity,
    MemberRef,
    Metastore,
    OAuthSecret,
    SandboxError,
    Securable,
    ServicePrincipal,
    StorageCredential,
    Token,
    User,
    Warehouse,
)
from auditor_sandbox.state.catalog import Catalog, normalise_privilege, normalise_type
from auditor_sandbox.state.compute import Compute
from auditor_sandbox.state.credentials import Credentials
from auditor_sandbox.state.directory import Directory
from auditor_sandbox.state.workspace import WorkspaceState

__all__ = [
    "GRANTABLE_TYPES",
    "SECURABLE_TYPES",
    "AclEntry",
    "Catalog",
    "Column",
    "Compute",
    "Credentials",
    "Directory",
    "EffectiveGrant",
    "ExternalLocation",
    "Group",
    "Identity",
    "MemberRef",
    "Metastore",
    "OAuthSecret",
    "SandboxError",
    "Securable",
    "ServicePrincipal",
    "StorageCredential",
    "Token",
    "User",
    "Warehouse",
    "WorkspaceState",
    "normalise_privilege",
    "normalise_type",
]
