"""The sandbox workspace's objects: immutable records held by `WorkspaceState`.

Every record is frozen; the state replaces a record to change it, so a record handed out is a consistent
snapshot that nobody mutates behind the caller's back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SECURABLE_TYPES = ("CATALOG", "SCHEMA", "TABLE", "VIEW")
"""Types held in the catalog -> schema -> table tree (views share the table namespace)."""

GRANTABLE_TYPES = (*SECURABLE_TYPES, "EXTERNAL_LOCATION", "STORAGE_CREDENTIAL", "CONNECTION", "METASTORE")
"""Every type `Catalog.grant` accepts."""

NO_CREDENTIAL = "Credential was not sent or was of an unsupported type for this API."

PrincipalKind = Literal["user", "service_principal", "group"]


class SandboxError(Exception):
    """An error the emulated platform answers with: an error code, a message and an HTTP status."""

    def __init__(self, error_code: str, message: str, http_status: int = 400) -> None:
        self.error_code = error_code
        self.message = message
        self.http_status = http_status
        super().__init__(f"{error_code}: {message}")

    @classmethod
    def not_found(cls, message: str) -> SandboxError:
        """404 NOT_FOUND."""
        return cls("NOT_FOUND", message, 404)

    @classmethod
    def invalid(cls, message: str) -> SandboxError:
        """400 INVALID_PARAMETER_VALUE."""
        return cls("INVALID_PARAMETER_VALUE", message, 400)

    @classmethod
    def permission_denied(cls, message: str) -> SandboxError:
        """403 PERMISSION_DENIED."""
        return cls("PERMISSION_DENIED", message, 403)

    @classmethod
    def unauthenticated(cls, message: str) -> SandboxError:
        """401 UNAUTHENTICATED."""
        return cls("UNAUTHENTICATED", message, 401)


@dataclass(frozen=True, slots=True)
class Column:
    """A table column (name and SQL type text)."""

    name: str
    type_text: str = "STRING"


@dataclass(frozen=True, slots=True)
class Securable:
    """A catalog, schema, table or view. `full_name` keeps its original casing."""

    type: str
    full_name: str
    id: str
    owner: str | None = None
    storage_location: str | None = None
    catalog_type: str | None = None  # catalogs: MANAGED_CATALOG, ...
    table_type: str | None = None  # tables: MANAGED | EXTERNAL | VIEW
    data_source_format: str | None = None  # tables: DELTA, ...
    isolation_mode: str | None = None  # catalogs: OPEN | ISOLATED
    comment: str | None = None
    view_definition: str | None = None
    properties: tuple[tuple[str, str], ...] = ()
    columns: tuple[Column, ...] = ()
    created_at: int = 0  # epoch ms

    @property
    def name(self) -> str:
        """The last part of the full name."""
        return self.full_name.rsplit(".", 1)[-1]

    @property
    def catalog_name(self) -> str:
        """The catalog part of the full name."""
        return self.full_name.split(".", 1)[0]

    @property
    def schema_name(self) -> str | None:
        """The schema part of a table's or schema's full name, None for a catalog."""
        parts = self.full_name.split(".")
        return parts[1] if len(parts) > 1 else None


@dataclass(frozen=True, slots=True)
class Metastore:
    """The Unity Catalog metastore assigned to the workspace."""

    metastore_id: str
    name: str
    cloud: str
    region: str
    owner: str
    privilege_model_version: str = "1.0"
    storage_root: str | None = None
    default_catalog_name: str | None = None
    created_at: int = 0

    @property
    def global_metastore_id(self) -> str:
        """`cloud:region:uuid`, as `current_metastore()` answers."""
        return f"{self.cloud}:{self.region}:{self.metastore_id}"


@dataclass(frozen=True, slots=True)
class Connection:
    """A Lakehouse Federation connection to a foreign database (docs: query-federation): no data of its own; who
    may USE it or CREATE FOREIGN CATALOG with it is granted on it."""

    name: str
    owner: str | None = None
    connection_type: str = "POSTGRESQL"


@dataclass(frozen=True, slots=True)
class StorageCredential:
    """A storage credential backed by an AWS IAM role."""

    name: str
    id: str
    owner: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    unity_catalog_iam_arn: str | None = None
    read_only: bool = False
    isolation_mode: str = "ISOLATION_MODE_OPEN"
    comment: str | None = None
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class ExternalLocation:
    """An external location: a URL reached through a storage credential."""

    name: str
    url: str
    credential_name: str
    id: str
    owner: str | None = None
    read_only: bool = False
    fallback: bool = False
    isolation_mode: str = "ISOLATION_MODE_OPEN"
    comment: str | None = None
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class User:
    """A workspace user; `user_name` is the e-mail address."""

    id: str
    user_name: str
    display_name: str
    active: bool = True
    entitlements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServicePrincipal:
    """A service principal; grants name it by `application_id`, SCIM by its numeric `id`."""

    id: str
    application_id: str
    display_name: str
    active: bool = True
    entitlements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A group member: its kind and numeric SCIM id."""

    kind: PrincipalKind
    id: str


@dataclass(frozen=True, slots=True)
class Group:
    """A group; `account` groups can hold Unity Catalog grants, workspace-local ones cannot."""

    id: str
    display_name: str
    entitlements: tuple[str, ...] = ()
    members: tuple[MemberRef, ...] = ()
    account: bool = True


@dataclass(frozen=True, slots=True)
class AclEntry:
    """One permission entry of an object ACL (a warehouse, token usage): principal name and level."""

    principal: str
    level: str


@dataclass(frozen=True, slots=True)
class Warehouse:
    """A SQL warehouse and its ACL."""

    id: str
    name: str
    state: str = "RUNNING"  # STARTING | RUNNING | STOPPING | STOPPED | DELETING | DELETED
    auto_start: bool = True
    cluster_size: str = "Small"
    warehouse_type: str = "PRO"
    enable_serverless_compute: bool = True
    min_num_clusters: int = 1
    max_num_clusters: int = 1
    auto_stop_mins: int = 10
    enable_photon: bool = True
    channel: str = "CHANNEL_NAME_CURRENT"
    spot_instance_policy: str = "COST_OPTIMIZED"
    creator_name: str | None = None
    acl: tuple[AclEntry, ...] = ()

    @property
    def num_clusters(self) -> int:
        """Clusters currently running: the minimum while running, none otherwise."""
        return self.min_num_clusters if self.state == "RUNNING" else 0


@dataclass(frozen=True, slots=True)
class Token:
    """A personal access token. `value` is the secret presented as `Bearer`; never print it."""

    token_id: str
    owner: str  # e-mail or application id
    value: str = field(repr=False)
    comment: str | None = None
    creation_time: datetime | None = None
    expiry_time: datetime | None = None  # None: never expires
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class OAuthSecret:
    """A service principal's OAuth secret. `value` is the client secret; never print it."""

    id: str
    application_id: str
    value: str = field(repr=False)
    create_time: datetime | None = None
    update_time: datetime | None = None
    expire_time: datetime | None = None  # None: never expires
    status: str = "ACTIVE"
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request authenticated as."""

    name: str  # application id for service principals, e-mail for users
    kind: PrincipalKind
    scim_id: str
    display_name: str
    is_admin: bool
    via: Literal["pat", "oauth"] = "pat"


@dataclass(frozen=True, slots=True)
class EffectiveGrant:
    """One privilege a principal holds on a securable, directly or inherited from a parent."""

    principal: str
    privilege: str
    inherited_from_type: str | None = None
    inherited_from_name: str | None = None
