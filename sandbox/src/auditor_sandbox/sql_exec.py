"""Execute one SQL statement against the sandbox workspace: the SQL warehouse's engine.

`execute_statement` takes the session's namespace and returns the result and the (possibly changed)
namespace; it raises `SqlError` for anything it does not support or that fails, never answering approximately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from auditor_sandbox.entities import Identity
from auditor_sandbox.sql_errors import SqlError
from auditor_sandbox.sql_grants import change_grants, show_grants
from auditor_sandbox.sql_infoschema import select_information_schema
from auditor_sandbox.sql_parse import (
    ChangeGrants,
    SelectQuery,
    ShowGrants,
    UseNamespace,
    parse_statement,
)
from auditor_sandbox.sql_resolve import Namespace, resolve_catalog, resolve_schema
from auditor_sandbox.sql_result import NO_RESULT, ResultSet
from auditor_sandbox.sql_select import limit_value, table_of
from auditor_sandbox.state import WorkspaceState


@dataclass(frozen=True, slots=True)
class Execution:
    """What a statement produced: its result and the session namespace after it."""

    result: ResultSet
    namespace: Namespace


def execute_statement(state: WorkspaceState, identity: Identity, namespace: Namespace, sql: str) -> Execution:
    """Parse and run one statement for `identity` in a session whose current namespace is `namespace`."""
    statement = parse_statement(sql)
    if isinstance(statement, ShowGrants):
        return Execution(show_grants(state, identity, namespace, statement), namespace)
    if isinstance(statement, ChangeGrants):
        return Execution(change_grants(state, identity, namespace, statement), namespace)
    if isinstance(statement, UseNamespace):
        return Execution(NO_RESULT, use_namespace(state, namespace, statement))
    return Execution(_select(state, identity, namespace, statement), namespace)


def use_namespace(state: WorkspaceState, namespace: Namespace, statement: UseNamespace) -> Namespace:
    """``USE CATALOG c`` (schema becomes ``default``) or ``USE [SCHEMA] [c.]s``; the target must exist."""
    with state.lock:
        if statement.kind == "CATALOG":
            catalog = resolve_catalog(state, statement.name_parts[0])
            return Namespace(catalog.full_name, "default")
        parts = statement.name_parts
        catalog_name, schema_name = (namespace.catalog, *parts) if len(parts) == 1 else parts
        schema = resolve_schema(state, catalog_name, schema_name)
    catalog_part, schema_part = schema.full_name.split(".", 1)
    return Namespace(catalog_part, schema_part)


def initial_namespace(state: WorkspaceState, catalog: str | None, schema: str | None) -> Namespace:
    """The namespace a new session starts in: the client's initial catalog/schema, else the default.

    The default is the metastore's default catalog when one is set, else ``hive_metastore``, schema
    ``default`` (a workspace without a default catalog setting).
    """
    default_catalog = state.catalog.metastore.default_catalog_name if state.catalog.metastore is not None else None
    namespace = Namespace(default_catalog) if default_catalog else Namespace()
    if catalog:
        namespace = use_namespace(state, namespace, UseNamespace("CATALOG", (catalog,)))
    if schema:
        namespace = use_namespace(state, namespace, UseNamespace("SCHEMA", (schema,)))
    return namespace


def _select(state: WorkspaceState, identity: Identity, namespace: Namespace, query: SelectQuery) -> ResultSet:
    table = table_of(query.tree)
    if table is not None:
        return select_information_schema(state, identity, namespace, query.tree, table)
    if query.tree.args.get("where") or query.tree.args.get("order") or query.tree.args.get("distinct"):
        raise SqlError.unsupported("WHERE, ORDER BY or DISTINCT without FROM")
    names: list[str] = []
    values: list[str | None] = []
    for expression in query.tree.expressions:
        name, value = _scalar(state, identity, namespace, expression)
        names.append(name)
        values.append(value)
    rows = [tuple(values)]
    limit = limit_value(query.tree.args.get("limit"))
    return ResultSet(tuple(names), rows if limit is None else rows[:limit])


def _scalar(
    state: WorkspaceState, identity: Identity, namespace: Namespace, expression: exp.Expression
) -> tuple[str, str | None]:
    """A session function (`current_metastore()` and friends), optionally aliased: (column name, value)."""
    alias: str | None = None
    if isinstance(expression, exp.Alias):
        alias, expression = expression.alias, expression.this
    function = _function_name(expression)
    evaluate = _FUNCTIONS.get(function) if function else None
    if evaluate is None:
        raise SqlError.unsupported(f"the expression {expression.sql('databricks')} (only session functions)")
    return alias or f"{function}()", evaluate(state, identity, namespace)


def _function_name(expression: exp.Expression) -> str | None:
    if isinstance(expression, exp.Anonymous) and not expression.expressions:
        return str(expression.name).lower()
    known: dict[type[exp.Expression], str] = {
        exp.CurrentCatalog: "current_catalog",
        exp.CurrentSchema: "current_schema",
        exp.CurrentDatabase: "current_database",
        exp.CurrentUser: "current_user",
    }
    for kind, name in known.items():
        if type(expression) is kind and not any(expression.args.values()):
            return name
    return None


def _current_metastore(state: WorkspaceState, identity: Identity, namespace: Namespace) -> str:
    metastore = state.catalog.metastore
    if metastore is None:
        raise SqlError.no_metastore()
    return metastore.global_metastore_id


_FUNCTIONS: dict[str, Callable[[WorkspaceState, Identity, Namespace], str | None]] = {
    "current_metastore": _current_metastore,
    "current_catalog": lambda state, identity, namespace: namespace.catalog,
    "current_schema": lambda state, identity, namespace: namespace.schema,
    "current_database": lambda state, identity, namespace: namespace.schema,
    "current_user": lambda state, identity, namespace: identity.name,
}
