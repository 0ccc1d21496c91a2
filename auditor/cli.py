"""The `grants-auditor` command: parse, build, call, choose the exit code. No audit logic lives here.

Exit codes (also in the README):
  0  nothing failing (pass and warn only)
  1  at least one rule fails
  2  bad input: config, rule pack, snapshot or command line (the message names file, line and field)
  3  nothing fails, but at least one rule could not be evaluated (error)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from auditor import __version__
from auditor.errors import InputError
from auditor.model.findings import Report, Status

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3

Handler = Callable[[argparse.Namespace], int]


def exit_code(reports: Sequence[Report]) -> int:
    statuses = {f.status for r in reports for f in r.findings}
    if Status.FAIL in statuses:
        return EXIT_FAIL
    if Status.ERROR in statuses:
        return EXIT_ERROR
    return EXIT_OK


def _write(text: str, output: str | None) -> None:
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _now(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# ---- check ----------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    from auditor.audit import load_packs_for, run_cycle
    from auditor.evaluate.engine import evaluate
    from auditor.loading import load_snapshot
    from auditor.outputs.formats import render
    from auditor.packs.loader import BindingError, load_packs
    from auditor.settings import load_settings

    reports: list[Report] = []
    if args.snapshot:
        packs = load_packs([Path(d) for d in args.rules])
        for path in args.snapshot:
            snapshot = load_snapshot(path)
            try:
                # offline, facts are judged as of their collection time, so results are reproducible
                reports.append(evaluate(snapshot, packs, now=_now(args.now) or snapshot.collected_at))
            except BindingError as exc:  # the snapshot's integrations name an unknown pack or parameter
                raise InputError(path, exc.detail, field=exc.field) from exc
    else:
        if not args.config:
            raise InputError("command line", "give --snapshot FILE or --config FILE")
        settings = load_settings(args.config)
        _configure_logging(args, settings)
        packs = load_packs_for(settings)
        targets = [settings.target(args.target)] if args.target else list(settings.targets)
        reports += [run_cycle(t, packs, now=_now(args.now)).report for t in targets]
    _write("".join(render(r, args.format) for r in reports), args.output)
    return exit_code(reports)


def cmd_collect(args: argparse.Namespace) -> int:
    from auditor.audit import load_packs_for, plan_target
    from auditor.collect.snapshot import collect_target
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    _configure_logging(args, settings)
    packs = load_packs_for(settings)
    target = settings.target(args.target)
    result = collect_target(target, plan_target(target, packs), now=_now(args.now))
    _write(result.snapshot.to_json() + "\n", args.out)
    unread = [r for r in result.snapshot.reads if r.state.value != "read"]
    print(
        f"collected {target.name}: {len(result.snapshot.grants)} grants, {sum(result.stats.requests.values())} "
        f"requests, {result.stats.statements} statements, {len(unread)} unread fact scopes",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_preflight(args: argparse.Namespace) -> int:
    """Who the auditor is on each target and which fact families it can read (exit 3 on any blind spot)."""
    import json

    from auditor.collect.preflight import preflight
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    _configure_logging(args, settings)
    targets = [settings.target(args.target)] if args.target else list(settings.targets)
    blind = False
    for target in targets:
        result = preflight(target)
        blind = blind or bool(result.blind_spots()) or result.identity is None
        if args.format == "json":
            print(
                json.dumps(
                    {
                        "target": result.target,
                        "identity": result.identity,
                        "groups": list(result.groups),
                        "warehouse_state": result.warehouse_state,
                        "families": [s.model_dump(mode="json") for s in result.families],
                    },
                    indent=2,
                )
            )
            continue
        print(
            f"{result.target}: the auditor is {result.identity or '(unknown)'}"
            + (f" (groups: {', '.join(result.groups)})" if result.groups else "")
        )
        for status in result.families:
            reason = f": {status.reason}" if status.reason else ""
            print(f"  {status.state.value:12} {status.family.value}{reason}")
    return EXIT_ERROR if blind else EXIT_OK


# ---- rules ----------------------------------------------------------------------------------------


def cmd_rules_validate(args: argparse.Namespace) -> int:
    from auditor.packs.loader import default_rule_dirs, load_pack_file, pack_files

    dirs = [Path(p) for p in args.paths] or default_rule_dirs()
    files = pack_files(dirs)
    names: dict[str, Path] = {}
    rules = 0
    for path in files:
        loaded = load_pack_file(path)
        if loaded.name in names:
            raise InputError(path, f"pack {loaded.name!r} is already defined in {names[loaded.name]}", field="pack")
        names[loaded.name] = path
        rules += len(loaded.spec.rules)
    print(f"OK: {len(files)} pack file(s), {rules} rules")
    return EXIT_OK


def cmd_rules_list(args: argparse.Namespace) -> int:
    import json

    from auditor.packs.loader import load_packs

    packs = load_packs([Path(d) for d in args.rules])
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
    return EXIT_OK


def cmd_rules_kinds(args: argparse.Namespace) -> int:
    from auditor.evaluate.registry import load_builtin_kinds

    for name, kind in load_builtin_kinds().items():
        fields = ", ".join(kind.Args.model_fields)
        print(f"{name:22} {(kind.__doc__ or '').strip()}\n{'':22} args: {fields}")
    return EXIT_OK


def cmd_rules_schema(args: argparse.Namespace) -> int:
    from auditor.schemas import write_schemas

    for path in write_schemas(Path(args.out)):
        print(path)
    return EXIT_OK


def cmd_config_validate(args: argparse.Namespace) -> int:
    from auditor.audit import load_packs_for
    from auditor.settings import load_settings

    settings = load_settings(args.config)
    load_packs_for(settings)
    print(f"OK: {len(settings.targets)} target(s), {sum(len(t.integrations) for t in settings.targets)} integration(s)")
    return EXIT_OK


def _configure_logging(args: argparse.Namespace, settings: object) -> None:
    """Logs go to stderr (JSON off a TTY); every secret in the config is masked wherever it appears."""
    from auditor.log import configure_logging, register_secrets_from

    configure_logging(level=getattr(args, "log_level", "INFO"))
    register_secrets_from(settings)


# ---- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from auditor.outputs.formats import FORMATS

    parser = argparse.ArgumentParser(
        prog="grants-auditor",
        description="Prove that a Databricks workspace and its AWS side grant exactly what Segment's "
        "Databricks integrations need.",
        epilog="exit codes: 0 nothing failing, 1 something failing, 2 bad input, 3 something could not be evaluated",
    )
    parser.add_argument("--version", action="version", version=f"grants-auditor {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="collect once (or read a snapshot) and evaluate: for CI")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--snapshot", nargs="+", metavar="FILE", help="evaluate facts snapshot file(s) offline")
    source.add_argument("--config", metavar="FILE", help="collect from the config's target(s), then evaluate")
    check.add_argument("--target", help="only this target of the config")
    check.add_argument("--rules", nargs="*", default=[], metavar="DIR", help="extra rule pack directories")
    check.add_argument("--format", choices=sorted(FORMATS), default="text")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    check.add_argument(
        "--now",
        help="evaluate as of this ISO-8601 time (credential expiry); default: now, or a snapshot's collection time",
    )
    check.set_defaults(handler=cmd_check)

    collect = sub.add_parser("collect", help="collect one target's facts into a snapshot file")
    collect.add_argument("--config", required=True, metavar="FILE")
    collect.add_argument("--target")
    collect.add_argument("--out", required=True, metavar="FILE")
    collect.add_argument("--now", help=argparse.SUPPRESS)
    collect.set_defaults(handler=cmd_collect)

    probe = sub.add_parser("preflight", help="the auditor's identity and which fact families it can read")
    probe.add_argument("--config", required=True, metavar="FILE")
    probe.add_argument("--target")
    probe.add_argument("--format", choices=["text", "json"], default="text")
    probe.set_defaults(handler=cmd_preflight)

    rules = sub.add_parser("rules", help="validate, list and describe rule packs")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    validate = rules_sub.add_parser("validate", help="validate pack files (default: the bundled packs)")
    validate.add_argument("paths", nargs="*", metavar="PATH")
    validate.set_defaults(handler=cmd_rules_validate)
    listing = rules_sub.add_parser("list", help="list every rule with its requirement IDs")
    listing.add_argument("--rules", nargs="*", default=[], metavar="DIR")
    listing.add_argument("--format", choices=["text", "json"], default="text")
    listing.set_defaults(handler=cmd_rules_list)
    rules_sub.add_parser("kinds", help="list the check kinds and their arguments").set_defaults(handler=cmd_rules_kinds)
    schema = rules_sub.add_parser("schema", help="write JSON Schemas for rule packs and the config")
    schema.add_argument("--out", default="docs/schemas")
    schema.set_defaults(handler=cmd_rules_schema)

    config = sub.add_parser("config", help="validate a config file")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_validate = config_sub.add_parser("validate")
    config_validate.add_argument("config", metavar="FILE")
    config_validate.set_defaults(handler=cmd_config_validate)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands whose modules live beside the core: the sandbox, the daemon, baselines, the demo."""
    from auditor.cli_extra import add_extra_commands

    add_extra_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InputError as exc:
        print(f"grants-auditor: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
