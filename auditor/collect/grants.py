"""Grants of the planned securables (and their ancestors) and of watched catalogs, through SQL or REST.

Once the SQL decision is known (`auditor.collect.strategy`): with a SQL session every grant is read
through it (``SHOW GRANTS`` per securable, one ``information_schema`` statement per privilege view for
all watched catalogs); without one, Unity Catalog grants go through REST in parallel tasks, hive_metastore
grants are FAILED with the reason SQL is unavailable, and ``collection: sql`` fails everything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from auditor.collect.clients import RestClient
from auditor.collect.interface import (
    FactSink,
    NotVisible,
    ObjectNotFound,
    ReadFailed,
    ReadFailure,
    principal_scope,
    watch_scope,
)
from auditor.collect.rest_grants import UC, read_grants, read_watched_catalog, segment
from auditor.collect.scopes import ReadPlan, Scope, needs_sql
from auditor.collect.sql_grants import (
    parse_show_grants,
    read_principal_grants,
    read_watched_catalogs,
    show_grants_statement,
)
from auditor.collect.sqlconn import SqlSession
from auditor.model.facts import FactFamily, Grant, Securable, SecurableType, securable_key
from auditor.privileges.names import CATALOG_OBJECTS, catalog_of, is_hive
from auditor.settings import TargetSettings

F = FactFamily


class BulkVisibility:
    """Whether the auditor provably sees every row of information_schema.

    information_schema rows are filtered, without any error, to "only the objects you have Unity Catalog
    privileges to access" (docs: sql-ref-information-schema), and holders of MANAGE see only their own grants
    there. Only a metastore admin (the metastore's owner, or a member of the owning group) or the owner of a
    catalog, who holds every privilege on it and may read all its grants, is taken to see every row; any other
    auditor's bulk read is partial.
    """

    def __init__(self, rest: Callable[[], RestClient], identity: str | None, names: frozenset[str]) -> None:
        self._rest = rest
        self._identity = identity or "the auditor"
        self._names = frozenset(n.lower() for n in names)
        self._metastore_owner: str | None = None
        self._lookup_reason: str | None = None
        try:
            owner = rest().get(f"{UC}/metastore_summary").get("owner")
            self._metastore_owner = owner if isinstance(owner, str) and owner else None
        except ReadFailure as failure:
            self._lookup_reason = failure.reason
        except ObjectNotFound:
            pass  # no metastore: nobody is its admin

    @property
    def metastore_admin(self) -> bool:
        return self._metastore_owner is not None and self._metastore_owner.lower() in self._names

    def _owns_catalog(self, catalog: str) -> bool:
        try:
            owner = self._rest().get(f"{UC}/catalogs/{segment(catalog)}").get("owner")
        except (ReadFailure, ObjectNotFound):
            return False
        return isinstance(owner, str) and owner.lower() in self._names

    def gap(self, catalog: str | None) -> ReadFailure | None:
        """None when every row of ``catalog`` (None: the whole metastore) is visible; else why it may not be."""
        if self.metastore_admin or (catalog is not None and self._owns_catalog(catalog)):
            return None
        what = f"owner of {catalog}" if catalog is not None else "owner of every catalog"
        detail = f"information_schema shows only what {self._identity} may see"
        if self._lookup_reason is not None:
            return ReadFailed(
                f"{detail}, and whether it is a metastore admin could not be read: {self._lookup_reason}",
                api_family="unity-catalog",
            )
        return NotVisible(f"{detail}; the auditor is not a metastore admin or {what}", identity=self._identity)

    def hidden(self, securable_type: SecurableType, name: str) -> ReadFailure | None:
        """Why a Unity Catalog not-found for this securable may hide it, or None when it proves it absent.

        Docs, TABLE_OR_VIEW_NOT_FOUND: among the most common reasons, "The user has no access to the object and
        therefore cannot see it"; Unity Catalog may answer not-found for what the caller cannot see. Only an
        auditor that provably sees every object of the catalog (a metastore admin, or the catalog's owner, as for
        information_schema) may take not-found as absence. hive_metastore objects are not filtered this way: a
        workspace admin administers its table ACLs, and its not-found stays absence.
        """
        if securable_type in CATALOG_OBJECTS and is_hive(name):
            return None
        catalog = catalog_of(securable_type, name)
        if self.metastore_admin or (
            catalog is not None and securable_type is not SecurableType.CATALOG and self._owns_catalog(catalog)
        ):
            return None
        detail = (
            f"{securable_type.value} {name} was not found, and Unity Catalog answers not-found for what the caller "
            "cannot see"
        )
        if self._lookup_reason is not None:
            return ReadFailed(
                f"{detail}; whether the auditor is a metastore admin could not be read: {self._lookup_reason}",
                api_family="unity-catalog",
            )
        owner = f" or owner of {catalog}" if catalog is not None and securable_type is not SecurableType.CATALOG else ""
        return NotVisible(f"{detail}; the auditor is not a metastore admin{owner}", identity=self._identity)


class CycleContext(Protocol):
    """What the grant reader needs from the running cycle."""

    target: TargetSettings
    reads: ReadPlan
    sink: FactSink
    metastore_id: str | None
    sql_reason: str | None
    identity: str | None
    identity_names: frozenset[str]

    def rest(self) -> RestClient: ...

    def visibility(self) -> BulkVisibility: ...

    def task(self, scopes: list[Scope], fn: Callable[..., Any], *args: Any) -> Future[Any]: ...

    def await_result(self, future: Future[Any] | None, *, limit: float | None = None) -> Any: ...


class GrantReader:
    """Reads every planned GRANTS scope (and hive_metastore SECURABLES, which only SQL can see)."""

    def __init__(self, cycle: CycleContext) -> None:
        self._cycle = cycle
        self._reads = cycle.reads
        self._sink = cycle.sink

    @staticmethod
    def uc_candidates(reads: ReadPlan) -> bool:
        """Some Unity Catalog grant read could go through SQL."""
        grants = reads.wants(F.GRANTS) and any(not needs_sql(t, n) for t, n in reads.securables)
        return grants or any(not is_hive(c) for c in reads.watched_catalogs)

    @staticmethod
    def hive_needed(reads: ReadPlan) -> bool:
        """Some hive_metastore grant or securable is planned: only SQL can read it."""
        return reads.wants(F.GRANTS, F.SECURABLES) and any(needs_sql(t, n) for t, n in reads.securables)

    def scopes(self) -> list[Scope]:
        """Every scope this reader records a status for."""
        scopes: list[Scope] = []
        for securable_type, name in self._reads.securables:
            scopes += self._families(securable_type, name)
        scopes += [(F.GRANTS, watch_scope(c)) for c in self._reads.watched_catalogs]
        return scopes + [(F.GRANTS, principal_scope(p)) for p in self._reads.swept_principals]

    def _families(self, securable_type: SecurableType, name: str) -> list[Scope]:
        key = securable_key(securable_type, name)
        scopes: list[Scope] = [(F.GRANTS, key)] if self._reads.wants(F.GRANTS) else []
        hive = needs_sql(securable_type, name) and securable_type is not SecurableType.ANY_FILE
        return scopes + ([(F.SECURABLES, key)] if hive and self._reads.wants(F.SECURABLES) else [])

    def read(self, sql_future: Future[Any] | None, metastore_future: Future[Any] | None) -> None:
        """Wait for the SQL decision, then read every grant scope one way or the other."""
        try:
            session: SqlSession | None = self._cycle.await_result(sql_future)
        except ReadFailure as failure:
            session, self._cycle.sql_reason = None, failure.reason
        if session is not None:
            self._read_through_sql(session)
            return
        self._fail_sql_only()
        if self._cycle.target.collection == "sql":
            return
        if any(t is SecurableType.METASTORE for t, _ in self._reads.securables):
            with contextlib.suppress(ReadFailure):  # metastore grants then fail for want of its id
                self._cycle.await_result(metastore_future)
        for securable_type, name in self._reads.securables:
            if not needs_sql(securable_type, name) and self._reads.wants(F.GRANTS):
                key = securable_key(securable_type, name)
                self._cycle.task([(F.GRANTS, key)], self._rest_grants, securable_type, name)
        for catalog in self._reads.watched_catalogs:
            if not is_hive(catalog):
                self._cycle.task([(F.GRANTS, watch_scope(catalog))], self._rest_watch, catalog)

    # ---- without SQL ------------------------------------------------------------------------------

    def _fail_sql_only(self) -> None:
        """Record every scope that needs SQL as FAILED, with the reason SQL is unavailable."""
        reason = self._cycle.sql_reason or "SQL is unavailable"
        sql_mode = self._cycle.target.collection == "sql"
        for securable_type, name in self._reads.securables:
            if needs_sql(securable_type, name):
                failure = ReadFailed(f"hive_metastore is readable through SQL only: {reason}", api_family="sql")
            elif sql_mode:
                failure = ReadFailed(f"collection is 'sql' and SQL is unavailable: {reason}", api_family="sql")
            else:
                continue
            for family, scope in self._families(securable_type, name):
                self._sink.fail(family, scope, failure)
        for catalog in self._reads.watched_catalogs:
            if is_hive(catalog):
                failure = ReadFailed("hive_metastore cannot be watched in bulk: information_schema does not cover it")
            elif sql_mode:
                failure = ReadFailed(f"collection is 'sql' and SQL is unavailable: {reason}", api_family="sql")
            else:
                continue
            self._sink.fail(F.GRANTS, watch_scope(catalog), failure)
        # Unity Catalog's REST API has no "every grant to a principal" call: one request per object would not scale
        sweep = ReadFailed(
            f"finding every grant to a principal needs SQL (information_schema), which is unavailable: {reason}",
            api_family="sql",
        )
        for principal in self._reads.swept_principals:
            self._sink.fail(F.GRANTS, principal_scope(principal), sweep)

    def _rest_grants(self, securable_type: SecurableType, name: str) -> None:
        key = securable_key(securable_type, name)
        try:
            grants = read_grants(
                self._cycle.rest(), securable_type, name, metastore_id=self._cycle.metastore_id, absent_ok=False
            )
        except ObjectNotFound:
            hidden = self._cycle.visibility().hidden(securable_type, name)
            if hidden is not None:
                self._sink.fail(F.GRANTS, key, hidden)
                return
            grants = []
        self._sink.commit(F.GRANTS, key, grants=grants)

    def _rest_watch(self, catalog: str) -> None:
        self._sink.commit(F.GRANTS, watch_scope(catalog), grants=read_watched_catalog(self._cycle.rest(), catalog))

    # ---- with SQL ---------------------------------------------------------------------------------

    def _read_through_sql(self, session: SqlSession) -> None:
        for securable_type, name in self._reads.securables:
            if self._families(securable_type, name):
                self._show_grants(session, securable_type, name)
        catalogs = [c for c in self._reads.watched_catalogs if not is_hive(c)]
        for catalog in self._reads.watched_catalogs:
            if is_hive(catalog):
                reason = "hive_metastore cannot be watched in bulk: information_schema does not cover it"
                self._sink.fail(F.GRANTS, watch_scope(catalog), ReadFailed(reason))
        principals = self._reads.swept_principals
        if not catalogs and not principals:
            return
        visibility = self._cycle.visibility()
        if catalogs:
            by_catalog: dict[str, list[Grant]] = {}  # one pass, however many catalogs are watched
            for grant in read_watched_catalogs(session, catalogs):
                key = (catalog_of(grant.securable_type, grant.securable_name) or "").lower()
                by_catalog.setdefault(key, []).append(grant)
            for catalog in catalogs:
                self._record_bulk(watch_scope(catalog), by_catalog.get(catalog.lower(), []), visibility.gap(catalog))
        if principals:
            sweep = read_principal_grants(session, principals)
            gap = visibility.gap(None)
            unread = sweep.unread_views
            by_principal: dict[str, list[Grant]] = {}
            for grant in sweep.grants:
                by_principal.setdefault(grant.principal.lower(), []).append(grant)
            for principal in principals:
                theirs = by_principal.get(principal.lower(), [])
                if unread and gap is None:
                    views = ", ".join(f"information_schema.{v}" for v in unread)
                    self._sink.add_facts(grants=theirs)
                    self._sink.fail(
                        F.GRANTS,
                        principal_scope(principal),
                        ReadFailed(f"{views} does not exist on this warehouse: grants on those securables not read"),
                    )
                else:
                    self._record_bulk(principal_scope(principal), theirs, gap)

    def _record_bulk(self, scope: str, grants: list[Grant], gap: ReadFailure | None) -> None:
        """A bulk read is READ only when the auditor provably sees every row; otherwise its grants were seen
        (and still count as excess or exposure) but the scope is not READ."""
        if gap is None:
            self._sink.commit(F.GRANTS, scope, grants=grants)
            return
        self._sink.add_facts(grants=grants)
        self._sink.fail(F.GRANTS, scope, gap)

    def _show_grants(self, session: SqlSession, securable_type: SecurableType, name: str) -> None:
        scopes = self._families(securable_type, name)
        try:
            rows = session.query(show_grants_statement(securable_type, name))
        except ObjectNotFound:
            hidden = self._cycle.visibility().hidden(securable_type, name)
            for family, scope in scopes:
                if hidden is None:
                    self._sink.commit(family, scope)
                else:
                    self._sink.fail(family, scope, hidden)
            return
        except ReadFailure as failure:
            for family, scope in scopes:
                self._sink.fail(family, scope, failure)
            return
        result = parse_show_grants(rows, securable_type, name)
        for family, scope in scopes:
            if family is F.GRANTS:
                self._sink.commit(family, scope, grants=result.grants)
            else:
                owner = next(
                    (o for (t, n), o in result.owners.items() if t is securable_type and n.lower() == name.lower()),
                    None,
                )
                securable = Securable(type=securable_type, full_name=name, owner=owner)
                self._sink.commit(family, scope, securables=[securable])
