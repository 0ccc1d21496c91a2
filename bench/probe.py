"""What the benchmark runs in a child process, so that imports, memory and the interpreter lock are its own.

    python -m bench.probe watch CONFIG [--cycles N]      # collect the watched catalogs' grants only
    python -m bench.probe cycle CONFIG [--cycles N]      # full cycles: every fact the packs need, evaluated
    python -m bench.probe evaluate SNAPSHOT              # evaluate a snapshot file with every bundled pack

Prints one JSON document on stdout: per cycle its wall time, the requests the sandbox served (its
`/_sandbox/counts`), the auditor's own request and statement counts, grants and findings; the import
time; and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any

STARTED = time.perf_counter()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def probe_collection(config: str, cycles: int, *, full: bool) -> dict[str, Any]:
    # what a cycle imports lazily, imported before timing: the cycles measured are a warm process's
    import boto3  # noqa: F401
    import databricks.sdk
    import databricks.sql  # noqa: F401

    from auditor.collect.snapshot import collect_target
    from auditor.cycle import load_packs_for, run_cycle
    from auditor.log import configure_logging
    from auditor.model.facts import FactFamily
    from auditor.model.plan import CollectionPlan
    from auditor.settings import load_settings
    from bench.sandboxes import reset_sandbox_requests, sandbox_requests

    configure_logging(level="WARNING")
    settings = load_settings(config)
    packs = load_packs_for(settings)
    target = settings.targets[0]
    imported = time.perf_counter() - STARTED
    watch_plan = CollectionPlan(
        families=frozenset({FactFamily.GRANTS}), watched_catalogs=frozenset(target.watch.catalogs)
    )
    results = []
    for _ in range(cycles):
        reset_sandbox_requests(target.databricks.host)
        start = time.perf_counter()
        if full:
            result = run_cycle(target, packs)
            snapshot, stats, findings = result.snapshot, result.stats, len(result.report.findings)
        else:
            collected = collect_target(target, watch_plan)
            snapshot, stats, findings = collected.snapshot, collected.stats, 0
        wall = time.perf_counter() - start
        results.append(
            {
                "wall_seconds": wall,
                "requests": sandbox_requests(target.databricks.host),
                "auditor_requests": dict(stats.requests),
                "statements": stats.statements,
                "grants": len(snapshot.grants),
                "findings": findings,
            }
        )
        del snapshot, stats
    return {"import_seconds": imported, "cycles": results, "peak_rss_mb": peak_rss_mb()}


def probe_evaluate(path: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    from auditor.evaluate.engine import evaluate
    from auditor.evaluate.registry import builtin_kind_args
    from auditor.loading import load_snapshot
    from auditor.packs.loader import load_packs

    packs = load_packs(kinds=builtin_kind_args())
    start = time.perf_counter()
    snapshot = load_snapshot(path)
    loaded = time.perf_counter()
    report = evaluate(snapshot, packs, now=datetime.now(UTC))
    done = time.perf_counter()
    return {
        "load_seconds": loaded - start,
        "evaluate_seconds": done - loaded,
        "grants": len(snapshot.grants),
        "findings": len(report.findings),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe")
    parser.add_argument("what", choices=["watch", "cycle", "evaluate"])
    parser.add_argument("path", help="the auditor config (watch, cycle) or a snapshot file (evaluate)")
    parser.add_argument("--cycles", type=int, default=1)
    args = parser.parse_args(argv)
    if args.what == "evaluate":
        document = probe_evaluate(args.path)
    else:
        document = probe_collection(args.path, args.cycles, full=args.what == "cycle")
    json.dump(document, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
