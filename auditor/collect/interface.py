"""What every collector shares: read failures as types, and the sink that turns reads into snapshot facts.

A collector never returns "nothing" for a read that went wrong. It raises a `ReadFailure` (NOT_VISIBLE or
FAILED, with a reason), or it commits the facts it read together with a READ status for the scope it
covered (`FactSink.commit`). A scope that is committed READ without facts means "read and absent".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.progress import CollectionProgress, NoProgress
from auditor.model.facts import (
    FactFamily,
    Grant,
    Membership,
    MetastoreAssignment,
    Principal,
    ReadState,
    ReadStatus,
    securable_key,
)

WATCH_SCOPE_PREFIX = "watch:"
GLOBAL_SCOPE = "*"

_STATE_SEVERITY = {ReadState.READ: 0, ReadState.NOT_VISIBLE: 1, ReadState.FAILED: 2}


class CollectError(Exception):
    """Base of every error the collectors raise on purpose."""


class ReadFailure(CollectError):
    """A read that produced no trustworthy facts. Its reason is shown to users: it never holds a secret."""

    state: ReadState = ReadState.FAILED

    def __init__(self, reason: str, *, api_family: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.api_family = api_family

    def describe(self, identity: str) -> str:
        """The reason recorded in the snapshot (``identity``: who the auditor turned out to be)."""
        return self.reason


class NotVisible(ReadFailure):
    """The auditor's identity may not see the object (HTTP 403, PERMISSION_DENIED, AccessDenied).

    The reason names the identity (``not visible to <identity> (<detail>)``). Databricks reads leave
    ``identity`` unset: it is filled in when the snapshot is built, once SCIM ``Me`` has answered, so
    every reason of a cycle names the auditor the same way whichever read finished first.
    """

    state = ReadState.NOT_VISIBLE

    def __init__(self, detail: str, *, identity: str | None = None, api_family: str | None = None):
        super().__init__(f"not visible to {identity or 'the auditor'} ({detail})", api_family=api_family)
        self.detail = detail
        self.identity = identity

    def describe(self, identity: str) -> str:
        return f"not visible to {self.identity or identity} ({self.detail})"


class ReadFailed(ReadFailure):
    """The read was attempted and failed: timeout, 5xx after retries, deadline, bad document, ..."""

    state = ReadState.FAILED


class ObjectNotFound(CollectError):
    """The object does not exist (HTTP 404 and equivalents): a successful read of its absence."""


def as_read_failure(exc: BaseException) -> ReadFailure:
    """Any exception as a read failure; an unexpected one is named by type only, never by its text."""
    if isinstance(exc, ReadFailure):
        return exc
    return ReadFailed(f"unexpected error: {type(exc).__name__}")


def watch_scope(catalog: str) -> str:
    """The GRANTS scope that covers every grant inside a watched catalog."""
    return f"{WATCH_SCOPE_PREFIX}{catalog}"


def principal_scope(principal: str) -> str:
    """The GRANTS scope that covers every direct grant to a principal, anywhere in the metastore."""
    return f"principal:{principal}"


_READ: ReadFailure | None = None


@dataclass
class _Collected:
    """Everything committed so far; guarded by `FactSink._lock`. A status is None (READ) or its failure."""

    statuses: dict[tuple[FactFamily, str], ReadFailure | None] = field(default_factory=dict)
    facts: dict[str, list[Any]] = field(default_factory=dict)
    metastore: MetastoreAssignment | None = None
    workspace_conf: dict[str, str | None] = field(default_factory=dict)
    auditor_identity: str | None = None


_FACT_FIELDS = (
    "securables",
    "grants",
    "principals",
    "memberships",
    "warehouses",
    "tokens",
    "token_permissions",
    "oauth_secrets",
    "storage_credentials",
    "external_locations",
    "trust_policies",
)


class FactSink:
    """Thread-safe accumulator of read statuses and facts for one collection cycle.

    Collectors commit a status and the facts behind it in one call, so a scope is never READ with half
    its facts. When a scope is recorded twice the worse state wins (FAILED over NOT_VISIBLE over READ).
    Once `seal`ed (the cycle is over) the sink ignores late commits from reads that were abandoned, and
    pending scopes without a status become FAILED.
    """

    def __init__(self, progress: CollectionProgress | None = None) -> None:
        self._lock = threading.Lock()
        self._sealed = False
        self._data = _Collected()
        self._progress = progress or NoProgress()

    def commit(self, family: FactFamily, scope: str = GLOBAL_SCOPE, **facts: Iterable[Any]) -> None:
        """Record ``family``/``scope`` as READ together with the facts read for it.

        ``facts`` are `Snapshot` fact fields (``grants=[...]``, ``securables=[...]``, ...).
        """
        self._commit(family, scope, facts)

    def add_facts(self, **facts: Iterable[Any]) -> None:
        """Add facts whose read statuses were recorded separately (e.g. a warehouse and its ACL)."""
        self._commit(None, GLOBAL_SCOPE, facts)

    def _commit(self, family: FactFamily | None, scope: str, facts: dict[str, Iterable[Any]]) -> None:
        unknown = set(facts) - set(_FACT_FIELDS)
        if unknown:
            raise TypeError(f"not snapshot facts: {sorted(unknown)}")
        with self._lock:
            if self._sealed:
                return
            for name, values in facts.items():
                self._data.facts.setdefault(name, []).extend(values)
            if family is not None:
                self._record(family, scope, _READ)

    def commit_metastore(self, metastore: MetastoreAssignment | None) -> None:
        """Record the metastore assignment (``None``: no metastore assigned) as READ."""
        with self._lock:
            if not self._sealed:
                self._data.metastore = metastore
                self._record(FactFamily.METASTORE, GLOBAL_SCOPE, _READ)

    def commit_workspace_conf(self, values: dict[str, str | None]) -> None:
        """Record the workspace-conf values read (``None``: key not set) as READ."""
        with self._lock:
            if not self._sealed:
                self._data.workspace_conf.update(values)
                self._record(FactFamily.WORKSPACE_CONF, GLOBAL_SCOPE, _READ)

    def commit_identity(
        self, identity: str, principals: Iterable[Principal], memberships: Iterable[Membership]
    ) -> None:
        """Record the auditor's own identity (itself, its groups, its memberships) as READ."""
        with self._lock:
            if not self._sealed:
                self._data.auditor_identity = identity
                self._data.facts.setdefault("principals", []).extend(principals)
                self._data.facts.setdefault("memberships", []).extend(memberships)
                self._record(FactFamily.IDENTITY, GLOBAL_SCOPE, _READ)

    def fail(self, family: FactFamily, scope: str, failure: ReadFailure) -> None:
        """Record that ``family``/``scope`` could not be read, and why."""
        with self._lock:
            if not self._sealed:
                self._record(family, scope, failure)

    def _record(self, family: FactFamily, scope: str, failure: ReadFailure | None) -> None:
        key = (family, scope)
        first = key not in self._data.statuses
        if first or _severity(failure) > _severity(self._data.statuses[key]):
            self._data.statuses[key] = failure
        if first:
            self._progress.recorded(family, scope, ReadState.READ if failure is None else failure.state)

    def recorded(self, family: FactFamily, scope: str) -> bool:
        """Whether a status was recorded for the scope."""
        with self._lock:
            return (family, scope) in self._data.statuses

    def seal(self, pending: Iterable[tuple[FactFamily, str]], failure: ReadFailure) -> None:
        """Stop accepting commits; every ``pending`` scope without a status gets ``failure``."""
        with self._lock:
            for family, scope in pending:
                if (family, scope) not in self._data.statuses:
                    self._record(family, scope, failure)
            self._sealed = True

    def failures(self) -> list[tuple[FactFamily, ReadFailure]]:
        """Every scope recorded as not read, with its failure."""
        with self._lock:
            return [(family, f) for (family, _), f in self._data.statuses.items() if f is not None]

    def snapshot_fields(self, identity: str) -> dict[str, Any]:
        """The collected facts as `Snapshot` keyword arguments (deduplicated, in a stable order).

        ``identity`` names the auditor in "not visible to ..." reasons.
        """
        with self._lock:
            fields: dict[str, Any] = {name: _dedupe(name, self._data.facts.get(name, [])) for name in _FACT_FIELDS}
            statuses = [
                ReadStatus(
                    family=family,
                    scope=scope,
                    state=ReadState.READ if failure is None else failure.state,
                    reason=None if failure is None else failure.describe(identity),
                )
                for (family, scope), failure in self._data.statuses.items()
            ]
            fields["reads"] = tuple(sorted(statuses, key=lambda s: (s.family.value, s.scope)))
            fields["metastore"] = self._data.metastore
            fields["workspace_conf"] = dict(sorted(self._data.workspace_conf.items()))
            fields["auditor_identity"] = self._data.auditor_identity
            return fields


def _severity(failure: ReadFailure | None) -> int:
    return _STATE_SEVERITY[ReadState.READ if failure is None else failure.state]


def _identity_key(name: str, value: Any) -> Any:
    if name == "securables":
        return value.key.lower()
    if name == "principals":
        return value.name.lower()
    if name == "warehouses":
        return value.id
    if name == "storage_credentials" or name == "external_locations":
        return value.name
    if name == "trust_policies":
        return value.role_arn
    if name == "tokens":
        return value.token_id
    if name == "grants":
        return grant_key(value)
    return value


def _dedupe(name: str, values: list[Any]) -> tuple[Any, ...]:
    """One fact per identity (the first committed), in a stable order whatever order reads finished in."""
    seen: dict[Any, Any] = {}
    for value in values:
        seen.setdefault(_identity_key(name, value), value)
    return tuple(sorted(seen.values(), key=lambda value: _sort_key(name, value)))


def _sort_key(name: str, value: Any) -> tuple[str, ...]:
    if name == "grants":
        return (value.securable_type.value, value.securable_name.lower(), value.principal, value.privilege)
    if name == "memberships":
        return (value.member.lower(), value.group.lower())
    if name == "token_permissions":
        return (value.principal.lower(), value.permission_level, str(value.inherited_from))
    if name == "oauth_secrets":
        return (value.application_id, value.secret_id)
    identity = _identity_key(name, value)
    return (identity,) if isinstance(identity, str) else (str(identity),)


def grant_key(grant: Grant) -> tuple[str, str, str, bool]:
    """Grants are the same grant whatever surface reported them (SQL, REST, information_schema); a DENY of
    the same privilege is a different fact."""
    return (
        securable_key(grant.securable_type, grant.securable_name).lower(),
        grant.principal,
        grant.privilege,
        grant.denied,
    )
