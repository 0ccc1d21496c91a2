"""Pure comparison of two snapshots' drift facts into readable changes.

Only facts readable in BOTH snapshots are compared: a scope that one side could not read yields no
change, whatever the other side holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from auditor.drift.facts import DriftFact, FactCategory, FactView, extract
from auditor.model.facts import Snapshot
from auditor.model.findings import AuditedBinding


class ChangeKind(StrEnum):
    GRANT_ADDED = "grant_added"
    GRANT_REMOVED = "grant_removed"
    WAREHOUSE_ACL_CHANGED = "warehouse_acl_changed"
    ENTITLEMENT_CHANGED = "entitlement_changed"
    MEMBERSHIP_CHANGED = "membership_changed"
    TRUST_POLICY_CHANGED = "trust_policy_changed"
    CREDENTIAL_CHANGED = "credential_changed"
    EXPOSURE = "exposure"  # a grant in a watched catalog to a principal that is not a configured one


CHANGE_KINDS: tuple[ChangeKind, ...] = tuple(ChangeKind)

_KIND_OF_CATEGORY: dict[FactCategory, ChangeKind] = {
    FactCategory.WAREHOUSE_ACL: ChangeKind.WAREHOUSE_ACL_CHANGED,
    FactCategory.ENTITLEMENT: ChangeKind.ENTITLEMENT_CHANGED,
    FactCategory.MEMBERSHIP: ChangeKind.MEMBERSHIP_CHANGED,
    FactCategory.TRUST_POLICY: ChangeKind.TRUST_POLICY_CHANGED,
    FactCategory.TOKEN: ChangeKind.CREDENTIAL_CHANGED,
    FactCategory.OAUTH_SECRET: ChangeKind.CREDENTIAL_CHANGED,
}


class Change(BaseModel):
    """What changed on one subject for one principal: who gained or lost what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChangeKind
    subject: str  # securable key, warehouse:<id>, group:<name>, principal:<name>, role:<arn>,
    # credential:pat/<token id>, credential:oauth/<secret id> (never 'token:...': log redaction eats it)
    principal: str = ""
    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Stable identity of this change (same change, same key)."""
        raw = "\x1f".join((self.kind.value, self.subject, self.principal, *self.gained, "\x1e", *self.lost))
        return hashlib.sha256(raw.encode()).hexdigest()[:20]

    def describe(self) -> str:
        """One line for humans, e.g. ``grant_removed CATALOG:x: sp-1 lost ALL_PRIVILEGES``."""
        who = self.principal or "(policy)"
        parts = []
        if self.gained:
            parts.append(f"gained {', '.join(self.gained)}")
        if self.lost:
            parts.append(f"lost {', '.join(self.lost)}")
        return f"{self.kind.value} {self.subject}: {who} {'; '.join(parts)}"


def _change_kind(fact: DriftFact, added: bool) -> ChangeKind:
    if fact.category is FactCategory.GRANT:
        if not added:
            return ChangeKind.GRANT_REMOVED
        return ChangeKind.EXPOSURE if fact.exposure else ChangeKind.GRANT_ADDED
    return _KIND_OF_CATEGORY[fact.category]


def group_changes(differences: Iterable[tuple[DriftFact, bool]]) -> list[Change]:
    """Group fact-level differences (fact, added?) into one `Change` per kind, subject and principal."""
    gained: dict[tuple[ChangeKind, str, str], set[str]] = {}
    lost: dict[tuple[ChangeKind, str, str], set[str]] = {}
    for fact, added in differences:
        group = (_change_kind(fact, added), fact.subject, fact.principal)
        gained.setdefault(group, set())
        lost.setdefault(group, set())
        (gained if added else lost)[group].add(fact.value)
    changes = []
    for group, gained_values in gained.items():
        kind, subject, principal = group
        changes.append(
            Change(
                kind=kind,
                subject=subject,
                principal=principal,
                gained=tuple(sorted(gained_values)),
                lost=tuple(sorted(lost[group])),
            )
        )
    return sorted(changes, key=lambda c: (c.kind.value, c.subject, c.principal, c.gained, c.lost))


def fact_differences(old: FactView, new: FactView) -> list[tuple[DriftFact, bool]]:
    """Facts readable on both sides that one side lacks: (fact, True) added, (fact, False) removed."""
    differences: list[tuple[DriftFact, bool]] = []
    for key, fact in new.facts.items():
        if key not in old.facts and new.reads.is_read(fact) and old.reads.is_read(fact):
            differences.append((fact, True))
    for key, fact in old.facts.items():
        if key not in new.facts and old.reads.is_read(fact) and new.reads.is_read(fact):
            differences.append((fact, False))
    return differences


def diff(old: Snapshot | FactView, new: Snapshot | FactView, audited: Sequence[AuditedBinding] = ()) -> list[Change]:
    """The changes from ``old`` to ``new`` over the watched facts readable in both.

    ``audited`` (`Report.audited` of the newer evaluation) says what the integrations audit, on both sides.
    """
    old_view = old if isinstance(old, FactView) else extract(old, audited)
    new_view = new if isinstance(new, FactView) else extract(new, audited)
    return group_changes(fact_differences(old_view, new_view))
