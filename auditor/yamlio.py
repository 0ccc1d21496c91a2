"""YAML loading that remembers where every value came from, for errors that name file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from auditor.errors import InputError

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


class _Loader(yaml.SafeLoader):
    pass


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


def load_yaml(path: str | Path, text: str | None = None) -> tuple[Any, LineIndex]:
    """Parse one YAML document; syntax errors become `InputError` with the line."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(path, f"invalid YAML: {problem}", line=line) from exc
    index = LineIndex()
    if node is not None:
        _index_node(node, (), index)
    return data, index


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
