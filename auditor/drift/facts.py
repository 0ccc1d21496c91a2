"""Drift facts: the watched part of a `Snapshot`, flattened into comparable, hashable facts.

A drift fact is one element of a set ("principal P holds SELECT on CATALOG:c", "warehouse W grants
CAN_USE to P", "role R trusts this canonical document"): a change between two snapshots is a fact
that is in one set and not in the other. Each fact names the fact family and the read scopes that
would have returned it, so that facts that could not be read are left out of both sides of every
comparison.

What is watched:
- grants on every securable in a watched catalog, on the securables the snapshot describes (the
  collection plan: what the bound rules reference, and their ancestors) and on the securables the
  integrations audit (`Report.audited`); and every grant to a watched principal (``watch.principals``
  and the principals the integrations audit), wherever it is;
- every warehouse ACL entry of every warehouse in the snapshot;
- group memberships whose member is watched or whose group (transitively) contains a watched
  principal, and the entitlements of watched principals and of those groups;
- every trust-policy document (canonical JSON);
- the tokens and OAuth secrets of watched principals (id, owner, status, expiry).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from auditor.model.facts import (
    FactFamily,
    Grant,
    ReadState,
    ReadStatus,
    SecurableType,
    Snapshot,
    securable_key,
)
from auditor.model.findings import AuditedBinding, audited_principals
from auditor.privileges.iam_policy import canonical_policy
from auditor.privileges.names import catalog_of

# The GRANTS scope of the bulk read of every grant inside a watched catalog (the collectors' and the
# rules' convention: `auditor.collect.interface.watch_scope`).
WATCH_SCOPE_PREFIX = "watch:"
PRINCIPAL_SCOPE_PREFIX = "principal:"  # GRANTS scope: every grant of one principal, wherever it is


class FactCategory(StrEnum):
    """What a drift fact is about; each maps onto one or two `ChangeKind`s."""

    GRANT = "grant"
    WAREHOUSE_ACL = "warehouse_acl"
    ENTITLEMENT = "entitlement"
    MEMBERSHIP = "membership"
    TRUST_POLICY = "trust_policy"
    TOKEN = "token"
    OAUTH_SECRET = "oauth_secret"


class DriftFact(BaseModel):
    """One watched fact. Two facts are the same fact when `key` is equal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: FactCategory
    subject: str  # securable key, warehouse id, group, principal, role ARN, credential id
    principal: str = ""  # who holds it ("" for trust policies)
    value: str  # the privilege, permission level, entitlement, document or credential state
    family: FactFamily
    scopes: tuple[str, ...] = ()  # the reads that would return it (any one READ suffices); else "*"
    exposure: bool = False  # a grant in a watched catalog to a principal that is not a configured one

    @property
    def key(self) -> str:
        return "\x1f".join((self.category.value, self.subject, self.principal, self.value))


class ReadIndex:
    """Answers "was this fact readable?" from a snapshot's read statuses.

    A fact lists the scopes whose reads would have returned it (a table's grants: the table's own
    key, and the bulk read of its watched catalog). When any of them is recorded, the fact is known
    if one of the recorded reads succeeded; when none is, the family's ``"*"`` status decides, and a
    family that was never recorded counts as not read (as in `Snapshot.read_status`).
    """

    def __init__(self, reads: Iterable[ReadStatus], unreadable: Iterable[tuple[FactFamily, str]] = ()):
        self._states: dict[tuple[FactFamily, str], ReadState] = {}
        for status in reads:
            # As in `Snapshot.read_status`: the first exact scope wins, the last family-wide one.
            if status.scope == "*":
                self._states[(status.family, "*")] = status.state
            else:
                self._states.setdefault((status.family, status.scope.lower()), status.state)
        for family, scope in unreadable:
            self._states[(family, scope.lower())] = ReadState.FAILED

    def reads_covering(self, family: FactFamily, scopes: Iterable[str]) -> list[str]:
        """The scopes (lower case) whose successful read vouches for a fact; empty: unknown."""
        recorded = [
            (scope.lower(), self._states[(family, scope.lower())])
            for scope in scopes
            if (family, scope.lower()) in self._states
        ]
        if recorded:
            return [scope for scope, state in recorded if state is ReadState.READ]
        return ["*"] if self._states.get((family, "*")) is ReadState.READ else []

    def is_read(self, fact: DriftFact) -> bool:
        return bool(self.reads_covering(fact.family, fact.scopes))

    def read_scopes(self) -> frozenset[str]:
        """Every recorded ``family/scope`` that was READ (``scope_id`` form)."""
        return frozenset(scope_id(f, s) for (f, s), state in self._states.items() if state is ReadState.READ)


def scope_id(family: FactFamily, scope: str) -> str:
    """A family/scope pair as one string (used to remember which scopes were ever read)."""
    return f"{family.value}/{scope.lower()}"


@dataclass(frozen=True)
class FactView:
    """The drift facts of one snapshot and what was readable in it."""

    target: str
    collected_at: datetime
    facts: Mapping[str, DriftFact]
    reads: ReadIndex
    watch_fingerprint: str = ""  # identifies what was watched (watch lists and bindings)

    def readable(self) -> dict[str, DriftFact]:
        """The facts whose scope was read in this snapshot."""
        return {key: fact for key, fact in self.facts.items() if self.reads.is_read(fact)}

    def read_scope_ids(self, fact: DriftFact) -> frozenset[str]:
        """The ``family/scope`` ids of the successful reads that vouch for ``fact``."""
        return frozenset(scope_id(fact.family, s) for s in self.reads.reads_covering(fact.family, fact.scopes))


def watched_principals(snapshot: Snapshot, audited: Sequence[AuditedBinding] = ()) -> frozenset[str]:
    """Configured principals: ``watch.principals`` plus every principal the integrations audit."""
    return frozenset(p.lower() for p in (*snapshot.watch.principals, *audited_principals(audited)))


def extract(snapshot: Snapshot, audited: Sequence[AuditedBinding] = ()) -> FactView:
    """The watched drift facts of ``snapshot``, keyed by `DriftFact.key`.

    ``audited`` is what the integrations audit, as the evaluation resolved it (`Report.audited`).
    """
    principals = watched_principals(snapshot, audited)
    unreadable: list[tuple[FactFamily, str]] = []
    facts: dict[str, DriftFact] = {}
    for fact in _all_facts(snapshot, audited, principals, unreadable):
        facts[fact.key] = fact
    return FactView(
        target=snapshot.target,
        collected_at=snapshot.collected_at,
        facts=facts,
        reads=ReadIndex(snapshot.reads, unreadable),
        watch_fingerprint=watch_fingerprint(snapshot, audited),
    )


def watch_fingerprint(snapshot: Snapshot, audited: Sequence[AuditedBinding] = ()) -> str:
    """A digest of what is watched: watched catalogs and principals, and the bindings."""
    described = {
        "catalogs": sorted(c.lower() for c in snapshot.watch.catalogs),
        "principals": sorted(watched_principals(snapshot, audited)),
        "bindings": sorted(b.model_dump_json() for b in snapshot.integrations),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def _all_facts(
    snapshot: Snapshot,
    audited: Sequence[AuditedBinding],
    principals: frozenset[str],
    unreadable: list[tuple[FactFamily, str]],
) -> Iterator[DriftFact]:
    yield from _grant_facts(snapshot, audited, principals)
    yield from _warehouse_acl_facts(snapshot)
    yield from _principal_facts(snapshot, principals)
    yield from _trust_policy_facts(snapshot, unreadable)
    yield from _credential_facts(snapshot, principals)


# ---- grants ------------------------------------------------------------------------------------


def _catalog_of(grant: Grant) -> str | None:
    catalog = catalog_of(grant.securable_type, grant.securable_name)
    return catalog.lower() if catalog is not None else None


def _grant_scopes(
    securable_type: SecurableType, full_name: str, catalog: str | None, principal: str | None
) -> tuple[str, ...]:
    """The reads that return the grant: the securable's own, the bulk read of its watched catalog,
    and the read of every grant of a watched principal (``principal:<name>``, the rules' scope)."""
    scopes = [securable_key(securable_type, full_name)]
    if catalog is not None:
        scopes.append(f"{WATCH_SCOPE_PREFIX}{catalog}")
    if principal is not None:
        scopes.append(f"{PRINCIPAL_SCOPE_PREFIX}{principal}")
    return tuple(scopes)


def _referenced_securables(snapshot: Snapshot, audited: Sequence[AuditedBinding]) -> frozenset[str]:
    keys = {s.key.lower() for s in snapshot.securables}
    keys.update(key.lower() for binding in audited for key in binding.securables)
    return frozenset(keys)


def _grant_facts(
    snapshot: Snapshot, audited: Sequence[AuditedBinding], principals: frozenset[str]
) -> Iterator[DriftFact]:
    watched_catalogs = {c.lower() for c in snapshot.watch.catalogs}
    referenced = _referenced_securables(snapshot, audited)
    for grant in snapshot.grants:
        key = securable_key(grant.securable_type, grant.securable_name.lower())
        in_watched_catalog = _catalog_of(grant) in watched_catalogs
        to_watched_principal = grant.principal.lower() in principals
        if not (in_watched_catalog or to_watched_principal or key.lower() in referenced):
            continue
        yield DriftFact(
            category=FactCategory.GRANT,
            subject=key,
            principal=grant.principal,
            value=f"DENY {grant.privilege}" if grant.denied else grant.privilege,
            family=FactFamily.GRANTS,
            scopes=_grant_scopes(
                grant.securable_type,
                grant.securable_name,
                _catalog_of(grant) if in_watched_catalog else None,
                grant.principal if to_watched_principal else None,
            ),
            exposure=in_watched_catalog and not to_watched_principal,
        )


# ---- warehouses, principals ----------------------------------------------------------------------


def _warehouse_acl_facts(snapshot: Snapshot) -> Iterator[DriftFact]:
    for warehouse in snapshot.warehouses:
        for entry in warehouse.acl:
            level = entry.permission_level
            if entry.inherited:
                level += f" (inherited from {entry.inherited_from or 'parent'})"
            yield DriftFact(
                category=FactCategory.WAREHOUSE_ACL,
                subject=f"warehouse:{warehouse.id}",
                principal=entry.principal,
                value=level,
                family=FactFamily.WAREHOUSE_ACLS,
                scopes=(warehouse.id,),
            )


def _relevant_groups(snapshot: Snapshot, principals: frozenset[str]) -> frozenset[str]:
    """Groups that contain a watched principal, directly or through nested groups."""
    parents: dict[str, set[str]] = {}
    for membership in snapshot.memberships:
        parents.setdefault(membership.member.lower(), set()).add(membership.group.lower())
    found: set[str] = set()
    frontier = list(principals)
    while frontier:
        for group in parents.get(frontier.pop(), ()):
            if group not in found:
                found.add(group)
                frontier.append(group)
    return frozenset(found)


def _principal_facts(snapshot: Snapshot, principals: frozenset[str]) -> Iterator[DriftFact]:
    groups = _relevant_groups(snapshot, principals)
    relevant = principals | groups
    for membership in snapshot.memberships:
        if membership.member.lower() in relevant or membership.group.lower() in groups:
            yield DriftFact(
                category=FactCategory.MEMBERSHIP,
                subject=f"group:{membership.group}",
                principal=membership.member,
                value="member",
                family=FactFamily.PRINCIPALS,
                scopes=(membership.member, membership.group),
            )
    for principal in snapshot.principals:
        if principal.name.lower() not in relevant:
            continue
        for entitlement in principal.entitlements:
            yield DriftFact(
                category=FactCategory.ENTITLEMENT,
                subject=f"principal:{principal.name}",
                principal=principal.name,
                value=entitlement,
                family=FactFamily.ENTITLEMENTS,
                scopes=(principal.name,),
            )


# ---- trust policies, credentials -----------------------------------------------------------------


def _trust_policy_facts(snapshot: Snapshot, unreadable: list[tuple[FactFamily, str]]) -> Iterator[DriftFact]:
    for policy in snapshot.trust_policies:
        if policy.document is None:
            # An undecodable document is unknown, not "no policy": it must not look like a removal.
            unreadable.append((FactFamily.TRUST_POLICIES, policy.role_arn))
            continue
        yield DriftFact(
            category=FactCategory.TRUST_POLICY,
            subject=f"role:{policy.role_arn}",
            value=canonical_policy(policy.document),
            family=FactFamily.TRUST_POLICIES,
            scopes=(policy.role_arn,),
        )


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "never"


def _credential_facts(snapshot: Snapshot, principals: frozenset[str]) -> Iterator[DriftFact]:
    for token in snapshot.tokens:
        if token.owner.lower() in principals:
            yield DriftFact(
                category=FactCategory.TOKEN,
                subject=f"credential:pat/{token.token_id}",
                principal=token.owner,
                value=f"token expires={_when(token.expiry_time)}",
                family=FactFamily.TOKENS,
            )
    for secret in snapshot.oauth_secrets:
        if secret.application_id.lower() in principals:
            yield DriftFact(
                category=FactCategory.OAUTH_SECRET,
                subject=f"credential:oauth/{secret.secret_id}",
                principal=secret.application_id,
                value=f"oauth secret status={secret.status} expires={_when(secret.expire_time)}",
                family=FactFamily.OAUTH_SECRETS,
                scopes=(secret.application_id,),
            )
