"""Preflight (requirement X-3): who the auditor is, and which fact families it can read on a target.

One cheap probe per family (a list call or the first object of one), so a blind spot is known before
the first audit and reported as "not visible to <identity>" rather than mistaken for a pass. Probes
never start a warehouse and never read a token or secret value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from auditor.collect.aws_trust import IamReader
from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.clients import Connections, RestClient
from auditor.collect.credentials import TOKENS, WORKSPACE_CONF
from auditor.collect.identities import SCIM, ScimDirectory, read_me
from auditor.collect.interface import ObjectNotFound, ReadFailed, ReadFailure, as_read_failure
from auditor.collect.rest_grants import UC, segment
from auditor.collect.runner import Runner, wait_until
from auditor.collect.strategy import sql_warehouse_id
from auditor.collect.warehouses import PERMISSIONS, WAREHOUSES
from auditor.model.facts import FactFamily, PrincipalKind, ReadState, ReadStatus
from auditor.model.plan import CollectionPlan
from auditor.model.stats import CollectionStats
from auditor.settings import TargetSettings

F = FactFamily


@dataclass(frozen=True)
class PreflightResult:
    """The auditor's identity on a target and, per fact family, whether it can read it."""

    target: str
    identity: str | None  # application id or user name; None when SCIM Me could not be read
    identity_kind: PrincipalKind | None
    groups: tuple[str, ...]  # the groups the auditor is in, directly or through nesting
    families: tuple[ReadStatus, ...]  # one status per probed family (scope "*")
    warehouse_state: str | None  # the SQL warehouse's state, if configured and listed
    stats: CollectionStats

    def status(self, family: FactFamily) -> ReadStatus | None:
        """The probe result for one family (None if it was not probed)."""
        return next((s for s in self.families if s.family is family), None)

    def blind_spots(self) -> tuple[ReadStatus, ...]:
        """Families the auditor could not read."""
        return tuple(s for s in self.families if s.state is not ReadState.READ)


def preflight(
    target: TargetSettings,
    *,
    families: Iterable[FactFamily] | None = None,
    plan: CollectionPlan | None = None,
) -> PreflightResult:
    """Probe ``families`` (default: all) on ``target`` within its cycle deadline.

    With a ``plan``, probes use the plan's own objects where one is needed (a role ARN for the trust
    policy probe), so they check exactly what the audit will read.
    """
    return _Preflight(target, frozenset(families or FactFamily), plan).run()


class _Preflight:
    def __init__(self, target: TargetSettings, families: frozenset[FactFamily], plan: CollectionPlan | None) -> None:
        self.target = target
        self.families = families
        self.plan = plan
        self.deadline = Deadline(target.schedule.deadline_seconds)
        self.meter = CostMeter()
        self.connections = Connections(target, self.deadline, self.meter)
        self.results: dict[FactFamily, ReadFailure | None] = {}
        self.identity: str | None = None
        self.identity_kind: PrincipalKind | None = None
        self.groups: tuple[str, ...] = ()
        self.warehouse_state: str | None = None
        self._lock = threading.Lock()

    def run(self) -> PreflightResult:
        probes: list[tuple[tuple[FactFamily, ...], Callable[[], object]]] = [
            ((F.IDENTITY, F.PRINCIPALS, F.ENTITLEMENTS, F.OAUTH_SECRETS), self._scim),
            ((F.METASTORE,), lambda: self._get(F.METASTORE, f"{UC}/current-metastore-assignment")),
            ((F.SECURABLES, F.GRANTS), self._catalogs),
            ((F.WAREHOUSES, F.WAREHOUSE_ACLS), self._warehouses),
            ((F.TOKENS,), lambda: self._get(F.TOKENS, TOKENS)),
            (
                (F.TOKEN_PERMISSIONS,),
                lambda: self._get(F.TOKEN_PERMISSIONS, f"{PERMISSIONS}/authorization/tokens"),
            ),
            (
                (F.WORKSPACE_CONF,),
                lambda: self._get(F.WORKSPACE_CONF, WORKSPACE_CONF, {"keys": "enableTokensConfig"}),
            ),
            ((F.STORAGE_CREDENTIALS,), lambda: self._get(F.STORAGE_CREDENTIALS, f"{UC}/storage-credentials")),
            ((F.EXTERNAL_LOCATIONS,), lambda: self._get(F.EXTERNAL_LOCATIONS, f"{UC}/external-locations")),
            ((F.TRUST_POLICIES,), self._trust),
        ]
        wanted = [(fams, probe) for fams, probe in probes if set(fams) & (self.families | {F.IDENTITY})]
        with Runner(self.target.databricks.max_concurrency, name=f"preflight-{self.target.name}") as runner:
            futures = [runner.submit(self._guard(fams, probe)) for fams, probe in wanted]
            finished = wait_until(futures, self.deadline)
        timeout = ReadFailed(
            f"deadline exceeded ({self.target.schedule.deadline_seconds:g}s) before the probe finished"
        )
        who = self.identity or self.connections.configured_identity
        statuses = []
        for family in FactFamily:
            if family not in self.families and family is not F.IDENTITY:
                continue
            failure = self.results.get(family, timeout if not finished else ReadFailed("not probed"))
            statuses.append(
                ReadStatus(
                    family=family,
                    state=ReadState.READ if failure is None else failure.state,
                    reason=None if failure is None else failure.describe(who),
                )
            )
        self.meter.deadline_exceeded = not finished
        return PreflightResult(
            target=self.target.name,
            identity=self.identity,
            identity_kind=self.identity_kind,
            groups=self.groups,
            families=tuple(statuses),
            warehouse_state=self.warehouse_state,
            stats=self.meter.stats(duration_seconds=self.deadline.elapsed(), strategy=""),
        )

    def _guard(self, families: tuple[FactFamily, ...], probe: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                probe()
            except BaseException as exc:
                failure = as_read_failure(exc)
                for family in families:
                    self.results.setdefault(family, failure)

        return run

    def rest(self) -> RestClient:
        """The REST client, built once for all probes."""
        return self.connections.rest()

    def _get(self, family: FactFamily, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """One probe request; 404 counts as readable (the object is absent, the API answered)."""
        try:
            payload = self.rest().get(path, query)
        except ObjectNotFound:
            payload = {}
        except ReadFailure as failure:
            self.results[family] = failure
            raise
        self.results[family] = None
        return payload

    def _scim(self) -> None:
        rest = self.rest()
        me = read_me(rest, ScimDirectory(rest))
        self.identity = me.name
        self.identity_kind = me.resolved.principal.kind
        self.groups = me.groups
        self.results[F.IDENTITY] = None
        if not self.families & {F.PRINCIPALS, F.ENTITLEMENTS, F.OAUTH_SECRETS}:
            return
        listed = self._get(F.PRINCIPALS, f"{SCIM}/ServicePrincipals", {"count": 1})
        first = next(iter(listed.get("Resources") or ()), None)
        sp_id = me.resolved.principal.scim_id if me.resolved.principal.kind is PrincipalKind.SERVICE_PRINCIPAL else None
        sp_id = sp_id or (str(first["id"]) if isinstance(first, dict) and first.get("id") else None)
        if sp_id is None:
            self.results[F.ENTITLEMENTS] = self.results[F.OAUTH_SECRETS] = None
            return
        if F.ENTITLEMENTS in self.families:
            self._get(F.ENTITLEMENTS, f"{SCIM}/ServicePrincipals/{sp_id}")
        if F.OAUTH_SECRETS in self.families:
            self._get(F.OAUTH_SECRETS, f"/api/2.0/accounts/servicePrincipals/{sp_id}/credentials/secrets")

    def _catalogs(self) -> None:
        listed = self._get(F.SECURABLES, f"{UC}/catalogs")
        if F.GRANTS not in self.families:
            return
        first = next((c.get("name") for c in listed.get("catalogs") or () if isinstance(c, dict)), None)
        if first is None:
            self.results[F.GRANTS] = None
            return
        self._get(F.GRANTS, f"{UC}/permissions/catalog/{segment(str(first))}", {"max_results": 0})

    def _warehouses(self) -> None:
        listed = self._get(F.WAREHOUSES, WAREHOUSES)
        items = [w for w in listed.get("warehouses") or () if isinstance(w, dict)]
        sql_id = sql_warehouse_id(self.target)
        mine = next((w for w in items if w.get("id") == sql_id), None)
        self.warehouse_state = str(mine.get("state")) if mine else None
        if F.WAREHOUSE_ACLS not in self.families:
            return
        probe_id = sql_id or next((str(w.get("id")) for w in items), None)
        if probe_id is None:
            self.results[F.WAREHOUSE_ACLS] = None
            return
        self._get(F.WAREHOUSE_ACLS, f"{PERMISSIONS}/warehouses/{segment(probe_id)}")

    def _trust(self) -> None:
        if self.target.aws is None:
            raise ReadFailed("no AWS settings for this target", api_family="iam")
        reader = IamReader(self.target.aws, self.connections.policy, self.deadline, self.meter)
        roles = sorted(self.plan.role_arns) if self.plan else []
        if roles:
            reader.read(roles[0])
        else:
            try:
                reader.client().list_roles(MaxItems=1)
            except Exception as exc:
                raise reader.translate(exc) from None
        self.results[F.TRUST_POLICIES] = None
