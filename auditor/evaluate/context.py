"""What a check kind sees while it evaluates: the snapshot, the clock, the privilege model and
what every bound rule of the target requires (for least-privilege checks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, ParamSpec

from auditor.evaluate.registry import FactScope, Outcome, unread_reason
from auditor.model.facts import (
    AclEntry,
    Binding,
    ExternalLocation,
    FactFamily,
    Grant,
    MetastoreAssignment,
    OAuthSecret,
    Principal,
    PrincipalKind,
    ReadState,
    ReadStatus,
    Securable,
    SecurableType,
    Snapshot,
    StorageCredential,
    Token,
    TrustPolicy,
    Warehouse,
    securable_key,
)
from auditor.model.findings import Status
from auditor.privileges.databricks import Explanation, Membership, PrivilegeModel
from auditor.privileges.names import catalog_of, lineage, principal_kind_of

P = ParamSpec("P")


@dataclass(frozen=True)
class RequiredGrant:
    """A privilege some bound rule requires: the least-privilege checks allow exactly these."""

    principal: str
    securable_type: SecurableType
    full_name: str
    privileges: frozenset[str]  # as the rule states them (legacy or Unity Catalog names)


@dataclass(frozen=True)
class RequiredAcl:
    """A workspace-object permission some bound rule requires (warehouse, token usage)."""

    principal: str
    object_type: str  # "warehouse" | "tokens"
    object_id: str
    level: str


class FactReader:
    """Lookups over the snapshot, each noting the read scope it consulted.

    This is how "a verdict rests only on facts that were read" is enforced by structure: a kind that
    looks a fact up here cannot forget to say it relied on it. `EvalContext.facts` notes into the
    outcome being judged; `EvalContext.seen` notes nothing, for claims that rest on a fact being
    *present* (a grant that was seen exists, however partial the sweep that found it).
    """

    def __init__(self, model: PrivilegeModel, note: Callable[[FactScope], None]) -> None:
        self.snapshot = model.snapshot
        self.privileges = model
        self._note = note

    def read(self, family: FactFamily, scope: str | None = None) -> None:
        """Declare a read the verdict rests on without looking anything up."""
        self._note(FactScope(family, scope))

    # ---- Unity Catalog -------------------------------------------------------------------------

    def metastore(self) -> MetastoreAssignment | None:
        self.read(FactFamily.METASTORE)
        return self.snapshot.metastore

    def securable(self, securable_type: SecurableType, full_name: str) -> Securable | None:
        self.read(FactFamily.SECURABLES, securable_key(securable_type, full_name))
        return self.snapshot.securable(securable_type, full_name)

    def securables_in(self, catalog: str) -> list[Securable]:
        """The securables inside a catalog (not the catalog itself) that the snapshot holds, each noted as read.

        Only those some rule planned are collected: this says what is known to be there, never that nothing else is.
        """
        wanted = catalog.lower()
        found = [
            s
            for s in self.snapshot.securables
            if s.type is not SecurableType.CATALOG and (catalog_of(s.type, s.full_name) or "").lower() == wanted
        ]
        for securable in found:
            self.read(FactFamily.SECURABLES, securable_key(securable.type, securable.full_name))
        return found

    def storage_credential(self, name: str) -> StorageCredential | None:
        self.read(FactFamily.STORAGE_CREDENTIALS, name)
        return self.snapshot.storage_credential(name)

    def external_location(self, name: str) -> ExternalLocation | None:
        self.read(FactFamily.EXTERNAL_LOCATIONS, name)
        return self.snapshot.external_location(name)

    def exists(self, securable_type: SecurableType, full_name: str) -> bool:
        if securable_type is SecurableType.STORAGE_CREDENTIAL:
            return self.storage_credential(full_name) is not None
        if securable_type is SecurableType.EXTERNAL_LOCATION:
            return self.external_location(full_name) is not None
        return self.securable(securable_type, full_name) is not None

    def missing(
        self, principal: str, privileges: Sequence[str], securable_type: SecurableType, full_name: str
    ) -> tuple[list[str], list[Explanation]]:
        """The privileges the principal lacks on the securable, and how it holds the others.

        Rests on the grants on the securable and its ancestors, and on the principal's groups when
        a group was needed: for a privilege found through one, or to say one is missing.
        """
        for kind, name in lineage(securable_type, full_name):
            self.read(FactFamily.GRANTS, securable_key(kind, name))
        missing, held = self.privileges.missing(principal, privileges, securable_type, full_name)
        if missing or any(e.via is not None for e in held):
            self.read(FactFamily.PRINCIPALS, principal)
        return missing, held

    def denials(
        self, principal: str, privileges: Sequence[str], securable_type: SecurableType, full_name: str
    ) -> list[Grant]:
        """The hive_metastore DENYs refusing the principal any of the privileges (read by `missing` already)."""
        found = (self.privileges.denial(principal, p, securable_type, full_name) for p in privileges)
        return list(dict.fromkeys(d for d in found if d is not None))

    def grants_in_catalog(self, catalog: str) -> list[Grant]:
        """Every grant on the catalog or inside it (the sweep of a watched catalog)."""
        self.read(FactFamily.GRANTS, f"watch:{catalog}")
        return self.privileges.grants_in_catalog(catalog)

    def grants_to(self, principal: str) -> list[Grant]:
        """Every grant made to the principal itself, wherever it is (the principal's grant sweep)."""
        self.read(FactFamily.GRANTS, f"principal:{principal}")
        return self.privileges.grants_to(principal)

    # ---- identities ----------------------------------------------------------------------------

    def principal(self, name: str) -> Principal | None:
        self.read(FactFamily.PRINCIPALS, name)
        return self.snapshot.principal(name)

    def groups_of(self, principal: str) -> dict[str, Membership]:
        self.read(FactFamily.PRINCIPALS, principal)
        return self.privileges.groups_of(principal)

    def entitlements_of(self, name: str) -> tuple[str, ...]:
        self.read(FactFamily.ENTITLEMENTS, name)
        found = self.snapshot.principal(name)
        return found.entitlements if found is not None else ()

    # ---- workspace objects ---------------------------------------------------------------------

    def warehouse(self, warehouse_id: str) -> Warehouse | None:
        self.read(FactFamily.WAREHOUSES, warehouse_id)
        return self.snapshot.warehouse(warehouse_id)

    def warehouse_acl(self, warehouse: Warehouse) -> tuple[AclEntry, ...]:
        self.read(FactFamily.WAREHOUSE_ACLS, warehouse.id)
        return warehouse.acl

    def token_permissions(self) -> tuple[AclEntry, ...]:
        self.read(FactFamily.TOKEN_PERMISSIONS)
        return self.snapshot.token_permissions

    def tokens_of(self, owner: str) -> list[Token]:
        self.read(FactFamily.TOKENS)
        return [t for t in self.snapshot.tokens if t.owner.lower() == owner.lower()]

    def oauth_secrets_of(self, application_id: str) -> list[OAuthSecret]:
        self.read(FactFamily.OAUTH_SECRETS, application_id)
        return [s for s in self.snapshot.oauth_secrets if s.application_id.lower() == application_id.lower()]

    def workspace_conf(self, key: str) -> str | None:
        self.read(FactFamily.WORKSPACE_CONF)
        return self.snapshot.workspace_conf.get(key)

    def trust_policy(self, role_arn: str) -> TrustPolicy | None:
        self.read(FactFamily.TRUST_POLICIES, role_arn)
        return self.snapshot.trust_policy(role_arn)


@dataclass
class EvalContext:
    """One bound rule's view of the target while it evaluates.

    ``facts`` notes every scope a lookup consults into the innermost open judgement (`judge`), or
    into the rule as a whole; the engine then holds each outcome to the reads it rested on.
    """

    snapshot: Snapshot
    now: datetime
    binding: Binding | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    required_grants: tuple[RequiredGrant, ...] = ()
    required_acls: tuple[RequiredAcl, ...] = ()
    bound_principals: tuple[str, ...] = ()  # every principal any binding of the target names
    model: PrivilegeModel | None = None  # shared by the rules of one evaluation; built here when absent
    _frames: list[dict[FactScope, None]] = field(default_factory=lambda: [{}], init=False, repr=False)

    @cached_property
    def _model(self) -> PrivilegeModel:
        return self.model if self.model is not None else PrivilegeModel(self.snapshot)

    @cached_property
    def facts(self) -> FactReader:
        return FactReader(self._model, self._note)

    @cached_property
    def seen(self) -> FactReader:
        """Lookups that note nothing: for verdicts resting on a fact's presence, never its absence."""
        return FactReader(self._model, lambda scope: None)

    def _note(self, scope: FactScope) -> None:
        self._frames[-1][scope] = None

    def judge(self, evaluate: Callable[P, Outcome], *args: P.args, **kwargs: P.kwargs) -> Outcome:
        """Evaluate one subject: its outcome rests on what ``evaluate`` looked up, not on its neighbours'."""
        self._frames.append({})
        try:
            outcome = evaluate(*args, **kwargs)
        finally:
            frame = self._frames.pop()
        return outcome.relying_on(frame)

    def rule_scopes(self) -> tuple[FactScope, ...]:
        """What the rule looked up outside any `judge`: every one of its outcomes rests on it."""
        return tuple(self._frames[0])

    def first_unread(self, outcome: Outcome) -> ReadStatus | None:
        for scope in outcome.relied_on:
            status = self.snapshot.read_status(scope.family, scope.scope)
            if status.state is not ReadState.READ:
                return status
        return None

    def settle(self, outcome: Outcome) -> Outcome:
        """The verdict as the engine will give it: ``error`` (same subject) when it rests on an unread fact."""
        if outcome.status is Status.ERROR:
            return outcome
        status = self.first_unread(outcome)
        if status is None:
            return outcome
        return Outcome(
            Status.ERROR,
            outcome.subject,
            unread_reason(status, identity=self.snapshot.auditor_identity),
            evidence=outcome.evidence,
            relied_on=outcome.relied_on,
        )

    def principal_kind(self, principal: str) -> PrincipalKind:
        """How to address the principal in a remediation (a guess is fine: it only shapes the proposal)."""
        known = self.snapshot.principal(principal)
        if known is not None:
            return known.kind
        return principal_kind_of(principal)
