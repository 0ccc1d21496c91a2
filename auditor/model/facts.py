"""The facts snapshot: everything known about one target at one moment, immutable.

Collectors build a `Snapshot` once per cycle; the evaluation core reads it and never calls an API.
Every fact family carries a read status: a family (or one scope of it) that was not read is
*unknown*, and any rule that needs it reports ``error``, never pass or fail.

Conventions:
- Privileges are stored normalised (``USE_CATALOG``, ``ALL_PRIVILEGES``): see
  `auditor.privileges.databricks.normalize_privilege`.
- A `Grant` always means "principal holds privilege directly ON this securable". Inherited rows
  that SHOW GRANTS or the effective-permissions API report on a child are recorded as grants on the
  parent they come from; inheritance is recomputed by the privilege model.
- Principals are named the way grants name them: a user's e-mail, a group's display name, a
  service principal's application ID.
- Times are timezone-aware UTC datetimes; ``None`` expiry means "never expires".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from auditor.model.versions import SNAPSHOTS


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FactFamily(StrEnum):
    """The families of facts a collector reads, each with its own read status."""

    IDENTITY = "identity"  # the auditor's own identity (SCIM Me)
    METASTORE = "metastore"
    SECURABLES = "securables"  # catalogs, schemas, tables (scope: the securable key)
    GRANTS = "grants"  # direct grants (scope: the securable key)
    PRINCIPALS = "principals"  # users, service principals, groups and memberships
    ENTITLEMENTS = "entitlements"
    WAREHOUSES = "warehouses"  # config and state (scope: warehouse id)
    WAREHOUSE_ACLS = "warehouse_acls"  # scope: warehouse id
    TOKENS = "tokens"
    TOKEN_PERMISSIONS = "token_permissions"
    OAUTH_SECRETS = "oauth_secrets"  # scope: application id
    WORKSPACE_CONF = "workspace_conf"
    STORAGE_CREDENTIALS = "storage_credentials"
    EXTERNAL_LOCATIONS = "external_locations"
    TRUST_POLICIES = "trust_policies"  # scope: role ARN


PERMISSIONS_DOC = "docs/permissions.md"  # one section per fact family: the permission that reads it


def permission_anchor(family: FactFamily) -> str:
    """Where ``docs/permissions.md`` says which permission lets the auditor read ``family``."""
    return f"{PERMISSIONS_DOC}#{family.value}"


class ReadState(StrEnum):
    READ = "read"
    NOT_VISIBLE = "not_visible"  # the auditor's identity may not see it
    FAILED = "failed"  # the read was attempted and failed (timeout, 5xx, bad document, ...)


class ReadStatus(_Frozen):
    """Whether one fact family (optionally one scope of it) was read.

    ``scope`` ``"*"`` covers the whole family; a narrower scope (a securable key such as
    ``SCHEMA:main.sales``, a warehouse id, a role ARN) overrides it for that object.
    """

    family: FactFamily
    scope: str = "*"
    state: ReadState
    reason: str | None = None


class SecurableType(StrEnum):
    METASTORE = "METASTORE"
    CATALOG = "CATALOG"
    SCHEMA = "SCHEMA"
    TABLE = "TABLE"
    VIEW = "VIEW"
    VOLUME = "VOLUME"
    FUNCTION = "FUNCTION"
    EXTERNAL_LOCATION = "EXTERNAL_LOCATION"
    STORAGE_CREDENTIAL = "STORAGE_CREDENTIAL"
    CONNECTION = "CONNECTION"
    ANY_FILE = "ANY_FILE"


def securable_key(securable_type: SecurableType | str, full_name: str) -> str:
    """The stable key of a securable, used in read-status scopes, finding IDs and drift."""
    return f"{SecurableType(securable_type).value}:{full_name}"


class Securable(_Frozen):
    """A catalog, schema, table or view (Unity Catalog or hive_metastore)."""

    type: SecurableType
    full_name: str  # "main", "main.sales", "main.sales.orders"; hive_metastore objects keep that catalog
    owner: str | None = None
    storage_location: str | None = None  # catalogs and schemas: storage_root / storage_location
    catalog_type: str | None = None  # MANAGED_CATALOG, FOREIGN_CATALOG, ... (catalogs only)
    isolation_mode: str | None = None  # OPEN | ISOLATED (catalogs only)

    @property
    def key(self) -> str:
        return securable_key(self.type, self.full_name)


@dataclass(frozen=True, slots=True)
class Grant:
    """``principal`` holds ``privilege`` directly on the securable, or, when ``denied``, is refused it.

    A deny exists on hive_metastore only (legacy table ACLs: ``DENY``, reported by SHOW GRANTS as
    ``ActionType`` ``DENIED_<privilege>``); it overrides any grant on the object and on its children.

    A slotted dataclass, not a model: a snapshot holds up to millions of grants (about 100 bytes each
    this way, against about a kilobyte as a validated model). Pydantic still validates it as a field
    of `Snapshot` (``extra="forbid"``); built directly, ``securable_type`` is coerced like the model did.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    principal: str
    privilege: str  # normalised: upper case, underscores
    securable_type: SecurableType
    securable_name: str  # full name; empty for METASTORE / ANY_FILE
    source: Literal["sql", "rest", "information_schema", "snapshot"] = "snapshot"
    denied: bool = False

    def __post_init__(self) -> None:
        if type(self.securable_type) is not SecurableType:
            object.__setattr__(self, "securable_type", SecurableType(self.securable_type))

    @model_serializer(mode="wrap")
    def _omit_not_denied(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A plain grant serialises as before denies existed (snapshot format v1 unchanged)."""
        data: dict[str, Any] = handler(self)
        if not self.denied:
            data.pop("denied", None)
        return data

    @property
    def securable_key(self) -> str:
        return securable_key(self.securable_type, self.securable_name)


class PrincipalKind(StrEnum):
    USER = "user"
    SERVICE_PRINCIPAL = "service_principal"
    GROUP = "group"


class Principal(_Frozen):
    """A user, service principal or group as SCIM describes it."""

    name: str  # e-mail, application id, or group display name
    kind: PrincipalKind
    scim_id: str | None = None
    display_name: str | None = None
    active: bool = True
    entitlements: tuple[str, ...] = ()  # direct entitlements only
    account_level: bool = True  # groups: False for workspace-local groups (cannot hold UC grants)


class Membership(_Frozen):
    """A direct membership edge: ``member`` (any principal) is in ``group``."""

    member: str
    group: str


class AclEntry(_Frozen):
    """One permission on a workspace object (warehouse, token usage)."""

    principal: str
    principal_kind: PrincipalKind
    permission_level: str  # CAN_USE, CAN_MANAGE, IS_OWNER, ... kept verbatim even if unknown
    inherited: bool = False
    inherited_from: str | None = None


class Warehouse(_Frozen):
    id: str
    name: str
    state: str  # RUNNING, STOPPED, DELETED, ...
    cluster_size: str | None = None
    warehouse_type: str | None = None  # CLASSIC | PRO
    enable_serverless_compute: bool = False
    min_num_clusters: int | None = None
    max_num_clusters: int | None = None
    auto_stop_mins: int | None = None
    hostname: str | None = None
    http_path: str | None = None
    port: int | None = None
    acl: tuple[AclEntry, ...] = ()


class Token(_Frozen):
    """A personal access token (metadata only: the value is never read)."""

    token_id: str
    owner: str  # application id or user name of the owner
    comment: str | None = None
    creation_time: datetime | None = None
    expiry_time: datetime | None = None  # None: never expires


class OAuthSecret(_Frozen):
    """A service principal's OAuth secret (metadata only)."""

    application_id: str
    secret_id: str
    status: str  # ACTIVE, ...
    create_time: datetime | None = None
    expire_time: datetime | None = None  # None: never expires


class MetastoreAssignment(_Frozen):
    metastore_id: str
    workspace_id: str | None = None
    default_catalog_name: str | None = None
    privilege_model_version: str | None = None
    name: str | None = None


class StorageCredential(_Frozen):
    name: str
    owner: str | None = None
    aws_role_arn: str | None = None
    aws_external_id: str | None = None
    unity_catalog_iam_arn: str | None = None
    read_only: bool = False


class ExternalLocation(_Frozen):
    name: str
    url: str
    credential_name: str
    owner: str | None = None
    read_only: bool = False


class TrustPolicy(_Frozen):
    """The assume-role policy of an IAM role, as read from AWS.

    ``document`` is the decoded policy; when it could not be decoded, ``document`` is ``None`` and
    ``raw`` / ``decode_error`` say what was read, so the trust check reports an error, never a pass.
    """

    role_arn: str
    document: dict[str, Any] | None = None
    raw: str | None = None
    decode_error: str | None = None


class Binding(_Frozen):
    """One integration to audit on a target: a rule pack and its parameter values."""

    pack: str
    name: str | None = None  # instance name when a pack is bound more than once
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def instance(self) -> str:
        return self.name or self.pack


class Watch(_Frozen):
    """Catalogs and principals whose every grant is watched (exposure, excess, drift)."""

    catalogs: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()


class Snapshot(_Frozen):
    """Everything known about one target at one moment."""

    schema_version: Literal[1] = 1  # `auditor.model.versions.SNAPSHOTS.current`; absent in older files: 1
    target: str
    collected_at: datetime
    auditor_identity: str | None = None
    integrations: tuple[Binding, ...] = ()
    watch: Watch = Watch()
    reads: tuple[ReadStatus, ...] = ()

    metastore: MetastoreAssignment | None = None  # None with metastore READ: no metastore assigned
    securables: tuple[Securable, ...] = ()
    grants: tuple[Grant, ...] = ()
    principals: tuple[Principal, ...] = ()
    memberships: tuple[Membership, ...] = ()
    warehouses: tuple[Warehouse, ...] = ()
    tokens: tuple[Token, ...] = ()
    token_permissions: tuple[AclEntry, ...] = ()
    oauth_secrets: tuple[OAuthSecret, ...] = ()
    workspace_conf: dict[str, str | None] = Field(default_factory=dict)
    storage_credentials: tuple[StorageCredential, ...] = ()
    external_locations: tuple[ExternalLocation, ...] = ()
    trust_policies: tuple[TrustPolicy, ...] = ()

    # ---- read status -------------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Older versions are migrated on load; a newer one is refused (`SchemaVersionError`)."""
        return SNAPSHOTS.upgrade(data)

    def read_status(self, family: FactFamily, scope: str | None = None) -> ReadStatus:
        """The status for ``family`` at ``scope``: the exact scope if recorded, else the family.

        A family that was never recorded is reported as FAILED ("not collected"), so that a
        collector that forgot a family can never produce a pass.
        """
        fallback: ReadStatus | None = None
        for status in self.reads:
            if status.family != family:
                continue
            if scope is not None and status.scope == scope:
                return status
            if status.scope == "*":
                fallback = status
        if fallback is not None:
            return fallback
        return ReadStatus(family=family, scope=scope or "*", state=ReadState.FAILED, reason="not collected")

    def unread(self, family: FactFamily, scopes: Iterable[str | None] = (None,)) -> ReadStatus | None:
        """The first status among ``scopes`` that is not READ, or ``None`` when all were read."""
        for scope in scopes:
            status = self.read_status(family, scope)
            if status.state is not ReadState.READ:
                return status
        return None

    # ---- lookups -------------------------------------------------------------------------------

    def securable(self, securable_type: SecurableType | str, full_name: str) -> Securable | None:
        """Look a securable up by type and name; Unity Catalog names are case-insensitive."""
        return self._securables_by_key.get(securable_key(securable_type, full_name).lower())

    @cached_property
    def _securables_by_key(self) -> Mapping[str, Securable]:
        return {s.key.lower(): s for s in self.securables}

    def warehouse(self, warehouse_id: str) -> Warehouse | None:
        return next((w for w in self.warehouses if w.id == warehouse_id), None)

    def principal(self, name: str) -> Principal | None:
        lowered = name.lower()
        return next((p for p in self.principals if p.name.lower() == lowered), None)

    def storage_credential(self, name: str) -> StorageCredential | None:
        return next((c for c in self.storage_credentials if c.name == name), None)

    def external_location(self, name: str) -> ExternalLocation | None:
        return next((x for x in self.external_locations if x.name == name), None)

    def trust_policy(self, role_arn: str) -> TrustPolicy | None:
        return next((t for t in self.trust_policies if t.role_arn == role_arn), None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Snapshot:
        """A copy with derived lookups rebuilt (they must not describe the original's facts)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("_securables_by_key", None)
        return copy

    # ---- JSON ----------------------------------------------------------------------------------

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_defaults=False)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        return cls.model_validate_json(text)

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.model_dump_json())
        return result
