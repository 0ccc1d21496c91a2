"""One collection cycle: read what the plan needs from Databricks and AWS into an immutable `Snapshot`.

Every read is a task on a bounded pool (``databricks.max_concurrency`` workers). All tasks are submitted
at once, in dependency order; a task that needs another's result (the grants need the SQL decision, the
SQL decision needs the warehouse state, token owners need the principals) waits only for tasks submitted
before it, so the pool can never deadlock. Nothing waits for SCIM ``Me``: reasons name the auditor when
the snapshot is built.

The cycle ends when every task is done or at the deadline (``schedule.deadline_seconds`` less a small
margin for assembling the result), whichever comes first. Scopes without a status by then are FAILED
"deadline exceeded" and the reads still running are abandoned. A failed read leaves its scope FAILED or
NOT_VISIBLE, never an empty READ.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from auditor.collect.aws_trust import IamReader
from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.clients import Connections, RestClient
from auditor.collect.credentials import (
    read_oauth_secrets,
    read_token_permissions,
    read_tokens,
    read_workspace_conf,
)
from auditor.collect.grants import BulkVisibility, GrantReader
from auditor.collect.identities import ScimDirectory, read_me
from auditor.collect.interface import GLOBAL_SCOPE, FactSink, ReadFailed, ReadFailure, as_read_failure
from auditor.collect.progress import CollectionProgress, NoProgress
from auditor.collect.rest_grants import read_securable
from auditor.collect.runner import Memo, Runner, wait_until
from auditor.collect.scopes import ReadPlan, Scope
from auditor.collect.sqlconn import SqlSession, open_sql_session
from auditor.collect.storage import read_external_location, read_metastore, read_storage_credential
from auditor.collect.strategy import plan_sql, sql_warehouse_id, start_warehouse
from auditor.collect.warehouses import read_warehouse_acl, read_warehouse_info, warehouse_from
from auditor.heap import paused_cycle_collection
from auditor.model.facts import AclEntry, FactFamily, SecurableType, Snapshot, securable_key
from auditor.model.plan import CollectionPlan
from auditor.model.stats import CollectionStats
from auditor.settings import TargetSettings

log = structlog.get_logger(__name__)

F = FactFamily
API_FAMILY_OF: dict[FactFamily, str] = {
    F.IDENTITY: "scim",
    F.PRINCIPALS: "scim",
    F.ENTITLEMENTS: "scim",
    F.METASTORE: "unity-catalog",
    F.SECURABLES: "unity-catalog",
    F.GRANTS: "unity-catalog",
    F.STORAGE_CREDENTIALS: "unity-catalog",
    F.EXTERNAL_LOCATIONS: "unity-catalog",
    F.WAREHOUSES: "warehouses",
    F.WAREHOUSE_ACLS: "permissions",
    F.TOKEN_PERMISSIONS: "permissions",
    F.TOKENS: "tokens",
    F.OAUTH_SECRETS: "secrets",
    F.WORKSPACE_CONF: "workspace-conf",
    F.TRUST_POLICIES: "iam",
}
"""The API family a fact family is read from, for failures that do not say (e.g. a deadline)."""


@dataclass(frozen=True)
class CollectionResult:
    """What one cycle produced: the facts, and what reading them cost."""

    snapshot: Snapshot
    stats: CollectionStats


def collect_target(
    target: TargetSettings,
    plan: CollectionPlan,
    *,
    now: datetime | None = None,
    progress: CollectionProgress | None = None,
) -> CollectionResult:
    """Collect the facts ``plan`` needs from ``target`` within ``target.schedule.deadline_seconds``.

    ``progress`` hears of every planned read and of each status as it is recorded. Rows become hundreds of
    thousands of acyclic grants: the cyclic collector is paused meanwhile (at 100,000 tables its full walks
    took a quarter of a cycle, each holding the interpreter for up to a second, so `/metrics` waited on them).
    """
    with paused_cycle_collection():
        return _Cycle(target, plan, progress or NoProgress()).run(now or datetime.now(UTC))


def work_budget(deadline_seconds: float) -> float:
    """The share of a cycle's deadline spent on reads; the rest is margin to assemble the result."""
    return max(0.1, deadline_seconds - min(1.0, deadline_seconds * 0.1))


class _Cycle:
    """The state of one cycle. Worker tasks write into the sink and a few dicts; the caller reads them."""

    def __init__(self, target: TargetSettings, plan: CollectionPlan, progress: CollectionProgress) -> None:
        self.target = target
        self.reads = ReadPlan(plan)
        self.deadline = Deadline(work_budget(target.schedule.deadline_seconds))
        self.meter = CostMeter()
        self.progress = progress
        self.sink = FactSink(progress)
        self.connections = Connections(target, self.deadline, self.meter)
        self.iam = IamReader(target.aws, self.connections.policy, self.deadline, self.meter) if target.aws else None
        self.identity: str | None = None
        self.identity_names: frozenset[str] = frozenset()
        self.metastore_id: str | None = None
        self.sql: SqlSession | None = None
        self.sql_reason: str | None = None
        self._lock = threading.Lock()
        self._runner: Runner | None = None
        self._futures: list[Future[Any]] = []
        self._directory: ScimDirectory | None = None
        self._trust = Memo()
        self._warehouse_infos: dict[str, dict[str, Any]] = {}
        self._warehouse_acls: dict[str, list[AclEntry]] = {}
        self._credential_roles: set[str] = set()
        self._identity_future: Future[Any] | None = None
        self._visibility: BulkVisibility | None = None
        self._visibility_lock = threading.Lock()

    # ---- the cycle --------------------------------------------------------------------------------

    def run(self, collected_at: datetime) -> CollectionResult:
        self.progress.planned(self.reads.expected())
        with Runner(self.target.databricks.max_concurrency, name=f"collect-{self.target.name}") as runner:
            self._runner = runner
            self._submit_reads()
            finished = self._wait_all()
            self.meter.deadline_exceeded = not finished
            self._close_sql()
        seconds = f"{self.target.schedule.deadline_seconds:g}"
        failure = ReadFailed(
            f"deadline exceeded ({seconds}s) before this read finished" if not finished else "not collected"
        )
        with self._lock:
            infos, acls = dict(self._warehouse_infos), dict(self._warehouse_acls)
            pending = self.reads.expected() + [(F.TRUST_POLICIES, arn) for arn in sorted(self._credential_roles)]
        self.sink.add_facts(warehouses=[warehouse_from(info, acls.get(wid)) for wid, info in sorted(infos.items())])
        self.sink.seal(pending, failure)
        for family, failed in self.sink.failures():
            self.meter.error(failed.api_family or API_FAMILY_OF[family])
        fields = self.sink.snapshot_fields(self.identity or self.connections.configured_identity)
        if fields["auditor_identity"] is None:
            # an OAuth client is its own name (SCIM `Me` answers its application id): findings about the
            # auditor keep their subject when SCIM cannot be read. A PAT's owner is known only through SCIM.
            fields["auditor_identity"] = self.connections.oauth_client_id
        snapshot = Snapshot(
            target=self.target.name,
            collected_at=collected_at,
            integrations=self.target.integrations,
            watch=self.target.watch,
            **fields,
        )
        stats = self.meter.stats(duration_seconds=self.deadline.elapsed(), strategy=self._strategy())
        log.info(
            "collection finished",
            target=self.target.name,
            requests=dict(stats.requests),
            statements=stats.statements,
            errors=dict(stats.errors),
            deadline_exceeded=stats.deadline_exceeded,
            strategy=stats.strategy,
        )
        return CollectionResult(snapshot, stats)

    def _strategy(self) -> str:
        """What Unity Catalog grants were read through this cycle."""
        return "sql" if self.sql is not None else "api"

    def _submit_reads(self) -> None:
        """Submit every read, dependencies first (a task only ever waits for earlier ones)."""
        identity = self.task([(F.IDENTITY, GLOBAL_SCOPE)], self._read_identity)
        self._identity_future = identity
        metastore = self.task(self._scopes(F.METASTORE), self._read_metastore) if self.reads.needs_metastore else None
        warehouses = {w: self.task([], self._read_warehouse_info, w) for w in self._warehouse_ids()}
        sql = self.task([], self._open_sql, warehouses.get(sql_warehouse_id(self.target) or ""))
        principals = self._submit_principals()
        self._submit_warehouses(warehouses)
        self._submit_settings()
        self._submit_storage()
        self._submit_securables()
        grants = GrantReader(self)
        self.task(grants.scopes(), grants.read, sql, metastore)
        if self.reads.wants(F.TOKENS):
            self.task([(F.TOKENS, GLOBAL_SCOPE)], self._read_tokens, [identity, *principals])

    def _scopes(self, family: FactFamily, scope: str = GLOBAL_SCOPE) -> list[Scope]:
        return [(family, scope)] if self.reads.wants(family) else []

    # ---- tasks ------------------------------------------------------------------------------------

    def task(self, scopes: Iterable[Scope], fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the pool; if it fails, its scopes not yet recorded get the failure."""
        assert self._runner is not None
        owned = list(scopes)

        def guarded() -> Any:
            try:
                return fn(*args)
            except BaseException as exc:
                failure = as_read_failure(exc)
                if not isinstance(exc, ReadFailure):
                    log.warning("collector error", target=self.target.name, error=type(exc).__name__)
                for family, scope in owned:
                    if not self.sink.recorded(family, scope):
                        self.sink.fail(family, scope, failure)
                raise failure from None

        future = self._runner.submit(guarded)
        with self._lock:
            self._futures.append(future)
        return future

    def await_result(self, future: Future[Any] | None, *, limit: float | None = None) -> Any:
        """The result of an earlier task (None if there is none), waiting at most ``limit`` seconds and
        never past the deadline."""
        if future is None:
            return None
        remaining = self.deadline.remaining()
        timeout = remaining if limit is None else min(limit, remaining)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            if limit is not None and limit < remaining:
                raise ReadFailed(f"a read it depends on did not finish within {limit:g}s") from None
            raise ReadFailed("deadline exceeded waiting for a read it depends on") from None

    def _wait_all(self) -> bool:
        """Wait for every task, including those submitted while waiting; False at the deadline."""
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                return True
            if not wait_until(pending, self.deadline):
                for future in pending:
                    future.cancel()
                return False

    # ---- clients ----------------------------------------------------------------------------------

    def rest(self) -> RestClient:
        """The REST client, built once; a failure to build it fails every read that needs it."""
        return self.connections.rest()

    def visibility(self) -> BulkVisibility:
        """What the auditor provably sees (built once, on first need, after SCIM ``Me`` has answered)."""
        with self._visibility_lock:
            if self._visibility is None:
                with contextlib.suppress(ReadFailure):
                    self.await_result(self._identity_future)
                self._visibility = BulkVisibility(self.rest, self.identity, self.identity_names)
            return self._visibility

    def directory(self) -> ScimDirectory:
        """The cycle's memoised SCIM lookups."""
        rest = self.rest()
        with self._lock:
            if self._directory is None:
                self._directory = ScimDirectory(rest)
            return self._directory

    # ---- identity, metastore, warehouses, SQL ------------------------------------------------------

    def _read_identity(self) -> None:
        me = read_me(self.rest(), self.directory())
        self.identity = me.name
        self.identity_names = frozenset(p.name for p in (me.resolved.principal, *me.resolved.groups))
        self.directory().remember(me.resolved.principal)
        self.sink.commit_identity(me.name, [me.resolved.principal, *me.resolved.groups], me.resolved.memberships)

    def _read_metastore(self) -> None:
        metastore = read_metastore(self.rest())
        self.metastore_id = metastore.metastore_id if metastore else None
        if self.reads.wants(F.METASTORE):
            self.sink.commit_metastore(metastore)
        if self.reads.wants(F.SECURABLES) and any(t is SecurableType.METASTORE for t, _ in self.reads.securables):
            self.sink.commit(F.SECURABLES, securable_key(SecurableType.METASTORE, ""))

    def _warehouse_ids(self) -> list[str]:
        wanted = set(self.reads.plan.warehouses) if self.reads.wants(F.WAREHOUSES, F.WAREHOUSE_ACLS) else set()
        sql_id = sql_warehouse_id(self.target)
        if sql_id and self.target.collection != "api" and self.reads_sql_candidates():
            wanted.add(sql_id)
        return sorted(wanted)

    def reads_sql_candidates(self) -> bool:
        """Some read could go through SQL (Unity Catalog grants or watches, or hive_metastore)."""
        return GrantReader.uc_candidates(self.reads) or GrantReader.hive_needed(self.reads)

    def _read_warehouse_info(self, warehouse_id: str) -> dict[str, Any] | None:
        scopes = self._scopes(F.WAREHOUSES, warehouse_id) if warehouse_id in self.reads.plan.warehouses else []
        try:
            info = read_warehouse_info(self.rest(), warehouse_id)
        except ReadFailure as failure:
            for family, scope in scopes:
                self.sink.fail(family, scope, failure)
            raise
        if info is not None:
            with self._lock:
                self._warehouse_infos[warehouse_id] = info
        for family, scope in scopes:
            self.sink.commit(family, scope)
        return info

    def _open_sql(self, warehouse_future: Future[Any] | None) -> SqlSession | None:
        """Decide whether SQL is used (it never starts a warehouse unless allowed) and open the session."""
        needs_uc, needs_hive = GrantReader.uc_candidates(self.reads), GrantReader.hive_needed(self.reads)
        warehouse: dict[str, Any] | ReadFailure | None
        try:
            limit = self.target.databricks.request_timeout_seconds
            warehouse = self.await_result(warehouse_future, limit=limit) if warehouse_future else None
        except ReadFailure as failure:
            warehouse = failure
        except Exception:
            warehouse = ReadFailed("the warehouse state could not be read")
        decision = plan_sql(
            self.target, needs_unity_catalog=needs_uc, needs_hive_metastore=needs_hive, warehouse=warehouse
        )
        self.sql_reason = decision.reason
        if not decision.usable:
            return None
        try:
            warehouse_id = sql_warehouse_id(self.target)
            if decision.start_warehouse and warehouse_id:
                start_warehouse(self.rest(), warehouse_id, until=self.deadline.ends_at)
            # with `auto`, REST is the fallback for Unity Catalog: keep half the time left for it
            budget = self.deadline.remaining() / 2 if self.target.collection == "auto" else None
            self.sql = open_sql_session(
                self.connections, self.target.databricks.sql_http_path or "", retry_budget=budget
            )
        except ReadFailure as failure:
            self.sql_reason = failure.reason
        return self.sql

    def _close_sql(self) -> None:
        """Close the SQL session, within the deadline's margin; its requests join the stats either way."""
        session = self.sql
        if session is not None:
            margin = self.target.schedule.deadline_seconds - self.deadline.seconds
            grace = Deadline(max(self.deadline.remaining(), min(1.0, margin / 2)))
            wait_until([self.task([], session.close)], grace)
            session.count_requests()

    # ---- principals, warehouses, settings ----------------------------------------------------------

    def _submit_principals(self) -> list[Future[Any]]:
        families = [f for f in (F.PRINCIPALS, F.ENTITLEMENTS) if self.reads.wants(f)]
        futures: list[Future[Any]] = []
        if families:
            for name in sorted(self.reads.plan.principals):
                futures.append(self.task([(f, name) for f in families], self._read_principal, name, families))
        if self.reads.wants(F.OAUTH_SECRETS):
            for application_id in self.reads.service_principals:
                futures.append(self.task([(F.OAUTH_SECRETS, application_id)], self._read_secrets, application_id))
        return futures

    def _read_principal(self, name: str, families: list[FactFamily]) -> None:
        resolved = self.directory().resolve(name)
        if resolved is None:
            for family in families:
                self.sink.commit(family, name)
            return
        facts = {"principals": [resolved.principal, *resolved.groups], "memberships": resolved.memberships}
        for index, family in enumerate(families):
            self.sink.commit(family, name, **(facts if index == 0 else {}))
            for group in resolved.groups:  # groups pass entitlements on: their statuses matter too
                self.sink.commit(family, group.name)

    def _read_secrets(self, application_id: str) -> None:
        secrets = read_oauth_secrets(self.rest(), self.directory(), application_id)
        self.sink.commit(F.OAUTH_SECRETS, application_id, oauth_secrets=secrets or [])

    def _read_tokens(self, earlier: list[Future[Any]]) -> None:
        for future in earlier:  # owners are named through SCIM: reuse what the principals resolved
            try:
                self.await_result(future)
            except Exception:  # a failed principal read is recorded by its own task
                continue
        self.sink.commit(F.TOKENS, tokens=read_tokens(self.rest(), self.directory()))

    def _submit_warehouses(self, infos: dict[str, Future[Any]]) -> None:
        if not self.reads.wants(F.WAREHOUSE_ACLS):
            return
        for warehouse_id in sorted(self.reads.plan.warehouses):
            self.task([(F.WAREHOUSE_ACLS, warehouse_id)], self._read_acl, warehouse_id, infos.get(warehouse_id))

    def _read_acl(self, warehouse_id: str, info: Future[Any] | None) -> None:
        try:
            exists = self.await_result(info) is not None
        except ReadFailure as failure:
            raise ReadFailed(f"the warehouse could not be read ({failure.reason})", api_family="warehouses") from None
        acl = read_warehouse_acl(self.rest(), warehouse_id) if exists else None
        if acl is not None:
            with self._lock:
                self._warehouse_acls[warehouse_id] = acl
        self.sink.commit(F.WAREHOUSE_ACLS, warehouse_id)

    def _submit_settings(self) -> None:
        if self.reads.wants(F.TOKEN_PERMISSIONS):
            self.task([(F.TOKEN_PERMISSIONS, GLOBAL_SCOPE)], self._read_token_permissions)
        if self.reads.wants(F.WORKSPACE_CONF):
            self.task([(F.WORKSPACE_CONF, GLOBAL_SCOPE)], self._read_workspace_conf)

    def _read_token_permissions(self) -> None:
        self.sink.commit(F.TOKEN_PERMISSIONS, token_permissions=read_token_permissions(self.rest()))

    def _read_workspace_conf(self) -> None:
        self.sink.commit_workspace_conf(read_workspace_conf(self.rest(), self.reads.plan.workspace_conf_keys))

    # ---- storage, trust, securables ----------------------------------------------------------------

    def _submit_storage(self) -> None:
        planned = {securable_key(t, n) for t, n in self.reads.securables}
        mirror = self.reads.wants(F.SECURABLES)
        kinds = (
            (
                SecurableType.STORAGE_CREDENTIAL,
                F.STORAGE_CREDENTIALS,
                self.reads.storage_credentials,
                self._credential,
            ),
            (
                SecurableType.EXTERNAL_LOCATION,
                F.EXTERNAL_LOCATIONS,
                self.reads.external_locations,
                self._location,
            ),
        )
        for securable_type, family, names, read in kinds:
            needed = (
                self.reads.wants(family)
                or mirror
                or (family is F.STORAGE_CREDENTIALS and self.reads.wants(F.TRUST_POLICIES))
            )
            for name in names if needed else ():
                key = securable_key(securable_type, name)
                scopes = self._scopes(family, name) + ([(F.SECURABLES, key)] if mirror and key in planned else [])
                self.task(scopes, read, name, scopes or [(family, name)])
        for role_arn in sorted(self.reads.plan.role_arns):
            if self.reads.wants(F.TRUST_POLICIES):
                self.task([(F.TRUST_POLICIES, role_arn)], self._read_trust, role_arn)

    def _credential(self, name: str, scopes: list[Scope]) -> None:
        credential = read_storage_credential(self.rest(), name)
        for index, (family, scope) in enumerate(scopes):
            facts = [credential] if credential is not None and index == 0 else []
            self.sink.commit(family, scope, storage_credentials=facts)
        role_arn = credential.aws_role_arn if credential else None
        if role_arn and self.reads.wants(F.TRUST_POLICIES):
            with self._lock:
                self._credential_roles.add(role_arn)
            self._read_trust(role_arn)

    def _location(self, name: str, scopes: list[Scope]) -> None:
        location = read_external_location(self.rest(), name)
        for index, (family, scope) in enumerate(scopes):
            self.sink.commit(family, scope, external_locations=[location] if location and index == 0 else [])

    def _read_trust(self, role_arn: str) -> None:
        """One role's trust policy, read once per cycle however many credentials point at it."""
        iam = self.iam
        try:
            if iam is None:
                raise ReadFailed("no AWS settings for this target", api_family="iam")
            policy = self._trust.get(role_arn, lambda: iam.read(role_arn))
        except ReadFailure as failure:
            self.sink.fail(F.TRUST_POLICIES, role_arn, failure)
            return
        self.sink.commit(F.TRUST_POLICIES, role_arn, trust_policies=[policy] if policy else [])

    def _submit_securables(self) -> None:
        if not self.reads.wants(F.SECURABLES):
            return
        for securable_type, name in self.reads.metadata_securables:
            key = securable_key(securable_type, name)
            self.task([(F.SECURABLES, key)], self._read_securable, securable_type, name)

    def _read_securable(self, securable_type: SecurableType, name: str) -> None:
        securable = read_securable(self.rest(), securable_type, name)
        key = securable_key(securable_type, name)
        hidden = self.visibility().hidden(securable_type, name) if securable is None else None
        if hidden is not None:
            self.sink.fail(F.SECURABLES, key, hidden)
            return
        self.sink.commit(F.SECURABLES, key, securables=[securable] if securable else [])
