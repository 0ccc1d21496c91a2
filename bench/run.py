"""The benchmark: what an audit costs at metastore scale, beside per-object crawling, in one run.

    .venv/bin/python -m bench                  # full run (< 10 minutes on 2 cores)
    .venv/bin/python -m bench --quick          # small metastores, seconds (CI runs it)
    .venv/bin/python -m bench --json out.json  # also write every figure as JSON (default bench-results.json)

Every sandbox runs in its own process with 30 ms added to every request; everything measured that a user
waits for runs in a fresh process of its own (`bench/probe.py`, or the CLI itself), so imports, memory
(peak RSS) and the interpreter lock are its own. Measured, per metastore size: per-object crawling
(`bench/crawl.py`, as Databricks Labs UCX does it), collecting the watched catalogs, a full cycle with every
bundled pack, `grants-auditor check --config` from a cold process; then evaluation at 1M grant facts,
`/metrics` latency while cycles run, and how a cycle grows with principals and group nesting depth.
Requests are those the sandbox served (its own count), statements those the auditor ran.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` as well as `python -m bench`
    sys.path.insert(0, str(ROOT))

from bench.crawl import crawl  # noqa: E402
from bench.sandboxes import Metastore, SandboxProcess  # noqa: E402
from bench.scrape import scrape_during_cycles  # noqa: E402

LATENCY_MS = 30.0
GRANTS_1M = 1_000_000


@dataclass(frozen=True)
class Plan:
    """What one run measures."""

    sizes: tuple[int, ...]
    crawl_sample_above: int  # crawl every n-th table beyond this many tables (scaled to the whole)
    cycles: int  # cycles per probe process (after the imports); the last is reported
    scrapes: int
    principals: tuple[int, ...]
    depths: tuple[int, ...]
    curve_tables: int
    synthetic: tuple[int, int, int, int]  # tables, principals, grants, group depth
    timeout: float  # seconds any one child process may take

    @classmethod
    def full(cls) -> Plan:
        return cls(
            (1_000, 10_000, 100_000),
            10_000,
            2,
            500,
            (100, 1_000, 10_000),
            (1, 3, 10),
            10_000,
            (100_000, 1_000, GRANTS_1M, 3),
            300.0,
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls((100, 1_000), 1_000, 1, 50, (100, 300), (1, 3), 100, (1_000, 50, 10_000, 3), 60.0)


@dataclass
class Results:
    started: str
    machine: dict[str, Any]
    quick: bool
    latency_ms: float
    sizes: list[dict[str, Any]] = field(default_factory=list)
    evaluation: dict[str, Any] = field(default_factory=dict)
    scrape: dict[str, Any] = field(default_factory=dict)
    growth: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0


# -- child processes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Child:
    wall_seconds: float
    peak_rss_mb: float
    exit_code: int
    stdout: str


def run_child(command: list[str], timeout: float) -> Child:
    """Run `command` from a cold start; its wall time and peak RSS (from the kernel's rusage)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    return Child(wall, usage.ru_maxrss / 1024, process.returncode, stdout)


def probe(what: str, path: Path, timeout: float, *, cycles: int = 1) -> dict[str, Any]:
    child = run_child([sys.executable, "-m", "bench.probe", what, str(path), "--cycles", str(cycles)], timeout)
    if child.exit_code != 0:
        return {"error": f"probe {what} exited {child.exit_code} after {child.wall_seconds:.1f} s"}
    document: dict[str, Any] = json.loads(child.stdout)
    document["process_seconds"] = child.wall_seconds
    return document


def cli() -> str:
    return str(Path(sys.executable).with_name("grants-auditor"))


# -- measures ----------------------------------------------------------------------------------------------


def measure_size(tables: int, plan: Plan, workdir: Path, results: Results) -> None:
    metastore = Metastore(tables)
    log(f"{tables:,} tables: starting the sandbox")
    with SandboxProcess(metastore, latency_ms=results.latency_ms, workdir=workdir) as sandbox:
        entry: dict[str, Any] = {"tables": tables, "sandbox_ready_seconds": sandbox.ready_seconds}
        sample = max(1, tables // plan.crawl_sample_above) if tables > plan.crawl_sample_above else 1
        log(f"{tables:,} tables: per-object crawl" + (f" (1 table in {sample})" if sample > 1 else ""))
        crawled = crawl(sandbox.config(), metastore.catalog_names, sample=sample, requests=sandbox.requests)
        entry["crawl"] = asdict(crawled) | {"extrapolated": crawled.extrapolated}
        log(f"{tables:,} tables: collecting the watched catalogs")
        entry["watch"] = probe("watch", sandbox.config_path, plan.timeout, cycles=plan.cycles)
        log(f"{tables:,} tables: full cycles")
        entry["cycle"] = probe("cycle", sandbox.config_path, plan.timeout, cycles=plan.cycles)
        log(f"{tables:,} tables: grants-auditor check --config, cold")
        sandbox.reset()
        report = workdir / f"report-{tables}.json"
        child = run_child(
            [cli(), "check", "--config", str(sandbox.config_path), "--format", "json", "-o", str(report)], plan.timeout
        )
        entry["check"] = {
            "wall_seconds": child.wall_seconds,
            "peak_rss_mb": child.peak_rss_mb,
            "exit_code": child.exit_code,
            "requests": sandbox.requests(),
        }
        if tables == plan.sizes[-1]:
            log(f"{tables:,} tables: /metrics while cycles run ({plan.scrapes} scrapes)")
            scraped = scrape_during_cycles(sandbox, workdir, count=plan.scrapes, pause=0.02)
            results.scrape = {
                "tables": tables,
                "scrapes": len(scraped.latencies_ms),
                "p50_ms": scraped.percentile(0.50),
                "p99_ms": scraped.percentile(0.99),
                "max_ms": max(scraped.latencies_ms),
                "cycles_completed": scraped.cycles_completed,
                "scrapes_in_first_cycle": scraped.in_first_cycle,
                "failures": scraped.failures,
            }
    results.sizes.append(entry)


def measure_curve(
    name: str, values: tuple[int, ...], make: Callable[[int], Metastore], plan: Plan, workdir: Path, results: Results
) -> None:
    """A full cycle per value; the size run already measured the default metastore of `curve_tables`."""
    measured_sizes = {Metastore(s["tables"]): s["cycle"] for s in results.sizes}
    points = []
    for value in values:
        metastore = make(value)
        if metastore in measured_sizes:
            measured = measured_sizes[metastore]
        else:
            log(f"growth: {name} = {value:,} ({metastore.tables:,} tables)")
            with SandboxProcess(metastore, latency_ms=results.latency_ms, workdir=workdir) as sandbox:
                measured = probe("cycle", sandbox.config_path, plan.timeout, cycles=plan.cycles)
        point: dict[str, Any] = {name: value, "tables": metastore.tables}
        if "error" in measured:
            point["error"] = measured["error"]
        else:
            last = measured["cycles"][-1]
            point |= {
                "wall_seconds": last["wall_seconds"],
                "grants": last["grants"],
                "findings": last["findings"],
                "peak_rss_mb": measured["peak_rss_mb"],
            }
        points.append(point)
    results.growth[name] = points


def measure_evaluation(plan: Plan, workdir: Path, results: Results) -> None:
    tables, principals, grants, depth = plan.synthetic
    try:
        from bench.synthetic import write_snapshot  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        results.evaluation = {
            "grants": grants,
            "missing": "bench/synthetic.py (the synthetic snapshot generator) is not in this tree yet",
        }
        return
    log(f"evaluation: writing a synthetic snapshot of {grants:,} grants")
    path = workdir / "synthetic.json"
    start = time.perf_counter()
    write_snapshot(path, tables, principals, grants, depth)
    entry: dict[str, Any] = {
        "grants": grants,
        "tables": tables,
        "principals": principals,
        "group_depth": depth,
        "generate_seconds": time.perf_counter() - start,
    }
    log("evaluation: evaluate in a fresh process")
    entry["evaluate"] = probe("evaluate", path, plan.timeout)
    log("evaluation: grants-auditor check --snapshot, cold")
    child = run_child(
        [cli(), "check", "--snapshot", str(path), "--format", "json", "-o", str(workdir / "r.json")], plan.timeout
    )
    entry["check_snapshot"] = {
        "wall_seconds": child.wall_seconds,
        "peak_rss_mb": child.peak_rss_mb,
        "exit_code": child.exit_code,
    }
    results.evaluation = entry


# -- targets -----------------------------------------------------------------------------------------------


def judge(results: Results) -> None:
    sizes = results.sizes
    targets: list[dict[str, Any]] = []

    def target(name: str, measured: str, met: bool | None) -> None:
        targets.append({"target": name, "measured": measured, "met": met})

    def at(size: dict[str, Any]) -> str:
        return f"{size['tables']:,}"

    usable = [s for s in sizes if "error" not in s["watch"] and "error" not in s["cycle"]]
    if usable:
        time_ratios = [(s["crawl"]["wall_seconds"] / last(s["watch"])["wall_seconds"], at(s)) for s in usable]
        request_ratios = [(s["crawl"]["requests"] / max(1, last(s["watch"])["requests"]), at(s)) for s in usable]
        worst = min(time_ratios)
        target(
            "collect watched catalogs: >= 20x less wall time than the crawl at every size",
            f"{worst[0]:.1f}x at {worst[1]} (worst)",
            worst[0] >= 20,
        )
        worst = min(request_ratios)
        target(
            "collect watched catalogs: >= 100x fewer requests than the crawl at every size",
            f"{worst[0]:.0f}x at {worst[1]} (worst)",
            worst[0] >= 100,
        )
        big = [s for s in sizes if s["tables"] >= 10_000 and s["check"]["exit_code"] in (0, 1, 3)] or sizes[-1:]
        ratios = [(s["crawl"]["wall_seconds"] / s["check"]["wall_seconds"], at(s)) for s in big]
        worst = min(ratios)
        target(
            "`check --config` cold >= 10x faster than the crawl at >= 10k tables",
            f"{worst[0]:.1f}x at {worst[1]}",
            worst[0] >= 10,
        )
        largest = sizes[-1]
        suffix = "" if largest["tables"] == 100_000 else f" (at {at(largest)} tables)"
        target(
            "100k tables: `check --config` cold <= 15 s",
            f"{largest['check']['wall_seconds']:.1f} s{suffix}",
            largest["check"]["wall_seconds"] <= 15,
        )
        if "error" not in largest["cycle"]:
            cycle = last(largest["cycle"])["wall_seconds"]
            target("100k tables: full cycle (every bundled pack) <= 10 s", f"{cycle:.1f} s{suffix}", cycle <= 10)
            rss = largest["cycle"]["peak_rss_mb"]
            target("100k tables: peak RSS <= 400 MB", f"{rss:.0f} MB{suffix}", rss <= 400)
    if results.scrape:
        p99 = results.scrape["p99_ms"]
        target(
            "`/metrics` p99 <= 20 ms while a cycle runs",
            f"{p99:.1f} ms over {results.scrape['scrapes']} scrapes ({results.scrape['tables']:,} tables)",
            p99 <= 20,
        )
    evaluation = results.evaluation
    if "evaluate" in evaluation and "error" not in evaluation["evaluate"]:
        suffix = "" if evaluation["grants"] == GRANTS_1M else f" (at {evaluation['grants']:,} grants)"
        seconds = evaluation["evaluate"]["evaluate_seconds"]
        target("1M grant facts: evaluation <= 3 s", f"{seconds:.1f} s{suffix}", seconds <= 3)
        check = evaluation["check_snapshot"]
        target(
            "1M grant facts: `check --snapshot` <= 10 s end to end",
            f"{check['wall_seconds']:.1f} s{suffix}",
            check["wall_seconds"] <= 10 and check["exit_code"] >= 0,
        )
        target(
            "1M grant facts: peak RSS <= 1.5 GB", f"{check['peak_rss_mb']:.0f} MB{suffix}", check["peak_rss_mb"] <= 1536
        )
    else:
        target("1M grant facts: evaluation <= 3 s", evaluation.get("missing") or str(evaluation.get("evaluate")), None)
    results.targets = targets


def table_point(size: dict[str, Any]) -> dict[str, Any]:
    cycle = size["cycle"]
    if "error" in cycle:
        return {"tables": size["tables"], "error": cycle["error"]}
    final = last(cycle)
    return {
        "tables": size["tables"],
        "wall_seconds": final["wall_seconds"],
        "grants": final["grants"],
        "peak_rss_mb": cycle["peak_rss_mb"],
    }


def last(measured: dict[str, Any]) -> dict[str, Any]:
    cycles: list[dict[str, Any]] = measured["cycles"]
    return cycles[-1]


# -- report ------------------------------------------------------------------------------------------------


def markdown(results: Results) -> str:
    machine = results.machine
    lines = [
        f"Benchmark run {results.started} ({'quick' if results.quick else 'full'}), {results.wall_seconds:.0f} s; "
        f"{machine['cpus']} CPUs ({machine['processor']}), {machine['memory_gb']} GB, Python {machine['python']}; "
        f"load average {machine['load_before']} before, {machine['load_after']} after; "
        f"{results.latency_ms:g} ms added to every request.",
        "",
        "Per-object crawl vs. collecting the watched catalogs (requests: served by the sandbox):",
        "",
        "| tables | crawl wall (s) | crawl requests | crawl statements | watch wall (s) | watch requests "
        "| watch statements | watch peak RSS (MB) | wall ratio | request ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in results.sizes:
        crawled, watch = size["crawl"], size["watch"]
        mark = "≈ " if crawled["extrapolated"] else ""
        if "error" in watch:
            watch_cells = f"{watch['error']} | | | | |"
        else:
            w = last(watch)
            watch_cells = (
                f"{w['wall_seconds']:.2f} | {w['requests']:,} | {w['statements']} | {watch['peak_rss_mb']:.0f} | "
                f"{crawled['wall_seconds'] / w['wall_seconds']:.1f}x | "
                f"{crawled['requests'] / max(1, w['requests']):.0f}x"
            )
        lines.append(
            f"| {size['tables']:,} | {mark}{crawled['wall_seconds']:.1f} | {mark}{crawled['requests']:,} | "
            f"{crawled['statements']:,} | {watch_cells} |"
        )
    if any(s["crawl"]["extrapolated"] for s in results.sizes):
        lines += ["", "≈: the crawl read a sample of the tables' grants; its time and requests are scaled to all."]
    lines += [
        "",
        "Full cycle (every bundled pack; a warm process) and `grants-auditor check --config` (a cold process; "
        "exit 1: failing findings, 3: some could not be evaluated, 2: bad input):",
        "",
        "| tables | grants | cycle wall (s) | requests | statements | findings | cycle peak RSS (MB) "
        "| check cold (s) | check exit | check peak RSS (MB) | crawl / check |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in results.sizes:
        cycle, check = size["cycle"], size["check"]
        if "error" in cycle:
            cells = f"{cycle['error']} | | | | | |"
        else:
            c = last(cycle)
            cells = (
                f"{c['grants']:,} | {c['wall_seconds']:.2f} | "
                f"{c['requests']:,} | {c['statements']} | {c['findings']} | {cycle['peak_rss_mb']:.0f}"
            )
        lines.append(
            f"| {size['tables']:,} | {cells} | {check['wall_seconds']:.2f} | {check['exit_code']} | "
            f"{check['peak_rss_mb']:.0f} | "
            f"{size['crawl']['wall_seconds'] / check['wall_seconds']:.1f}x |"
        )
    lines += ["", "Evaluation of a synthetic snapshot:", ""]
    evaluation = results.evaluation
    if "missing" in evaluation:
        lines.append(f"- not measured: {evaluation['missing']}.")
    else:
        ev, check = evaluation["evaluate"], evaluation["check_snapshot"]
        lines.append(
            f"- {evaluation['grants']:,} grant facts ({evaluation['tables']:,} tables, {evaluation['principals']:,} "
            f"principals, groups {evaluation['group_depth']} deep)"
        )
        if "error" in ev:
            lines.append(f"- evaluate: {ev['error']}")
        else:
            lines.append(
                f"- load {ev['load_seconds']:.1f} s, evaluate {ev['evaluate_seconds']:.2f} s, "
                f"{ev['findings']} findings, peak RSS {ev['peak_rss_mb']:.0f} MB"
            )
        lines.append(
            f"- `check --snapshot`, cold: {check['wall_seconds']:.1f} s, peak RSS {check['peak_rss_mb']:.0f} MB "
            f"(exit {check['exit_code']})"
        )
    if results.scrape:
        s = results.scrape
        lines += [
            "",
            f"`/metrics` while cycles run on {s['tables']:,} tables: {s['scrapes']} scrapes, p50 {s['p50_ms']:.1f} ms, "
            f"p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.1f} ms; {s['scrapes_in_first_cycle']} during the first "
            f"cycle, {s['cycles_completed']} cycles completed meanwhile, {s['failures']} failed.",
        ]
    lines += [
        "",
        "Growth (a full cycle in a warm process):",
        "",
        "| dimension | value | tables | grants | cycle wall (s) | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    curves = {"tables": [table_point(size) for size in results.sizes], **results.growth}
    for name, points in curves.items():
        for point in points:
            if "error" in point:
                lines.append(f"| {name} | {point[name]:,} | {point['tables']:,} | {point['error']} | | |")
                continue
            lines.append(
                f"| {name} | {point[name]:,} | {point['tables']:,} | {point['grants']:,} | "
                f"{point['wall_seconds']:.2f} | {point['peak_rss_mb']:.0f} |"
            )
    lines += ["", "Targets (issue 11):", "", "| target | measured | met |", "| --- | --- | --- |"]
    for t in results.targets:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines) + "\n"


# -- entry point -------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    processor = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "processor": processor,
        "memory_gb": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_before": _load(),
    }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small metastores: seconds, for CI")
    parser.add_argument("--json", default="bench-results.json", metavar="PATH", help="where to write the figures")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS, help="added to every request (default 30)")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan.full()
    started = time.perf_counter()
    results = Results(
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        quick=args.quick,
        latency_ms=args.latency_ms,
    )
    with tempfile.TemporaryDirectory(prefix="grants-auditor-bench-") as tmp:
        workdir = Path(tmp)
        for tables in plan.sizes:
            measure_size(tables, plan, workdir, results)
        measure_evaluation(plan, workdir, results)
        measure_curve(
            "principals", plan.principals, lambda p: Metastore(plan.curve_tables, principals=p), plan, workdir, results
        )
        measure_curve(
            "group_depth", plan.depths, lambda d: Metastore(plan.curve_tables, group_depth=d), plan, workdir, results
        )
    results.machine["load_after"] = _load()
    results.wall_seconds = time.perf_counter() - started
    judge(results)
    Path(args.json).write_text(json.dumps(asdict(results), indent=2) + "\n", encoding="utf-8")
    print(markdown(results), end="")
    log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
