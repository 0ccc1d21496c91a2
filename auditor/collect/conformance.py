"""The conformance probe: does this workspace answer the way the collectors assume?

Read-only: list and ``GET`` calls, ``SHOW GRANTS`` and ``SELECT`` on ``system.information_schema``; never a
GRANT, a REVOKE, a create or a warehouse start. Each assumption is checked by handing what the platform
answered to the collectors' own parsing code and constants (`auditor.collect.sql_grants`,
`auditor.collect.credentials`, `auditor.collect.identities`, `auditor.privileges.names`), so the expectations
live where the collectors keep them and nowhere else. What was observed is also kept as raw shapes
(`ConformanceResult.shapes`) for `auditor.collect.conformance_shapes` to redact into fixtures.

Verdicts: ``yes`` the collectors read what the platform answered; ``no`` they would misread or drop it;
``unread`` the probe could not read it (permission, no running warehouse, ...); ``n/a`` nothing to check it on
(no view in the workspace, no service principal with secrets, ...). Observed values are column names,
spellings, key sets and counts, never an object or a principal (an ``unread`` reason may name the auditor).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any

from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.clients import Connections, RestClient
from auditor.collect.credentials import oauth_secrets_path, parse_oauth_secrets
from auditor.collect.identities import SCIM, ScimDirectory, read_me
from auditor.collect.interface import NotVisible, ObjectNotFound, ReadFailed, ReadFailure, as_read_failure
from auditor.collect.rest_grants import UC, read_securable, segment
from auditor.collect.scopes import ReadPlan
from auditor.collect.sql_grants import (
    DIRECT_INHERITED_FROM,
    SHOW_GRANTS_COLUMNS,
    SWEEP_ALTERNATIVES,
    SWEEP_VIEWS,
    UNREAD_PRIVILEGE_VIEWS,
    PrivilegeView,
    parse_show_grants,
    show_grants_statement,
)
from auditor.collect.sqlconn import SqlSession, open_sql_session
from auditor.collect.strategy import sql_warehouse_id
from auditor.collect.warehouses import WAREHOUSES
from auditor.model.facts import PrincipalKind, SecurableType
from auditor.model.plan import CollectionPlan
from auditor.privileges.names import (
    HIVE_METASTORE,
    KNOWN_PRIVILEGES,
    SCIM_NAME_ATTRIBUTES,
    SCIM_RESOURCES,
    USERS_GROUP,
    is_hive,
    normalize_privilege,
)
from auditor.settings import TargetSettings

PROBE_BUDGET_SECONDS = 300.0
"""The probe's deadline (or the target's cycle deadline, if longer): it runs some forty statements and requests."""

_SHOW_GRANTS_ROWS = 20
"""Sample rows kept per SHOW GRANTS statement."""

_DISCOVERY_LISTS = 25
"""Most list calls spent looking for a table and a view to run SHOW GRANTS on."""

_SAMPLE_ROWS = 5
_PROBED_KINDS = (SecurableType.CATALOG, SecurableType.SCHEMA, SecurableType.TABLE, SecurableType.VIEW)
_SYSTEM_CATALOGS = frozenset({"system", HIVE_METASTORE})


class Verdict(StrEnum):
    CONSISTENT = "yes"
    INCONSISTENT = "no"
    UNREAD = "unread"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Check:
    """One assumption, what the workspace answered, and whether the collectors read it as intended."""

    assumption: str
    observed: str
    verdict: Verdict


@dataclass
class ConformanceResult:
    """Every check of one target, and the raw shapes observed (names and secrets still in them)."""

    target: str
    probed_at: datetime
    identity: str | None = None  # who the auditor turned out to be (SCIM Me)
    checks: list[Check] = field(default_factory=list)
    shapes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def verdicts(self) -> set[Verdict]:
        return {c.verdict for c in self.checks}


def probe_conformance(target: TargetSettings, plan: CollectionPlan | None = None) -> ConformanceResult:
    """Check every platform assumption of the collectors on ``target`` (objects of ``plan`` first)."""
    return _Probe(target, plan).run()


def _listing(values: Iterable[object]) -> str:
    shown = sorted({"NULL" if v is None else str(v) for v in values})
    return ", ".join(shown) if shown else "(none)"


class _Probe:
    def __init__(self, target: TargetSettings, plan: CollectionPlan | None) -> None:
        self.target = target
        self.plan = plan
        self.deadline = Deadline(max(PROBE_BUDGET_SECONDS, target.schedule.deadline_seconds))
        self.connections = Connections(target, self.deadline, CostMeter())
        self.result = ConformanceResult(target=target.name, probed_at=datetime.now(UTC))
        self.identity: str | None = None
        self.identity_kind: PrincipalKind | None = None
        self.unity_catalog = True  # False once the workspace is known to have no metastore assigned
        self.missing_views: set[str] = set()

    # ---- plumbing --------------------------------------------------------------------------------

    def check(self, assumption: str, observed: str, verdict: Verdict | bool) -> None:
        if isinstance(verdict, bool):
            verdict = Verdict.CONSISTENT if verdict else Verdict.INCONSISTENT
        self.result.checks.append(Check(assumption, observed, verdict))

    def attempt(self, assumption: str, step: Callable[[], None]) -> None:
        """Run one step; a read that fails becomes an ``unread`` row naming ``assumption`` and the reason."""
        try:
            step()
        except Exception as exc:
            failure = as_read_failure(exc) if not isinstance(exc, ObjectNotFound) else None
            reason = failure.describe(self.identity or "the auditor") if failure else f"not found ({exc})"
            self.check(assumption, reason, Verdict.UNREAD)

    def shape(self, name: str, request: str, **body: Any) -> dict[str, Any]:
        return self.result.shapes.setdefault(name, {"request": request, **body})

    def rest(self) -> RestClient:
        return self.connections.rest()

    def run(self) -> ConformanceResult:
        self.attempt("SCIM Me names the auditor", self._scim)
        self.attempt("metastore_summary names the metastore's owner", self._metastore)
        if self.unity_catalog:
            self.attempt("Unity Catalog REST: an object the caller cannot see", self._rest_not_found)
        self._sql()
        return self.result

    # ---- REST ------------------------------------------------------------------------------------

    def _scim(self) -> None:
        rest = self.rest()
        me = rest.get(f"{SCIM}/Me")
        self.shape("scim_me", f"GET {SCIM}/Me", response=me)
        attributes = [SCIM_NAME_ATTRIBUTES[k] for k in (PrincipalKind.SERVICE_PRINCIPAL, PrincipalKind.USER)]
        named = [a for a in attributes if me.get(a)]
        self.check(f"SCIM Me names the auditor ({' or '.join(attributes)})", _listing(named) + " present", bool(named))
        directory = ScimDirectory(rest)
        identity = read_me(rest, directory)
        self.identity, self.identity_kind = identity.name, identity.resolved.principal.kind
        self.result.identity = identity.name
        self._users_listed("the auditor's SCIM groups (Me)", me)
        self.attempt(f"built-in group `{USERS_GROUP}` found by SCIM filter", lambda: self._users_group(directory))
        self.attempt("OAuth secret listing", lambda: self._secrets(rest, directory))

    def _users_listed(self, whose: str, resource: dict[str, Any]) -> None:
        """Whether SCIM lists `users` (and a post-migration ``users-clone-*`` group) in a principal's groups."""
        names = [str(g.get("display") or "").lower() for g in resource.get("groups") or () if isinstance(g, dict)]
        observed = "listed" if USERS_GROUP in names else "not listed"
        if any(n.startswith(f"{USERS_GROUP}-clone") for n in names):
            observed += f"; a {USERS_GROUP}-clone-* group listed"
        self.check(
            f"`{USERS_GROUP}` in {whose} (either way: the collector adds the membership)", observed, Verdict.CONSISTENT
        )

    def _users_group(self, directory: ScimDirectory) -> None:
        group = directory.find(USERS_GROUP)
        attribute = SCIM_NAME_ATTRIBUTES[PrincipalKind.GROUP]
        self.shape("scim_users_group", f'GET {SCIM}/Groups?filter={attribute} eq "{USERS_GROUP}"', response=group)
        self.check(
            f'built-in group `{USERS_GROUP}` found by SCIM filter {attribute} eq "{USERS_GROUP}"',
            "found" if group is not None else "not found",
            group is not None and group.get("id") is not None,
        )

    def _secrets(self, rest: RestClient, directory: ScimDirectory) -> None:
        """The secrets of the auditor (if a service principal) and of the plan's service principals, together:
        the more listings, the better the chance to see whether an expired secret is listed."""
        candidates = [self.identity] if self.identity_kind is PrincipalKind.SERVICE_PRINCIPAL else []
        candidates += sorted(ReadPlan(self.plan).service_principals) if self.plan else []
        listed: list[tuple[str, dict[str, Any]]] = []
        principals = 0
        for application_id in dict.fromkeys(c for c in candidates if c):
            resource = directory.find(application_id)
            if resource is None or resource.get("id") is None:
                continue
            if "scim_service_principal" not in self.result.shapes and application_id != self.identity:
                kind = SCIM_RESOURCES[PrincipalKind.SERVICE_PRINCIPAL]
                self.shape("scim_service_principal", f"GET {SCIM}/{kind}/{{id}}", response=resource)
                self._users_listed("a service principal's SCIM groups", resource)
            try:
                items = rest.uc_pages(oauth_secrets_path(str(resource["id"])), "secrets", page_size_param=None)
            except ObjectNotFound:
                continue
            principals += 1
            listed += [(application_id, item) for item in items]
        if not listed:
            observed = f"no secret listed for {principals} service principal(s)"
            self.check(
                "OAuth secret listing: id, status, create_time, expire_time (RFC 3339)",
                observed,
                Verdict.NOT_APPLICABLE,
            )
            return
        self._judge_secrets(listed, principals)

    def _judge_secrets(self, listed: list[tuple[str, dict[str, Any]]], principals: int) -> None:
        items = [item for _, item in listed]
        self.shape(
            "sp_secrets_list", f"GET {oauth_secrets_path('{service_principal_id}')}", response={"secrets": items}
        )
        parsed = [secret for app, item in listed for secret in parse_oauth_secrets([item], app)]
        readable = len(parsed) == len(items) and all(
            s.status != "UNKNOWN"
            and s.create_time is not None
            and (s.expire_time is not None or not i.get("expire_time"))
            for s, i in zip(parsed, items, strict=True)
        )
        keys = _listing(k for item in items for k in item)
        self.check("OAuth secret listing: id, status, create_time, expire_time (RFC 3339)", keys, readable)
        now = datetime.now(UTC)
        expired = sum(1 for s in parsed if s.expire_time is not None and s.expire_time <= now)
        self.check(
            "expired OAuth secrets listed or not (either way: rules ask for an active, unexpiring secret)",
            f"{expired} of {len(parsed)} listed expired ({principals} service principals); "
            f"statuses {_listing(s.status for s in parsed)}",
            Verdict.CONSISTENT,
        )

    def _metastore(self) -> None:
        try:
            summary = self.rest().get(f"{UC}/metastore_summary")
        except ObjectNotFound:
            self.unity_catalog = False
            self.check(
                "a Unity Catalog metastore is assigned", "none (Unity Catalog checks skipped)", Verdict.NOT_APPLICABLE
            )
            return
        self.shape("metastore_summary", f"GET {UC}/metastore_summary", response=summary)
        owner = summary.get("owner")
        self.check(
            "metastore_summary names the metastore's owner (who sees all of information_schema)",
            "owner present" if isinstance(owner, str) and owner else "no owner",
            isinstance(owner, str) and bool(owner),
        )

    def _rest_not_found(self) -> None:
        path = f"{UC}/catalogs/{segment(_absent_name())}"
        assumption = "Unity Catalog REST: a catalog the caller cannot see answers 404 or 403"
        try:
            self.rest().get(path)
        except ObjectNotFound as absent:
            self.shape("uc_not_found_errors", f"GET {UC}/catalogs/<absent>", outcome="HTTP 404", error_code=str(absent))
            self.check(assumption, f"HTTP 404 {absent}", Verdict.CONSISTENT)
            return
        except NotVisible:
            self.shape("uc_not_found_errors", f"GET {UC}/catalogs/<absent>", outcome="HTTP 403")
            self.check(assumption, "HTTP 403", Verdict.CONSISTENT)
            return
        except ReadFailure as failure:
            self.check(assumption, failure.reason, Verdict.INCONSISTENT)
            return
        self.check(assumption, "answered as if it existed", Verdict.INCONSISTENT)

    # ---- SQL -------------------------------------------------------------------------------------

    def _sql(self) -> None:
        if self.target.databricks.sql_http_path is None or self.target.collection == "api":
            observed = "the auditor reads through REST only (no SQL warehouse configured, or collection: api)"
            self.check("SQL checks (SHOW GRANTS, information_schema)", observed, Verdict.NOT_APPLICABLE)
            return
        session: SqlSession | None = None
        try:
            session = self._open_sql()
        except Exception as exc:
            reason = as_read_failure(exc).describe(self.identity or "the auditor")
            self.check("SQL checks (SHOW GRANTS, information_schema)", reason, Verdict.UNREAD)
            return
        try:
            self.attempt("SHOW GRANTS on the objects found", lambda: self._show_grants(session))
            views: tuple[PrivilegeView | str, ...] = (*SWEEP_VIEWS, *UNREAD_PRIVILEGE_VIEWS)
            for view in views if self.unity_catalog else ():
                name = view.view if isinstance(view, PrivilegeView) else view
                self.attempt(f"information_schema.{name}", partial(self._privilege_view, session, view))
            self._stand_ins()
            self.attempt("SQL: an object the caller cannot see", lambda: self._sql_not_found(session))
        finally:
            session.close()

    def _open_sql(self) -> SqlSession:
        http_path = self.target.databricks.sql_http_path
        warehouse_id = sql_warehouse_id(self.target)
        assert http_path is not None
        try:
            state = self.rest().get(f"{WAREHOUSES}/{segment(warehouse_id or '')}").get("state")
        except ObjectNotFound:
            state = "not found"
        if state != "RUNNING":
            # opening a session on a stopped warehouse starts it, and the probe starts nothing
            raise ReadFailed(f"the SQL warehouse is {state or 'in an unknown state'}: the probe never starts it")
        return open_sql_session(self.connections, http_path)

    def _objects(self) -> list[tuple[SecurableType, str]]:
        """A catalog, schema, table and view of each kind (Unity Catalog and hive_metastore): the plan's first,
        then the first ones listed."""
        found: dict[tuple[SecurableType, bool], str] = {}
        if self.plan is not None:
            for kind, name in ReadPlan(self.plan).securables:
                if kind in _PROBED_KINDS:
                    found.setdefault((kind, is_hive(name)), name)
        self._discover(found)
        return [(kind, found[kind, hive]) for hive in (False, True) for kind in _PROBED_KINDS if (kind, hive) in found]

    def _discover(self, found: dict[tuple[SecurableType, bool], str]) -> None:
        rest = self.rest()
        listed = rest.uc_pages(f"{UC}/catalogs", "catalogs") if self.unity_catalog else []
        names = sorted(str(c.get("name")) for c in listed if c.get("name"))
        budget = _DISCOVERY_LISTS
        if HIVE_METASTORE in names or (self.plan is not None and self.plan.needs_hive_metastore):
            found.setdefault((SecurableType.CATALOG, True), HIVE_METASTORE)
            found.setdefault((SecurableType.SCHEMA, True), f"{HIVE_METASTORE}.default")
        for catalog in [n for n in names if n.lower() not in _SYSTEM_CATALOGS] + [HIVE_METASTORE] * (
            HIVE_METASTORE in names
        ):
            hive = is_hive(catalog)
            found.setdefault((SecurableType.CATALOG, hive), catalog)
            if all((k, hive) in found for k in _PROBED_KINDS) or budget <= 0:
                continue
            budget -= 1
            try:
                schemas = rest.uc_pages(f"{UC}/schemas", "schemas", {"catalog_name": catalog})
            except (ObjectNotFound, ReadFailure):
                continue
            for schema in schemas:
                name = str(schema.get("name") or "")
                if not name or name.lower() == "information_schema" or budget <= 0:
                    continue
                found.setdefault((SecurableType.SCHEMA, hive), f"{catalog}.{name}")
                budget -= 1
                try:
                    query = {"catalog_name": catalog, "schema_name": name, "omit_columns": "true"}
                    tables = rest.uc_pages(f"{UC}/tables", "tables", query)
                except (ObjectNotFound, ReadFailure):
                    continue
                for table in tables:
                    kind = SecurableType.VIEW if str(table.get("table_type")).upper() == "VIEW" else SecurableType.TABLE
                    found.setdefault((kind, hive), f"{catalog}.{name}.{table.get('name')}")
                if all((k, hive) in found for k in _PROBED_KINDS):
                    break

    def _show_grants(self, session: SqlSession) -> None:
        objects = self._objects()
        for kind in _PROBED_KINDS:
            for hive in (False, True):
                if not any(k is kind and is_hive(n) == hive for k, n in objects):
                    self.check(
                        f"SHOW GRANTS ON {kind.value} {_where(HIVE_METASTORE if hive else '')}",
                        "none found",
                        Verdict.NOT_APPLICABLE,
                    )
        for kind, name in objects:
            self.attempt(f"SHOW GRANTS ON {kind.value} {_where(name)}", partial(self._one_show, session, kind, name))

    def _one_show(self, session: SqlSession, kind: SecurableType, name: str) -> None:
        label = f"SHOW GRANTS ON {kind.value} {_where(name)}"
        try:
            columns, rows = session.query_described(show_grants_statement(kind, name))
        except ObjectNotFound as absent:
            self.check(label, f"object not found ({absent})", Verdict.NOT_APPLICABLE)
            return
        statements = self.shape("show_grants_rows", "SHOW GRANTS ON <securable>", statements=[])["statements"]
        statements.append(
            {
                "securable_type": kind.value,
                "hive_metastore": is_hive(name),
                "columns": columns,
                "rows": [dict(zip(columns, row.values(), strict=False)) for row in rows[:_SHOW_GRANTS_ROWS]],
            }
        )
        seen = {c.lower() for c in columns}
        self.check(
            f"{label}: columns {', '.join(SHOW_GRANTS_COLUMNS)} (any case)",
            ", ".join(columns),
            seen >= set(SHOW_GRANTS_COLUMNS),
        )
        action_column, type_column = SHOW_GRANTS_COLUMNS[1], SHOW_GRANTS_COLUMNS[2]
        dropped = [row for row in rows if not _understood(row, kind, name)]
        spellings = (
            f"actionType {_listing(r.get(action_column) for r in rows)}; "
            f"objectType {_listing(r.get(type_column) for r in rows)}"
        )
        if not rows:
            self.check(f"{label}: actionType and objectType spellings", "no rows", Verdict.NOT_APPLICABLE)
        else:
            observed = spellings + (f"; {len(dropped)} row(s) not understood" if dropped else "")
            self.check(f"{label}: actionType and objectType spellings", observed, not dropped)
        result = parse_show_grants(rows, kind, name)
        if is_hive(name):
            owned = any(t is kind and n.lower() == name.lower() for t, n in result.owners)
            verdict = Verdict.CONSISTENT if owned else Verdict.NOT_APPLICABLE
            self.check(f"{label}: the owner is an OWN row", "present" if owned else "no OWN row", verdict)
            return
        securable = read_securable(self.rest(), kind, name)
        owner = securable.owner if securable is not None else None
        self.check(
            f"{kind.value} owner in the Unity Catalog REST metadata (`owner`)",
            "present" if owner else "absent",
            bool(owner),
        )
        if kind is SecurableType.VIEW:
            seen_as = securable.type.value if securable is not None else "absent"
            self.check("a view's REST table_type is VIEW", seen_as, seen_as == SecurableType.VIEW.value)

    def _privilege_view(self, session: SqlSession, view: PrivilegeView | str) -> None:
        name = view.view if isinstance(view, PrivilegeView) else view
        relation = f"system.information_schema.{name}"
        try:
            columns, sample = session.query_described(f"SELECT * FROM {relation} LIMIT {_SAMPLE_ROWS}")
        except ObjectNotFound as missing:
            self._missing_view(name, str(missing))
            return
        if not isinstance(view, PrivilegeView):
            self.check(f"information_schema.{name} (not read by the auditor)", "exists", Verdict.NOT_APPLICABLE)
            return
        self.check(f"information_schema.{name} exists", "exists", Verdict.CONSISTENT)
        seen = {c.lower() for c in columns}
        self.check(
            f"information_schema.{name}: columns {', '.join(view.columns)}",
            ", ".join(columns),
            seen >= set(view.columns),
        )
        distinct = session.query(f"SELECT DISTINCT privilege_type, inherited_from FROM {relation}")
        views = self.shape("info_schema_privilege_rows", "SELECT * FROM system.information_schema.<view>", views={})
        views["views"][name] = {
            "columns": columns,
            "rows": [dict(zip(columns, row.values(), strict=False)) for row in sample],
            "distinct_privilege_type_inherited_from": [
                [r.get("privilege_type"), r.get("inherited_from")] for r in distinct
            ],
        }
        if not distinct:
            self.check(
                f"information_schema.{name}: privilege_type and inherited_from",
                "no rows visible",
                Verdict.NOT_APPLICABLE,
            )
            return
        privileges = [r.get("privilege_type") for r in distinct]
        unknown = [
            p for p in privileges if not isinstance(p, str) or normalize_privilege(p) != p or p not in KNOWN_PRIVILEGES
        ]
        self.check(
            f"information_schema.{name}: privilege_type in underscore spelling, known to the auditor",
            _listing(privileges) + (f" (not understood: {_listing(unknown)})" if unknown else ""),
            not unknown,
        )
        kinds = {t.value for t in SecurableType}
        inherited = [r.get("inherited_from") for r in distinct]
        odd = [v for v in inherited if v is not None and v != DIRECT_INHERITED_FROM and str(v).upper() not in kinds]
        self.check(
            f"information_schema.{name}: inherited_from NULL or {DIRECT_INHERITED_FROM} (direct) or a securable kind",
            _listing(inherited),
            not odd,
        )

    def _missing_view(self, name: str, error_class: str) -> None:
        if name in UNREAD_PRIVILEGE_VIEWS:
            self.check(
                f"information_schema.{name} (not read by the auditor)",
                f"missing ({error_class})",
                Verdict.NOT_APPLICABLE,
            )
        elif name not in SWEEP_ALTERNATIVES:
            self.check(f"information_schema.{name} exists", f"missing ({error_class})", Verdict.INCONSISTENT)
        self.missing_views.add(name)

    def _stand_ins(self) -> None:
        """A view missing where another stands in for it (storage credentials) is fine while the other exists."""
        for name in sorted(self.missing_views & set(SWEEP_ALTERNATIVES)):
            alternative = SWEEP_ALTERNATIVES[name]
            present = alternative not in self.missing_views
            observed = f"missing; {alternative} {'stands in' if present else 'is missing too'}"
            self.check(f"information_schema.{name} exists (or {alternative})", observed, present)

    def _sql_not_found(self, session: SqlSession) -> None:
        assumption = "SQL: SHOW GRANTS on a catalog the caller cannot see fails with a *_NOT_FOUND class"
        statement = show_grants_statement(SecurableType.CATALOG, _absent_name())
        try:
            session.query(statement)
        except ObjectNotFound as absent:
            self.shape("sql_not_found_errors", "SHOW GRANTS ON CATALOG <absent>", error_class=str(absent))
            self.check(assumption, str(absent), Verdict.CONSISTENT)
            return
        except NotVisible as hidden:
            self.shape("sql_not_found_errors", "SHOW GRANTS ON CATALOG <absent>", error_class=hidden.detail)
            self.check(assumption, f"{hidden.detail} (read as not visible)", Verdict.CONSISTENT)
            return
        except ReadFailure as failure:
            self.check(assumption, failure.reason, Verdict.INCONSISTENT)
            return
        self.check(assumption, "answered as if it existed", Verdict.INCONSISTENT)


def _where(name: str) -> str:
    return f"({HIVE_METASTORE})" if is_hive(name) else "(Unity Catalog)"


def _absent_name() -> str:
    """A catalog name nobody has: the probe's stand-in for an object the caller cannot see."""
    return f"conformance_probe_absent_{uuid.uuid4().hex[:12]}"


def _understood(row: dict[str, Any], kind: SecurableType, name: str) -> bool:
    """Whether the collector turns one SHOW GRANTS row into a grant on a known privilege, or an owner."""
    parsed = parse_show_grants([row], kind, name)
    if parsed.owners:
        return True
    return bool(parsed.grants) and all(g.privilege in KNOWN_PRIVILEGES for g in parsed.grants)
