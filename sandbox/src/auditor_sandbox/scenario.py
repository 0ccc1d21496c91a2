"""Scenarios: YAML files describing a sandbox's whole state, validated, then built into a `WorkspaceState`.

A scenario is named (a bundled file in `scenarios/`), a path, or a dict of the same shape. `base: NAME`
starts from another scenario and replaces its top-level sections with the ones given. Relative times
(`expires_in_days`) count from the sandbox's start (`now`). See docs/sandbox-scenarios.md for the format.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from auditor_sandbox.entities import (
    AclEntry,
    Column,
    Connection,
    ExternalLocation,
    Metastore,
    StorageCredential,
    Warehouse,
)
from auditor_sandbox.faults import Fault, FaultError
from auditor_sandbox.generate import MetastoreShape, populate
from auditor_sandbox.state import SandboxError, WorkspaceState

Grants = dict[str, list[str]]


class ScenarioError(ValueError):
    """A scenario that cannot be read, validated or built; the message names the source and the field."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetastoreSpec(_Spec):
    metastore_id: str
    name: str = "sandbox-metastore"
    cloud: str = "aws"
    region: str = "us-east-1"
    owner: str = "admins"
    privilege_model_version: str = "1.0"
    storage_root: str | None = None
    default_catalog_name: str | None = None
    grants: Grants = {}
    missing_privilege_views: list[str] = []  # information_schema views this runtime lacks (TABLE_OR_VIEW_NOT_FOUND)
    # an object the caller holds nothing on answers not-found, workspace admins included (state.catalog.hides_objects)
    hides_objects: bool = False


class UserSpec(_Spec):
    user_name: str
    display_name: str | None = None
    entitlements: list[str] = []
    active: bool = True


class ServicePrincipalSpec(_Spec):
    application_id: str
    display_name: str
    entitlements: list[str] = []
    active: bool = True


class GroupSpec(_Spec):
    name: str
    members: list[str] = []
    entitlements: list[str] = []
    account: bool = True


class TableSpec(_Spec):
    name: str
    owner: str | None = None
    table_type: str = "MANAGED"
    columns: dict[str, str] = {}
    storage_location: str | None = None
    view_definition: str | None = None
    grants: Grants = {}


class SchemaSpec(_Spec):
    name: str
    owner: str | None = None
    storage_location: str | None = None
    comment: str | None = None
    grants: Grants = {}
    tables: list[TableSpec] = []


class CatalogSpec(_Spec):
    name: str
    owner: str | None = None
    storage_location: str | None = None
    catalog_type: str = "MANAGED_CATALOG"
    isolation_mode: str = "OPEN"
    comment: str | None = None
    grants: Grants = {}
    schemas: list[SchemaSpec] = []


class StorageCredentialSpec(_Spec):
    name: str
    owner: str | None = None
    role_arn: str
    external_id: str | None = None
    unity_catalog_iam_arn: str | None = None
    read_only: bool = False
    grants: Grants = {}


class ConnectionSpec(_Spec):
    name: str
    owner: str | None = None
    connection_type: str = "POSTGRESQL"
    grants: Grants = {}


class ExternalLocationSpec(_Spec):
    name: str
    url: str
    credential: str
    owner: str | None = None
    read_only: bool = False
    grants: Grants = {}


class WarehouseSpec(_Spec):
    id: str
    name: str
    cluster_size: str = "Small"
    warehouse_type: str = "PRO"
    enable_serverless_compute: bool = True
    min_num_clusters: int = Field(1, ge=1)
    max_num_clusters: int = Field(1, ge=1, le=40)
    auto_stop_mins: int = 10
    state: str = "RUNNING"
    auto_start: bool = True
    creator_name: str | None = None
    permissions: dict[str, str] = {}


class TokenSpec(_Spec):
    owner: str
    value: SecretStr
    comment: str | None = None
    expires_in_days: float | None = None  # None: never expires
    created_days_ago: float = 0


class OAuthSecretSpec(_Spec):
    owner: str
    value: SecretStr
    expires_in_days: float | None = None
    status: str = "ACTIVE"


class IamRoleSpec(_Spec):
    name: str
    path: str = "/"
    description: str | None = None
    trust_policy: dict[str, Any]


class IamSpec(_Spec):
    account_id: str = "123456789012"  # where the roles live; the sandbox's keys act in 123456789012
    region: str = "us-east-1"
    roles: list[IamRoleSpec] = []
    # In another account, the role the auditor assumes to read it (`aws.assume_role_arn` in its config)
    auditor_role: str | None = None

    @model_validator(mode="after")
    def _other_account_has_an_entry(self) -> IamSpec:
        if self.account_id != "123456789012" and not self.auditor_role:
            raise ValueError(f"roles in account {self.account_id} need `auditor_role` (the role to assume into it)")
        return self

    @property
    def auditor_role_arn(self) -> str | None:
        return f"arn:aws:iam::{self.account_id}:role/{self.auditor_role}" if self.auditor_role else None


class WorkspaceSpec(_Spec):
    workspace_id: int = 1234567890123456
    account_id: str = "e7a3c1d2-0000-4000-8000-00000000acc1"
    conf: dict[str, str] = {}
    token_permissions: dict[str, str] = {}
    oauth_token_lifetime_seconds: int = Field(3600, ge=1)
    workspace_id_header: Literal["ignored", "validated", "required"] = "ignored"  # see state.workspace


class AuditorSpec(_Spec):
    principal: str  # the auditor's application id
    token: SecretStr  # its PAT (must be one of `tokens`)
    client_secret: SecretStr  # its OAuth secret (must be one of `oauth_secrets`)
    warehouse_id: str | None = None
    integrations: list[dict[str, Any]] = []
    watch: dict[str, list[str]] = {}


class ScenarioSpec(_Spec):
    name: str
    description: str = ""
    workspace: WorkspaceSpec = WorkspaceSpec()
    metastore: MetastoreSpec | None = None  # None: no Unity Catalog metastore assigned
    users: list[UserSpec] = []
    service_principals: list[ServicePrincipalSpec] = []
    groups: list[GroupSpec] = []
    # built-in groups: `migrated` (users: no entitlements; the platform's state since the 2026 system-group
    # entitlement migration) or `legacy` (users: workspace-access and databricks-sql-access)
    entitlement_model: Literal["legacy", "migrated"] = "migrated"
    scim_lists_users_group: bool = False
    catalogs: list[CatalogSpec] = []
    storage_credentials: list[StorageCredentialSpec] = []
    external_locations: list[ExternalLocationSpec] = []
    connections: list[ConnectionSpec] = []
    warehouses: list[WarehouseSpec] = []
    tokens: list[TokenSpec] = []
    oauth_secrets: list[OAuthSecretSpec] = []
    iam: IamSpec = IamSpec()
    auditor: AuditorSpec
    faults: list[dict[str, Any]] = []
    generate: dict[str, Any] | None = None
    # users, service principals or groups deleted after the grants were made: their grants stay behind
    deleted_principals: list[str] = []

    def fault_list(self) -> list[Fault]:
        """The scenario's `faults:` section as `Fault`s."""
        try:
            return [Fault.from_dict(f) for f in self.faults]
        except FaultError as exc:
            raise ScenarioError(f"scenario {self.name!r}: faults: {exc}") from exc


# -- loading -----------------------------------------------------------------------------------------------


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped with the sandbox."""
    folder = resources.files("auditor_sandbox") / "scenarios"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read(ref: str | Path, relative_to: Path | None) -> tuple[dict[str, Any], str, Path | None]:
    path = Path(ref)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if isinstance(ref, Path) or str(ref).endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ScenarioError(f"scenario file {str(path)!r} does not exist")
        text, source, folder = path.read_text(encoding="utf-8"), str(path), path.parent
    else:
        bundled = resources.files("auditor_sandbox") / "scenarios" / f"{ref}.yaml"
        if not bundled.is_file():
            known = ", ".join(bundled_scenarios())
            raise ScenarioError(f"no scenario named {str(ref)!r} (bundled: {known}; or give a .yaml path)")
        text, source, folder = bundled.read_text(encoding="utf-8"), f"scenario {ref}", None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping")
    return data, source, folder


def _resolve(data: dict[str, Any], folder: Path | None, depth: int = 0) -> dict[str, Any]:
    base = data.get("base")
    if base is None:
        return data
    if depth > 8:
        raise ScenarioError("scenario `base:` chain is too deep (a cycle?)")
    parent, _, parent_folder = _read(base, folder)
    merged = {**_resolve(parent, parent_folder, depth + 1), **data}
    merged.pop("base", None)
    return merged


def load_scenario(scenario: str | Path | dict[str, Any]) -> ScenarioSpec:
    """Read and validate a scenario given by bundled name, file path or dict. Raises `ScenarioError`."""
    if isinstance(scenario, dict):
        data, source, folder = dict(scenario), "scenario dict", None
    else:
        data, source, folder = _read(scenario, None)
    data = _resolve(data, folder)
    data.setdefault("name", Path(str(scenario)).stem if not isinstance(scenario, dict) else "custom")
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ScenarioError(f"{source}: {where}: {err['msg']}") from exc


# -- building ----------------------------------------------------------------------------------------------


@contextmanager
def _at(where: str) -> Iterator[None]:
    """Report a `SandboxError` raised while building as a `ScenarioError` naming the scenario field."""
    try:
        yield
    except SandboxError as exc:
        raise ScenarioError(f"{where}: {exc.message}") from exc


def _days(now: datetime, days: float | None) -> datetime | None:
    return None if days is None else now + timedelta(days=days)


def _grant_all(state: WorkspaceState, kind: str, name: str, grants: Grants, where: str) -> None:
    for principal, privileges in grants.items():
        with _at(f"{where}.grants[{principal}]"):
            state.catalog.grant(kind, name, principal, privileges)


def _build_principals(state: WorkspaceState, spec: ScenarioSpec) -> None:
    for user in spec.users:
        with _at(f"users[{user.user_name}]"):
            state.directory.add_user(
                user.user_name,
                display_name=user.display_name,
                entitlements=user.entitlements,
                active=user.active,
            )
    for sp in spec.service_principals:
        with _at(f"service_principals[{sp.application_id}]"):
            state.directory.add_service_principal(
                sp.application_id, sp.display_name, entitlements=sp.entitlements, active=sp.active
            )
    for group in spec.groups:
        with _at(f"groups[{group.name}]"):
            state.directory.add_group(group.name, entitlements=group.entitlements, account=group.account)
    for group in spec.groups:
        for member in group.members:
            with _at(f"groups[{group.name}].members"):
                state.directory.add_group_member(group.name, member)
    state.directory.add_builtin_groups(spec.entitlement_model)
    state.directory.lists_implicit_users_membership = spec.scim_lists_users_group


def _metastore_admin(spec: ScenarioSpec) -> str:
    return spec.metastore.owner if spec.metastore is not None else "admins"


def _build_catalogs(state: WorkspaceState, spec: ScenarioSpec) -> None:
    for c in spec.catalogs:
        where = f"catalogs[{c.name}]"
        with _at(where):
            state.catalog.add_catalog(
                c.name,
                # the creator owns what it creates ("The principal that creates an object becomes its initial
                # owner", docs: manage-ownership): a catalog without `owner` was created by the metastore admin; a
                # schema or table without one by its parent's owner (Catalog.add_schema / add_table)
                owner=c.owner if c.owner is not None else _metastore_admin(spec),
                storage_location=c.storage_location,
                catalog_type=c.catalog_type,
                isolation_mode=c.isolation_mode,
                comment=c.comment,
            )
        _grant_all(state, "CATALOG", c.name, c.grants, where)
        for s in c.schemas:
            schema_name, swhere = f"{c.name}.{s.name}", f"{where}.schemas[{s.name}]"
            with _at(swhere):
                state.catalog.add_schema(
                    schema_name, owner=s.owner, storage_location=s.storage_location, comment=s.comment
                )
            _grant_all(state, "SCHEMA", schema_name, s.grants, swhere)
            for t in s.tables:
                table_name, twhere = f"{schema_name}.{t.name}", f"{swhere}.tables[{t.name}]"
                with _at(twhere):
                    state.catalog.add_table(
                        table_name,
                        owner=t.owner,
                        table_type=t.table_type,
                        columns=[Column(n, ty) for n, ty in t.columns.items()],
                        storage_location=t.storage_location,
                        view_definition=t.view_definition,
                    )
                _grant_all(state, "TABLE", table_name, t.grants, twhere)


def _build_storage(state: WorkspaceState, spec: ScenarioSpec) -> None:
    for cred in spec.storage_credentials:
        where = f"storage_credentials[{cred.name}]"
        with _at(where):
            state.credentials.add_storage_credential(
                StorageCredential(
                    cred.name,
                    "",
                    cred.owner,
                    cred.role_arn,
                    cred.external_id,
                    cred.unity_catalog_iam_arn,
                    cred.read_only,
                )
            )
        _grant_all(state, "STORAGE_CREDENTIAL", cred.name, cred.grants, where)
    for loc in spec.external_locations:
        where = f"external_locations[{loc.name}]"
        with _at(where):
            state.credentials.add_external_location(
                ExternalLocation(loc.name, loc.url, loc.credential, "", loc.owner, loc.read_only)
            )
        _grant_all(state, "EXTERNAL_LOCATION", loc.name, loc.grants, where)
    for connection in spec.connections:
        where = f"connections[{connection.name}]"
        with _at(where):
            owner = connection.owner or (spec.metastore.owner if spec.metastore else None)  # the creator owns it
            state.credentials.add_connection(Connection(connection.name, owner, connection.connection_type))
        _grant_all(state, "CONNECTION", connection.name, connection.grants, where)


def _acl(state: WorkspaceState, entries: dict[str, str], where: str) -> tuple[AclEntry, ...]:
    for principal in entries:
        if not state.directory.principal_exists(principal):
            raise ScenarioError(f"{where}: unknown principal {principal!r}")
    return tuple(AclEntry(p, level.upper()) for p, level in entries.items())


def _build_workspace(state: WorkspaceState, spec: ScenarioSpec, now: datetime) -> None:
    for w in spec.warehouses:
        acl = _acl(state, w.permissions, f"warehouses[{w.id}].permissions")
        state.compute.add_warehouse(
            Warehouse(
                w.id,
                w.name,
                w.state,
                w.auto_start,
                w.cluster_size,
                w.warehouse_type,
                w.enable_serverless_compute,
                w.min_num_clusters,
                w.max_num_clusters,
                w.auto_stop_mins,
                creator_name=w.creator_name,
                acl=acl,
            )
        )
    state.credentials.token_acl = _acl(state, spec.workspace.token_permissions, "workspace.token_permissions")
    state.workspace_conf.update(spec.workspace.conf)
    for i, t in enumerate(spec.tokens):
        with _at(f"tokens[{i}]"):
            state.credentials.add_token(
                t.owner,
                t.value.get_secret_value(),
                comment=t.comment,
                expiry_time=_days(now, t.expires_in_days),
                creation_time=now - timedelta(days=t.created_days_ago),
            )
    for i, secret in enumerate(spec.oauth_secrets):
        with _at(f"oauth_secrets[{i}]"):
            state.credentials.add_oauth_secret(
                secret.owner,
                secret.value.get_secret_value(),
                expire_time=_days(now, secret.expires_in_days),
                status=secret.status,
            )


def _check_auditor(spec: ScenarioSpec) -> None:
    auditor = spec.auditor
    if not any(t.owner == auditor.principal and t.value == auditor.token for t in spec.tokens):
        raise ScenarioError("auditor.token: not one of the auditor principal's `tokens`")
    if not any(s.owner == auditor.principal and s.value == auditor.client_secret for s in spec.oauth_secrets):
        raise ScenarioError("auditor.client_secret: not one of the auditor principal's `oauth_secrets`")


def build_state(spec: ScenarioSpec, now: datetime) -> WorkspaceState:
    """A fresh `WorkspaceState` holding everything the scenario describes (and its generated metastore)."""
    ws = spec.workspace
    state = WorkspaceState(
        workspace_id=ws.workspace_id,
        account_id=ws.account_id,
        now=now,
        oauth_token_lifetime_seconds=ws.oauth_token_lifetime_seconds,
        workspace_id_header=ws.workspace_id_header,
    )
    if spec.metastore is not None:
        m = spec.metastore
        state.catalog.metastore = Metastore(
            m.metastore_id,
            m.name,
            m.cloud,
            m.region,
            m.owner,
            m.privilege_model_version,
            m.storage_root,
            m.default_catalog_name,
            int(now.timestamp() * 1000),
        )
    _build_principals(state, spec)
    _build_catalogs(state, spec)
    _build_storage(state, spec)
    if spec.metastore is not None:
        _grant_all(state, "METASTORE", spec.metastore.metastore_id, spec.metastore.grants, "metastore")
        state.catalog.dropped_privilege_views = frozenset(v.lower() for v in spec.metastore.missing_privilege_views)
        state.catalog.hides_objects = spec.metastore.hides_objects
    _build_workspace(state, spec, now)
    for name in spec.deleted_principals:
        with _at(f"deleted_principals[{name}]"):
            state.directory.delete_principal(name)
    _check_auditor(spec)
    if spec.generate is not None:
        try:
            shape = MetastoreShape.from_dict(spec.generate)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"generate: {exc}") from exc
        with _at("generate"):
            populate(state, shape)
    return state
