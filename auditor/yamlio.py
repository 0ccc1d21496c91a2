"""YAML loading that remembers where every value came from, for errors that name file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.cyaml import CParser  # type: ignore[attr-defined]
from yaml.resolver import Resolver

from auditor.errors import InputError
from auditor.loading import Limits, read_text

__all__ = ["LineIndex", "Loc", "format_loc", "load_yaml", "parse_yaml", "validation_error"]


Loc = tuple[str | int, ...]


@dataclass
class LineIndex:
    """Maps a path of keys/indices inside a YAML document to the line (1-based) it starts on."""

    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        probe = tuple(loc)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), None)


class _Refused(yaml.MarkedYAMLError):
    """A limit of the guarded loader: the message needs no "invalid YAML" prefix."""

    def __init__(self, problem: str, mark: Any, loc: Loc):
        super().__init__(problem=problem, problem_mark=mark)
        self.loc = loc


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _GuardedLoader(Composer, CParser, SafeConstructor, Resolver):
    """libyaml's parser feeding PyYAML's composer, which is guarded here.

    Composition counts values, aliases and depth and stops at the first limit, so neither a deep nesting
    (Python recursion), a recursive alias (a cycle) nor an alias bomb (exponential expansion) gets past it.
    Mapping keys must be unique.
    """

    def __init__(self, text: str, limits: Limits):
        Composer.__init__(self)
        CParser.__init__(self, text)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.limits = limits
        self.nodes = 0
        self.aliases = 0
        self.loc: list[str | int] = []
        self.enclosing_anchors: list[str] = []  # of the collections being composed: its length is the depth

    def refuse(self, problem: str, mark: Any) -> _Refused:
        return _Refused(problem, mark, tuple(self.loc))

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        part = index.value if isinstance(index, yaml.ScalarNode) else index if isinstance(index, int) else None
        if part is not None:
            self.loc.append(part)
        try:
            return self._compose_counted(parent, index)
        finally:
            if part is not None:
                self.loc.pop()

    def _compose_counted(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise self.refuse(f"more than {self.limits.max_aliases} aliases", event.start_mark)
            if event.anchor in self.enclosing_anchors:
                raise self.refuse(f"alias *{event.anchor} is inside its own anchor (recursive)", event.start_mark)
            return super().compose_node(parent, index)
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise self.refuse(f"more than {self.limits.max_nodes:,} values", event.start_mark)
        collection = isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent))
        if collection and len(self.enclosing_anchors) >= self.limits.max_depth:
            raise self.refuse(f"nested deeper than {self.limits.max_depth} levels", event.start_mark)
        self.enclosing_anchors.append(getattr(event, "anchor", None) or "")
        try:
            return super().compose_node(parent, index)
        finally:
            self.enclosing_anchors.pop()

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. an integer of 100,000 digits
            raise _Refused(f"invalid value: {str(exc).split(';')[0]}", node.start_mark, ()) from None

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key = (key_node.tag, key_node.value)
                if key in seen:
                    self.loc.append(key_node.value)
                    raise self.refuse(f"duplicate key {key_node.value!r}", key_node.start_mark)
                seen.add(key)
        return node


def _check_expansion(root: yaml.Node, limits: Limits) -> None:
    """Aliases share nodes; refuse a document that, once every alias is expanded, is too big or too deep."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, collection depth), once per shared node

    def measure(node: yaml.Node, above: int) -> tuple[int, int]:
        """``above``: how many collections enclose ``node`` where it is reached."""
        known = measured.get(id(node))
        if known is None:
            known = measured[id(node)] = measure_new(node, above)
        if above + known[1] > limits.max_depth:
            raise _Refused(f"nested deeper than {limits.max_depth} levels once aliases expand", node.start_mark, ())
        return known

    def measure_new(node: yaml.Node, above: int) -> tuple[int, int]:
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            return 1, 0
        if above + 1 > limits.max_depth:
            raise _Refused(f"nested deeper than {limits.max_depth} levels once aliases expand", node.start_mark, ())
        values, depth = 1, 0
        for child in children:
            child_values, child_depth = measure(child, above + 1)
            values, depth = values + child_values, max(depth, child_depth)
            if values > limits.max_nodes:
                problem = f"more than {limits.max_nodes:,} values once aliases expand (an alias bomb?)"
                raise _Refused(problem, node.start_mark, ())
        return values, depth + 1

    measure(root, 0)


def _index_node(node: yaml.Node, loc: Loc, index: LineIndex) -> None:
    index.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index.lines[(*loc, key)] = key_node.start_mark.line + 1
            _index_node(value_node, (*loc, key), index)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_node(item, (*loc, i), index)


def parse_yaml(path: str | Path, text: str, limits: Limits) -> tuple[Any, LineIndex]:
    """Parse one YAML document within ``limits``; every problem becomes `InputError` with the line."""
    loader = _GuardedLoader(text, limits)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineIndex()
        _check_expansion(node, limits)
        data = loader.construct_document(node)
    except _Refused as exc:
        mark = exc.problem_mark
        raise InputError(
            path, str(exc.problem), line=mark.line + 1 if mark else None, field=format_loc(exc.loc) or None
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc)
        raise InputError(path, f"invalid YAML: {problem}", line=mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise InputError(path, f"invalid YAML: {exc.reason} (character {exc.character!r})", line=line) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        raise InputError(path, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    index = LineIndex()
    _index_node(node, (), index)
    return data, index


def load_yaml(path: str | Path, limits: Limits) -> tuple[Any, LineIndex]:
    """Read (through the guarded file reader) and parse one YAML document."""
    return parse_yaml(path, read_text(path, limits), limits)


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _strip_union_tags(loc: Sequence[str | int], data: Any) -> tuple[str | int, ...]:
    """Drop the path parts pydantic adds for union members (``auth.pat.token`` -> ``auth.token``)."""
    kept: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and index < len(loc) - 1:
            continue  # a union tag: not a key of the document
        else:
            current = None
        kept.append(part)
    return tuple(kept)


def validation_error(
    path: str | Path, exc: ValidationError, index: LineIndex, prefix: Loc = (), data: Any = None
) -> InputError:
    """The first error of a pydantic validation, as an `InputError` naming file, line and field."""
    errors = exc.errors(include_url=False)
    primary = [e for e in errors if e["type"] != "too_short"] or errors  # too_short cascades from item errors
    err = primary[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if data is not None:
        loc = _strip_union_tags(loc, data)
    full = (*prefix, *loc)
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "required field is missing"
    more = len(primary) - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return InputError(path, message, line=index.line_of(full), field=format_loc(full) or None)
