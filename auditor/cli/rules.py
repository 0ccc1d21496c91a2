"""`rules validate|list|kinds|schema`: check rule packs, list their rules, describe the check kinds, write schemas."""

from __future__ import annotations

import argparse
import json
from importlib.resources.abc import Traversable
from pathlib import Path

from auditor.cli.common import Subcommands, add_format, add_rule_dirs, command
from auditor.cli.exit_codes import ExitCode
from auditor.errors import InputError


def register(sub: Subcommands) -> None:
    rules = command(
        sub,
        "rules",
        None,
        help="validate, list and describe rule packs",
        examples=(
            "grants-auditor rules validate site-rules/",
            "grants-auditor rules list --format json",
            "grants-auditor rules kinds",
        ),
    )
    actions = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    validate = command(
        actions,
        "validate",
        run_validate,
        help="validate pack files (default: the bundled packs)",
        examples=("grants-auditor rules validate", "grants-auditor rules validate site-rules/ my-pack.yaml"),
    )
    validate.add_argument("paths", nargs="*", metavar="PATH")
    listing = command(
        actions,
        "list",
        run_list,
        help="list every rule with its requirement IDs",
        examples=("grants-auditor rules list", "grants-auditor rules list --rule-dir site-rules/ --format json"),
    )
    add_rule_dirs(listing)
    add_format(listing)
    command(
        actions,
        "kinds",
        run_kinds,
        help="list the check kinds and their arguments",
        examples=("grants-auditor rules kinds",),
    )
    schema = command(
        actions,
        "schema",
        run_schema,
        help="write JSON Schemas for rule packs and the config",
        examples=("grants-auditor rules schema --out docs/schemas",),
    )
    schema.add_argument("--out", default="docs/schemas", metavar="DIR")


def run_validate(args: argparse.Namespace) -> int:
    """Each pack on its own, and no pack name twice among those given."""
    from auditor.evaluate.registry import builtin_kind_args
    from auditor.packs.loader import bundled_rules, load_pack_file, pack_files

    dirs: list[Traversable] = [Path(p) for p in args.paths] or [bundled_rules()]
    files = pack_files(dirs)
    names: dict[str, Traversable] = {}
    rules = 0
    for path in files:
        loaded = load_pack_file(path, builtin_kind_args())
        if loaded.name in names:
            raise InputError(
                str(path), f"pack {loaded.name!r} is already defined in {names[loaded.name]}", field="pack"
            )
        names[loaded.name] = path
        rules += len(loaded.spec.rules)
    print(f"OK: {len(files)} pack file(s), {rules} rules")
    return ExitCode.OK


def run_list(args: argparse.Namespace) -> int:
    from auditor.evaluate.registry import builtin_kind_args
    from auditor.packs.loader import load_packs

    packs = load_packs([Path(d) for d in args.rule_dirs], kinds=builtin_kind_args())
    rows = [
        {
            "pack": p.name,
            "id": r.id,
            "requirements": list(r.requirements),
            "severity": r.severity.value,
            "advisory": r.advisory,
            "kind": r.check.kind,
            "title": r.title,
            "source": f"{r.source.document} § {r.source.section}",
        }
        for p in packs
        for r in p.spec.rules
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            flag = " (advisory)" if row["advisory"] else ""
            print(f"{row['pack']:28} {row['id']:8} {row['severity']:8} {row['kind']:22} {row['title']}{flag}")
    return ExitCode.OK


def run_kinds(args: argparse.Namespace) -> int:
    from auditor.evaluate.registry import load_builtin_kinds

    for name, kind in load_builtin_kinds().items():
        fields = ", ".join(kind.Args.model_fields)
        print(f"{name:22} {(kind.__doc__ or '').strip()}\n{'':22} args: {fields}")
    return ExitCode.OK


def run_schema(args: argparse.Namespace) -> int:
    from auditor.schemas import write_schemas

    for path in write_schemas(Path(args.out)):
        print(path)
    return ExitCode.OK
