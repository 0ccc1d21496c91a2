"""The benchmark: what a cycle costs, against the sandbox over real HTTP with the real clients.

    .venv/bin/python bench/run.py            # full (a few minutes on 2 cores)
    .venv/bin/python bench/run.py --quick    # fewer repetitions, smaller metastores

Every measure is repeated and reported as a median (with min and max); ratios compare medians.
Results are printed as a Markdown table; docs/benchmarks.md keeps the latest full run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.collect import collect_target
from auditor.cycle import plan_target, run_cycle
from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.log import configure_logging
from auditor.model.facts import FactFamily
from auditor.model.plan import CollectionPlan
from auditor.packs.loader import load_packs
from auditor.settings import Settings, TargetSettings
from auditor_sandbox import Sandbox

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())


@dataclass
class Row:
    name: str
    samples: list[float]
    note: str = ""

    def cells(self) -> str:
        med = statistics.median(self.samples)
        return (
            f"| {self.name} | {med:.3f} | {min(self.samples):.3f} | {max(self.samples):.3f} | "
            f"{len(self.samples)} | {self.note} |"
        )


def timed(fn: Callable[[], Any], repeat: int, *, warmup: int = 0) -> tuple[list[float], Any]:
    result: Any = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def target(sandbox: Sandbox, **overrides: Any) -> TargetSettings:
    config = sandbox.config_dict(auth="pat")
    config["targets"][0].update(overrides)
    return Settings.model_validate(config).targets[0]


def generated(tables_per_schema: int, schemas: int) -> dict[str, Any]:
    return {
        "base": "healthy",
        "name": f"bench-{schemas}x{tables_per_schema}",
        "generate": {
            "catalogs": 1,
            "schemas_per_catalog": schemas,
            "tables_per_schema": tables_per_schema,
            "principals": 20,
            "groups": 4,
            "group_depth": 2,
        },
    }


def bench_sandbox_start(repeat: int) -> Row:
    def start() -> None:
        with Sandbox.start("drifted", now=NOW):
            pass

    samples, _ = timed(start, repeat)
    return Row("sandbox `drifted` ready (s)", samples, "issue 3: < 5 s")


def bench_sandbox_command(repeat: int) -> Row:
    """`grants-auditor sandbox --scenario drifted` from a cold process until it prints that it is ready."""
    command = [str(Path(sys.executable).with_name("grants-auditor")), "sandbox", "--scenario", "drifted"]

    def start() -> None:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("ready"):
                    break
            process.terminate()
            process.wait(timeout=30)

    samples, _ = timed(start, repeat)
    return Row("`grants-auditor sandbox --scenario drifted` ready, cold process (s)", samples, "issue 3: < 5 s")


def bench_generator(repeat: int, tables: int) -> Row:
    schemas = 100
    scenario = {
        "base": "healthy",
        "name": "bench-gen",
        "generate": {
            "catalogs": 10,
            "schemas_per_catalog": schemas // 10,
            "tables_per_schema": tables // schemas,
            "principals": 100,
            "groups": 20,
            "group_depth": 3,
            "grants_per_object": 2,
        },
    }

    def build() -> None:
        with Sandbox.start(scenario, now=NOW):
            pass

    samples, _ = timed(build, repeat)
    return Row(f"sandbox with a {tables:,}-table metastore ready (s)", samples, "issue 3: < 30 s")


def bench_cycle(repeat: int) -> list[Row]:
    with Sandbox.start("drifted", now=NOW) as sandbox:
        settings = target(sandbox)
        samples, result = timed(lambda: run_cycle(settings, PACKS, now=NOW), repeat, warmup=1)
        requests = sum(result.stats.requests.values())
        eval_samples, _ = timed(lambda: evaluate(result.snapshot, PACKS, now=NOW), repeat * 5)
        plan_samples, _ = timed(lambda: plan_target(settings, PACKS), repeat * 5)
    return [
        Row(
            "full cycle, `drifted`, SQL path (collect + evaluate, s)",
            samples,
            f"{requests} requests, {result.stats.statements} statements, {len(result.report.findings)} findings",
        ),
        Row("evaluate only, `drifted` snapshot (s)", eval_samples),
        Row("plan only (s)", plan_samples),
    ]


def bench_watch(repeat: int, small: int, large: int) -> list[Row]:
    plan = CollectionPlan(families=frozenset({FactFamily.GRANTS}), watched_catalogs=frozenset({"gen_catalog_0"}))
    rows = []
    medians = {}
    for tables in (small, large):
        schemas = 10 if tables <= 1000 else 100
        with Sandbox.start(generated(tables // schemas, schemas), now=NOW) as sandbox:
            settings = target(sandbox)
            samples, result = timed(lambda s=settings: collect_target(s, plan, now=NOW), repeat, warmup=1)
        medians[tables] = statistics.median(samples)
        rows.append(
            Row(
                f"watch a {tables:,}-table catalog, SQL path (s)",
                samples,
                f"{sum(result.stats.requests.values())} requests, {result.stats.statements} statements, "
                f"{len(result.snapshot.grants):,} grants",
            )
        )
    rows[-1].note += f"; time ratio {medians[large] / medians[small]:.1f}x for {large // small}x the tables"
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    repeat = 3 if args.quick else 7
    rows = [
        bench_sandbox_command(repeat),
        bench_sandbox_start(repeat),
        bench_generator(1 if args.quick else 3, 10_000 if args.quick else 100_000),
    ]
    rows += bench_cycle(repeat)
    rows += bench_watch(repeat, 100, 1_000 if args.quick else 10_000)
    print("| measure | median | min | max | runs | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row.cells())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
