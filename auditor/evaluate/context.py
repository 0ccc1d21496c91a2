"""What a check kind sees while it evaluates: the snapshot, the clock, the privilege model and
what every bound rule of the target requires (for least-privilege checks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from auditor.evaluate.registry import Outcome
from auditor.model.facts import (
    Binding,
    FactFamily,
    PrincipalKind,
    ReadState,
    SecurableType,
    Snapshot,
)
from auditor.privileges.databricks import PrivilegeModel
from auditor.privileges.names import lineage, principal_kind_of


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


@dataclass
class EvalContext:
    snapshot: Snapshot
    now: datetime
    binding: Binding | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    required_grants: tuple[RequiredGrant, ...] = ()
    required_acls: tuple[RequiredAcl, ...] = ()
    bound_principals: tuple[str, ...] = ()  # every principal any binding of the target names

    @cached_property
    def privileges(self) -> PrivilegeModel:
        return PrivilegeModel(self.snapshot)

    # ---- read status helpers: each returns an `error` outcome when a needed fact is unread ----

    def unread(self, family: FactFamily, scopes: Iterable[str | None], subject: str) -> Outcome | None:
        status = self.snapshot.unread(family, scopes)
        if status is None:
            return None
        return Outcome.unread(subject, status, identity=self.snapshot.auditor_identity)

    def grants_unread(self, securable_type: SecurableType, full_name: str, subject: str) -> Outcome | None:
        """Grants on the securable and all its ancestors, plus existence, must have been read."""
        keys = [f"{t.value}:{n}" for t, n in lineage(securable_type, full_name)]
        family, scope = _EXISTENCE_FAMILY.get(securable_type, FactFamily.SECURABLES), keys[0]
        if family is not FactFamily.SECURABLES:
            scope = full_name
        return self.unread(family, [scope], subject) or self.unread(FactFamily.GRANTS, keys, subject)

    def exists(self, securable_type: SecurableType, full_name: str) -> bool:
        if securable_type is SecurableType.STORAGE_CREDENTIAL:
            return self.snapshot.storage_credential(full_name) is not None
        if securable_type is SecurableType.EXTERNAL_LOCATION:
            return self.snapshot.external_location(full_name) is not None
        return self.snapshot.securable(securable_type, full_name) is not None

    def memberships_read(self, principal: str) -> bool:
        status = self.snapshot.read_status(FactFamily.PRINCIPALS, principal)
        return status.state is ReadState.READ

    def principal_kind(self, principal: str) -> PrincipalKind:
        known = self.snapshot.principal(principal)
        if known is not None:
            return known.kind
        return principal_kind_of(principal)


_EXISTENCE_FAMILY = {
    SecurableType.STORAGE_CREDENTIAL: FactFamily.STORAGE_CREDENTIALS,
    SecurableType.EXTERNAL_LOCATION: FactFamily.EXTERNAL_LOCATIONS,
}
