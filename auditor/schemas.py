"""JSON Schemas for the rule-pack and config files, so editors validate them as users type."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from auditor.evaluate.registry import load_builtin_kinds
from auditor.packs.schema import PackSpec
from auditor.settings import Settings

_PARAM_REF_SCHEMA = {
    "type": "string",
    "pattern": r"^.*\$\{[A-Za-z_][A-Za-z0-9_]*\}.*$",
    "description": "a ${parameter} reference, bound per deployment",
}


def _allow_param_refs(schema: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(schema)
    for name, prop in list(out.get("properties", {}).items()):
        out["properties"][name] = {"anyOf": [prop, _PARAM_REF_SCHEMA]}
    return out


def rule_pack_schema() -> dict[str, Any]:
    """The pack schema, with ``check`` narrowed to the registered kinds and their arguments."""
    registry = load_builtin_kinds()
    schema = PackSpec.model_json_schema()
    defs = schema.setdefault("$defs", {})
    variants = []
    for name, kind in registry.items():
        args = kind.Args.model_json_schema(ref_template="#/$defs/{model}")
        for def_name, definition in args.pop("$defs", {}).items():
            defs.setdefault(def_name, _allow_param_refs(definition))
        variants.append(
            {
                "type": "object",
                "description": (kind.__doc__ or "").strip(),
                "properties": {"kind": {"const": name}, "args": _allow_param_refs(args)},
                "required": ["kind"],
                "additionalProperties": False,
            }
        )
    defs["CheckSpec"] = {"oneOf": variants}
    schema["title"] = "grants-auditor rule pack"
    return schema


def config_schema() -> dict[str, Any]:
    schema = Settings.model_json_schema()
    schema["title"] = "grants-auditor config"
    return schema


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in (
        ("rule-pack.schema.json", rule_pack_schema()),
        ("config.schema.json", config_schema()),
    ):
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
