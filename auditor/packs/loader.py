"""Load rule packs from YAML, validate them against the schema and the check kinds, bind parameters.

Every error names the file, the line and the field, and nothing starts: `InputError`. The check kinds are
given by the caller (`auditor.evaluate.registry.builtin_kind_args`), each kind's name with its argument
model: this package knows the pack language, not the kinds that implement it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auditor.errors import InputError
from auditor.loading import RULE_PACK
from auditor.model.facts import Binding
from auditor.packs.schema import PARAM_REF, KindArgs, PackSpec, ParamSpec, RuleSpec
from auditor.yamlio import LineIndex, Loc, load_yaml, parse_yaml, validation_error

PACK_SUFFIXES = (".yaml", ".yml")

KindArgModels = Mapping[str, type[KindArgs]]
"""Check kinds a pack may name: each kind's name with the model its arguments validate into."""

_PROBE_VALUES: dict[str, Any] = {
    "string": "probe",
    "principal": "probe@example.com",
    "integer": 1,
    "boolean": True,
    "list": ["probe.probe"],
    "map": {},
}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "principal": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "list": (list, tuple),
    "map": (dict,),
}


def bundled_rules() -> Traversable:
    """The packs shipped inside the package (`auditor/rules/`), wherever and however it is installed."""
    return files("auditor.rules")


@dataclass(frozen=True)
class LoadedPack:
    spec: PackSpec
    path: Traversable  # a file of a user's rule_dirs, or one inside the package
    lines: LineIndex
    kinds: KindArgModels  # the check kinds the pack was validated against, and is bound with

    @property
    def name(self) -> str:
        return self.spec.pack

    def rule_line(self, index: int, *field: str | int) -> int | None:
        return self.lines.line_of(("rules", index, *field))


@dataclass(frozen=True)
class PackSet:
    packs: Mapping[str, LoadedPack]

    def get(self, name: str) -> LoadedPack | None:
        return self.packs.get(name)

    def names(self) -> list[str]:
        return sorted(self.packs)

    def __iter__(self) -> Iterator[LoadedPack]:
        return iter([self.packs[name] for name in sorted(self.packs)])


@dataclass(frozen=True)
class BoundRule:
    """A rule with its parameters bound: ready to plan and evaluate."""

    pack: LoadedPack
    binding: Binding
    rule: RuleSpec
    args: KindArgs
    applicable: bool  # False when the rule's `when` condition does not hold for this binding
    params: Mapping[str, Any]  # the binding's parameters, defaults filled in


def _substitute(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = PARAM_REF.fullmatch(value)
        if whole:
            return params.get(whole.group(1))
        return PARAM_REF.sub(lambda m: str(params.get(m.group(1), "")), value)
    if isinstance(value, list | tuple):
        return [_substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    return value


def _param_refs(value: Any) -> Iterable[tuple[str, Loc]]:
    if isinstance(value, str):
        for match in PARAM_REF.finditer(value):
            yield match.group(1), ()
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            for name, loc in _param_refs(item):
                yield name, (i, *loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            for name, loc in _param_refs(item):
                yield name, (key, *loc)


def did_you_mean(name: str, options: Iterable[str]) -> str:
    if len(name) > 200:  # no name is that long: nothing is close
        return ""
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _validate_args(kinds: KindArgModels, kind_name: str, args: Mapping[str, Any]) -> KindArgs:
    return kinds[kind_name].model_validate(args)


def _check_rule(kinds: KindArgModels, pack: PackSpec, index: int, rule: RuleSpec, path: str, lines: LineIndex) -> None:
    loc: Loc = ("rules", index)
    if rule.check.kind not in kinds:
        raise InputError(
            path,
            f"unknown check kind {rule.check.kind!r}{did_you_mean(rule.check.kind, kinds)}",
            line=lines.line_of((*loc, "check", "kind")),
            field=f"rules[{index}].check.kind",
        )
    for name, sub in _param_refs(rule.check.args):
        if name not in pack.parameters:
            field_loc = (*loc, "check", "args", *sub)
            raise InputError(
                path,
                f"${{{name}}} is not a parameter of pack {pack.pack!r}{did_you_mean(name, pack.parameters)}",
                line=lines.line_of(field_loc),
                field=f"rules[{index}].check.args" + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in sub),
            )
    if rule.when is not None and rule.when.param not in pack.parameters:
        raise InputError(
            path,
            f"unknown parameter {rule.when.param!r}{did_you_mean(rule.when.param, pack.parameters)}",
            line=lines.line_of((*loc, "when", "param")),
            field=f"rules[{index}].when.param",
        )
    probe = {
        name: spec.default
        if spec.default is not None and not isinstance(spec.default, str)
        else _PROBE_VALUES[spec.type]
        for name, spec in pack.parameters.items()
    }
    try:
        _validate_args(kinds, rule.check.kind, _substitute(rule.check.args, probe))
    except ValidationError as exc:
        raise validation_error(path, exc, lines, prefix=(*loc, "check", "args")) from exc


def load_pack_file(source: Traversable, kinds: KindArgModels) -> LoadedPack:
    path = str(source)
    if isinstance(source, Path):  # a file on disk (a user's rule_dirs, or an installed package): guarded read
        data, lines = load_yaml(source, RULE_PACK)
    else:  # a resource inside an archive: the same limits once its text is read
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, f"cannot read file: {exc}") from exc
        data, lines = parse_yaml(path, text, RULE_PACK)
    if not isinstance(data, dict):
        raise InputError(path, "a rule pack must be a mapping with 'pack' and 'rules'", line=1)
    try:
        spec = PackSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, lines, data=data) from exc
    seen: dict[str, int] = {}
    for index, rule in enumerate(spec.rules):
        if rule.id in seen:
            raise InputError(
                path,
                f"rule id {rule.id!r} is used twice (first at rules[{seen[rule.id]}])",
                line=lines.line_of(("rules", index, "id")),
                field=f"rules[{index}].id",
            )
        seen[rule.id] = index
        _check_rule(kinds, spec, index, rule, path, lines)
    for name, param in spec.parameters.items():
        _check_default(spec, name, param, path, lines)
    return LoadedPack(spec=spec, path=source, lines=lines, kinds=kinds)


def _check_default(spec: PackSpec, name: str, param: ParamSpec, path: str, lines: LineIndex) -> None:
    default = param.default
    if default is None or (isinstance(default, str) and PARAM_REF.fullmatch(default)):
        if isinstance(default, str):
            ref = PARAM_REF.fullmatch(default)
            if ref and ref.group(1) not in spec.parameters:
                raise InputError(
                    path,
                    f"default refers to unknown parameter {ref.group(1)!r}",
                    line=lines.line_of(("parameters", name, "default")),
                    field=f"parameters.{name}.default",
                )
        return
    if not isinstance(default, _PYTHON_TYPES[param.type]):
        raise InputError(
            path,
            f"default {default!r} is not a {param.type}",
            line=lines.line_of(("parameters", name, "default")),
            field=f"parameters.{name}.default",
        )


def pack_files(dirs: Sequence[Traversable]) -> list[Traversable]:
    """Each file given, and every ``*.yaml``/``*.yml`` directly inside each directory given (sorted by name)."""
    found: list[Traversable] = []
    for directory in dirs:
        if directory.is_dir():
            packs = (p for p in directory.iterdir() if p.name.endswith(PACK_SUFFIXES) and not p.is_dir())
            found.extend(sorted(packs, key=lambda p: p.name))
        elif directory.is_file() or (isinstance(directory, Path) and directory.exists()):
            found.append(directory)  # a file, or something the loader refuses by name (a FIFO, a device)
        else:
            raise InputError(str(directory), "no such rule file or directory")
    return found


def load_packs(extra_dirs: Sequence[Path] = (), *, kinds: KindArgModels, include_default: bool = True) -> PackSet:
    """Load the bundled packs plus every ``*.yaml`` in ``extra_dirs``; pack names must be unique."""
    dirs = [*([bundled_rules()] if include_default else []), *extra_dirs]
    packs: dict[str, LoadedPack] = {}
    for path in pack_files(dirs):
        loaded = load_pack_file(path, kinds)
        if loaded.name in packs:
            raise InputError(
                str(path),
                f"pack {loaded.name!r} is already defined in {packs[loaded.name].path}",
                line=loaded.lines.line_of(("pack",)),
                field="pack",
            )
        packs[loaded.name] = loaded
    return PackSet(packs)


class BindingError(InputError):
    pass


def resolve_params(pack: LoadedPack, binding: Binding, *, where: str = "config") -> dict[str, Any]:
    """Defaults filled in, required ones checked, types checked, unknown names rejected."""
    spec = pack.spec
    label = f"integration {binding.instance!r}"
    for name in binding.params:
        if name not in spec.parameters:
            raise BindingError(
                where,
                f"{label}: unknown parameter {name!r} for pack {spec.pack!r}{did_you_mean(name, spec.parameters)}",
                field=f"params.{name}",
            )
    values: dict[str, Any] = {}
    for name, param in spec.parameters.items():
        if name in binding.params and binding.params[name] is not None:
            value = binding.params[name]
            if not isinstance(value, _PYTHON_TYPES[param.type]) or (
                param.type == "integer" and isinstance(value, bool)
            ):
                raise BindingError(
                    where,
                    f"{label}: parameter {name!r} must be a {param.type}, got {value!r}",
                    field=f"params.{name}",
                )
            if param.choices is not None and value not in param.choices:
                raise BindingError(
                    where,
                    f"{label}: parameter {name!r} must be one of {list(param.choices)}",
                    field=f"params.{name}",
                )
            values[name] = value
        elif param.required:
            raise BindingError(
                where,
                f"{label}: required parameter {name!r} is missing ({param.description})",
                field=f"params.{name}",
            )
        else:
            values[name] = param.default
    for name, value in list(values.items()):  # defaults that name another parameter: "${segment_catalog}"
        if isinstance(value, str) and (ref := PARAM_REF.fullmatch(value)):
            values[name] = values.get(ref.group(1))
    return values


def bind(pack: LoadedPack, binding: Binding, *, where: str = "config") -> list[BoundRule]:
    params = resolve_params(pack, binding, where=where)
    bound: list[BoundRule] = []
    for rule in pack.spec.rules:
        applicable = rule.when is None or params.get(rule.when.param) in rule.when.equals
        try:
            args = _validate_args(pack.kinds, rule.check.kind, _substitute(rule.check.args, params))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in err["loc"])
            raise BindingError(
                where,
                f"integration {binding.instance!r}: rule {rule.id} check argument {field}: {err['msg']}",
                field="params",
            ) from exc
        bound.append(BoundRule(pack=pack, binding=binding, rule=rule, args=args, applicable=applicable, params=params))
    return bound


def render_template(template: str, params: Mapping[str, Any]) -> str:
    rendered = _substitute(template, params)
    return rendered if isinstance(rendered, str) else str(rendered)
