"""Compile the supported subset of ``SELECT`` over one read-only view, and run it over that view's rows.

Supported: ``SELECT [DISTINCT] * | col [AS alias], ... FROM <one table> [alias] [WHERE ...] [ORDER BY ...]
[LIMIT n]``, where WHERE is AND-ed ``col = 'x'``, ``col <> 'x'`` (``!=``), ``col [NOT] IN ('a', ...)``,
with ``lower(col)``/``upper(col)`` and ``coalesce(col, 'x')`` allowed in place of ``col``. Column references are
case-insensitive.
Everything else raises `SqlError` UNSUPPORTED_FEATURE rather than being answered approximately.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from auditor_sandbox.sql_errors import SqlError
from auditor_sandbox.sql_result import ResultSet, Row

_SELECT_CLAUSES = frozenset({"expressions", "from_", "where", "order", "limit", "distinct"})
_WHERE_HELP = (
    "WHERE conditions other than AND-ed col = 'x', col <> 'x', col [NOT] IN ('x', ...), coalesce(col, 'y') = 'x'"
)

Fold = Literal["lower", "upper"] | None


@dataclass(frozen=True, slots=True)
class TableRef:
    """The one table a SELECT reads: its name parts as written (1 to 3) and its alias."""

    parts: tuple[str, ...]
    alias: str | None


@dataclass(frozen=True, slots=True)
class Condition:
    """One WHERE conjunct: the (optionally case-folded) column value is, or is not, one of `values`."""

    column: int
    values: frozenset[str]
    negated: bool = False
    fold: Fold = None
    if_null: str | None = None

    def matches(self, row: Row) -> bool:
        """SQL semantics: a NULL value satisfies neither ``=`` nor ``<>`` (unless coalesced to `if_null`)."""
        value = row[self.column]
        if value is None:
            value = self.if_null
        if value is None:
            return False
        if self.fold == "lower":
            value = value.lower()
        elif self.fold == "upper":
            value = value.upper()
        return (value in self.values) != self.negated


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ORDER BY key over a view column."""

    column: int
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """A compiled SELECT over a view with known columns."""

    output_names: tuple[str, ...]
    projection: tuple[int, ...]
    conditions: tuple[Condition, ...]
    order: tuple[SortKey, ...]
    distinct: bool
    limit: int | None

    def candidates(self, column: int) -> frozenset[str] | None:
        """Lower-cased values a column can take given the positive conditions, None if unconstrained.

        For narrowing the rows a view generates (case-insensitive lookups); `run` still applies the exact
        conditions to every row.
        """
        allowed: frozenset[str] | None = None
        for condition in self.conditions:
            if condition.column == column and not condition.negated:
                values = frozenset(value.lower() for value in condition.values)
                allowed = values if allowed is None else allowed & values
        return allowed

    def accepts(self, row: Row) -> bool:
        """Whether a view row satisfies every WHERE conjunct."""
        return all(condition.matches(row) for condition in self.conditions)

    def run(self, rows: Iterable[Row]) -> ResultSet:
        """Filter, sort, project, de-duplicate and limit the view's rows."""
        kept = [row for row in rows if self.accepts(row)] if self.conditions else list(rows)
        for key in reversed(self.order):
            present = [row for row in kept if row[key.column] is not None]
            missing = [row for row in kept if row[key.column] is None]
            present.sort(key=lambda row, index=key.column: row[index], reverse=key.descending)  # type: ignore[misc]
            kept = missing + present if key.nulls_first else present + missing
        projected: list[Row] = [tuple(row[index] for index in self.projection) for row in kept]
        if self.distinct:
            projected = list(dict.fromkeys(projected))
        if self.limit is not None:
            projected = projected[: self.limit]
        return ResultSet(self.output_names, projected)


def table_of(select: exp.Select) -> TableRef | None:
    """The single table in FROM (None without FROM); joins, subqueries and table options are refused."""
    _check_clauses(select)
    source = select.args.get("from_")
    if source is None:
        return None
    table = source.this
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise SqlError.unsupported("FROM anything but one table or view")
    extra = [key for key, value in table.args.items() if value and key not in ("this", "db", "catalog", "alias")]
    if extra:
        raise SqlError.unsupported(f"table options ({', '.join(sorted(extra))})")
    alias = table.args.get("alias")
    if alias is not None and alias.args.get("columns"):
        raise SqlError.unsupported("column aliases on a table")
    parts = tuple(part for part in (table.catalog, table.db, table.name) if part)
    return TableRef(parts, alias.name if alias is not None else None)


def compile_view_query(select: exp.Select, columns: tuple[str, ...], table: TableRef) -> ViewQuery:
    """Compile a SELECT over a view whose columns are `columns` (upper-case names)."""
    _check_clauses(select)
    resolver = _ColumnResolver(columns, table)
    output_names: list[str] = []
    projection: list[int] = []
    for expression in select.expressions:
        for name, index in resolver.select_item(expression):
            output_names.append(name)
            projection.append(index)
    where = select.args.get("where")
    conditions = tuple(_conditions(where.this, resolver)) if where is not None else ()
    order = _order(select.args.get("order"), resolver, output_names, projection)
    distinct = select.args.get("distinct")
    if distinct is not None and distinct.args.get("on"):
        raise SqlError.unsupported("DISTINCT ON")
    if distinct is not None and any(key.column not in projection for key in order):
        raise SqlError.unsupported("ORDER BY a column not selected together with DISTINCT")
    return ViewQuery(
        tuple(output_names),
        tuple(projection),
        conditions,
        order,
        distinct is not None,
        limit_value(select.args.get("limit")),
    )


def _check_clauses(select: exp.Select) -> None:
    extra = [key for key, value in select.args.items() if value and key not in _SELECT_CLAUSES]
    if extra:
        raise SqlError.unsupported(f"SELECT clauses other than FROM, WHERE, ORDER BY, LIMIT ({extra[0]})")


class _ColumnResolver:
    """Resolves column references (optionally qualified by the table name or alias) to view columns."""

    def __init__(self, columns: tuple[str, ...], table: TableRef) -> None:
        self.columns = columns
        self._index = {name.lower(): position for position, name in enumerate(columns)}
        self._qualifiers = {part.lower() for part in (table.alias, table.parts[-1]) if part}

    def select_item(self, expression: exp.Expression) -> list[tuple[str, int]]:
        if isinstance(expression, exp.Star) and not any(expression.args.values()):
            return list(zip(self.columns, range(len(self.columns)), strict=True))
        if isinstance(expression, exp.Column) and isinstance(expression.this, exp.Star):
            self._check_qualifier(expression)
            if any(expression.this.args.values()):
                raise SqlError.unsupported("SELECT * with EXCEPT, REPLACE or RENAME")
            return list(zip(self.columns, range(len(self.columns)), strict=True))
        if isinstance(expression, exp.Alias) and isinstance(expression.this, exp.Column):
            return [(expression.alias, self.column(expression.this))]
        if isinstance(expression, exp.Column):
            index = self.column(expression)
            return [(self.columns[index], index)]
        raise SqlError.unsupported(f"select expressions other than columns ({expression.sql('databricks')})")

    def column(self, expression: exp.Expression) -> int:
        if not isinstance(expression, exp.Column) or not isinstance(expression.this, exp.Identifier):
            raise SqlError.unsupported(f"the expression {expression.sql('databricks')}")
        self._check_qualifier(expression)
        index = self._index.get(expression.name.lower())
        if index is None:
            raise SqlError.unresolved_column(expression.name, list(self.columns))
        return index

    def _check_qualifier(self, column: exp.Column) -> None:
        if column.args.get("db") or column.args.get("catalog"):
            raise SqlError.unsupported("column references qualified by schema or catalog")
        qualifier = column.table
        if qualifier and qualifier.lower() not in self._qualifiers:
            raise SqlError.unresolved_column(f"{qualifier}.{column.name}", list(self.columns))


def _conditions(node: exp.Expression, resolver: _ColumnResolver) -> list[Condition]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conditions(node.this, resolver) + _conditions(node.expression, resolver)
    if isinstance(node, exp.EQ | exp.NEQ):
        left, right = node.this, node.expression
        if isinstance(left, exp.Literal | exp.Concat):
            left, right = right, left
        if isinstance(left, exp.Coalesce) and len(left.expressions) == 1:
            column, fold = _operand(left.this, resolver)
            if_null = _string(left.expressions[0])
            return [Condition(column, frozenset({_string(right)}), isinstance(node, exp.NEQ), fold, if_null)]
        column, fold = _operand(left, resolver)
        return [Condition(column, frozenset({_string(right)}), isinstance(node, exp.NEQ), fold)]
    negated = isinstance(node, exp.Not)
    inner = node.this if negated else node
    if isinstance(inner, exp.In) and not any(inner.args.get(key) for key in ("query", "unnest", "field", "is_global")):
        column, fold = _operand(inner.this, resolver)
        values = frozenset(_string(value) for value in inner.expressions)
        return [Condition(column, values, negated, fold)]
    raise SqlError.unsupported(_WHERE_HELP)


def _operand(node: exp.Expression, resolver: _ColumnResolver) -> tuple[int, Fold]:
    if isinstance(node, exp.Lower):
        return resolver.column(node.this), "lower"
    if isinstance(node, exp.Upper):
        return resolver.column(node.this), "upper"
    if isinstance(node, exp.Column):
        return resolver.column(node), None
    raise SqlError.unsupported(_WHERE_HELP)


def _string(node: exp.Expression) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    if isinstance(node, exp.Concat) and node.expressions:  # adjacent literals: 'a' 'b' is 'ab'
        return "".join(_string(part) for part in node.expressions)
    raise SqlError.unsupported(f"{_WHERE_HELP}: {node.sql('databricks')}")


def _order(
    order: exp.Order | None, resolver: _ColumnResolver, output_names: list[str], projection: list[int]
) -> tuple[SortKey, ...]:
    if order is None:
        return ()
    keys: list[SortKey] = []
    aliases = {name.lower(): index for name, index in zip(output_names, projection, strict=True)}
    for ordered in order.expressions:
        target = ordered.this
        if isinstance(target, exp.Literal) and not target.is_string:
            position = int(str(target.this))
            if not 1 <= position <= len(projection):
                raise SqlError(
                    "ORDER_BY_POS_OUT_OF_RANGE",
                    f"ORDER BY position {position} is not in select list (valid range is [1, {len(projection)}]).",
                    "42805",
                )
            column = projection[position - 1]
        elif isinstance(target, exp.Column) and not target.table and target.name.lower() in aliases:
            column = aliases[target.name.lower()]
        else:
            column = resolver.column(target)
        keys.append(SortKey(column, bool(ordered.args.get("desc")), bool(ordered.args.get("nulls_first"))))
    return tuple(keys)


def limit_value(limit: exp.Expression | None) -> int | None:
    """The row count of a LIMIT clause (None without one); only a plain non-negative integer is accepted."""
    if limit is None:
        return None
    if any(limit.args.get(key) for key in ("offset", "limit_options", "expressions")):
        raise SqlError.unsupported("LIMIT with options")
    value = limit.expression
    if not isinstance(value, exp.Literal) or value.is_string or not str(value.this).isdigit():
        raise SqlError.unsupported("LIMIT other than a non-negative integer")
    return int(str(value.this))
