"""Evaluation at scale: load, evaluate and `check --snapshot` a synthetic snapshot of N grant facts.

    .venv/bin/python bench/evaluate.py --facts 1000000          # the issue-11 target: evaluate <= 3 s, check <= 10 s
    .venv/bin/python bench/evaluate.py --facts 100000 --quick   # CI: well under 30 s

The snapshot is `bench.synthetic` (the ``drifted`` example plus N grants over N/10 tables, 1,000 principals,
groups nested 3 deep; nearly every generated grant is an exposure finding with its REVOKE). Every measure is
repeated (median, min, max); ``check --snapshot`` runs as a cold process, so its time and peak RSS are what a
user sees. Prints a Markdown table, and JSON with ``--json FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic import write_snapshot  # noqa: E402


def cold_check(snapshot: Path) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (bytes) and exit code of ``grants-auditor check --snapshot`` in a new process."""
    command = [sys.executable, "-m", "auditor", "check", "--snapshot", str(snapshot), "--format", "json"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        assert process.stderr is not None
        raise SystemExit(f"check failed ({process.returncode}): {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024, process.returncode


def in_process(snapshot: Path, repeat: int) -> dict[str, list[float]]:
    """Load and evaluate in this process (imports paid once, as in the daemon)."""
    from auditor.evaluate.engine import evaluate
    from auditor.evaluate.registry import builtin_kind_args
    from auditor.loading import load_snapshot
    from auditor.packs.loader import load_packs

    packs = load_packs([], kinds=builtin_kind_args())
    samples: dict[str, list[float]] = {"load (s)": [], "evaluate (s)": [], "evaluate, CPU (s)": []}
    for _ in range(repeat):
        start = time.perf_counter()
        facts = load_snapshot(snapshot)
        samples["load (s)"].append(time.perf_counter() - start)
        start, cpu = time.perf_counter(), time.process_time()
        report = evaluate(facts, packs, now=facts.collected_at)
        samples["evaluate (s)"].append(time.perf_counter() - start)
        samples["evaluate, CPU (s)"].append(time.process_time() - cpu)
        del facts, report
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": len(samples)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=1_000_000, help="grant facts in the snapshot")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one cold check, in-process runs only twice")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    repeat = 2 if args.quick else max(3, args.repeat)
    results: dict[str, Any] = {"facts": args.facts, "measures": {}}
    with tempfile.TemporaryDirectory() as scratch:
        path = write_snapshot(Path(scratch) / "snapshot.json", max(1, args.facts // 10), 1_000, args.facts, 3)
        results["snapshot_bytes"] = path.stat().st_size
        for name, values in in_process(path, repeat).items():
            results["measures"][name] = summary(values)
        checks = [cold_check(path) for _ in range(1 if args.quick else repeat)]
        results["measures"]["check --snapshot, cold process (s)"] = summary([c[0] for c in checks])
        results["measures"]["check --snapshot, peak RSS (MB)"] = summary([c[1] / 1e6 for c in checks])
    print(f"{args.facts:,} grant facts, snapshot file {results['snapshot_bytes'] / 1e6:.0f} MB\n")
    print("| measure | median | min | max | runs |")
    print("| --- | --- | --- | --- | --- |")
    for name, s in results["measures"].items():
        print(f"| {name} | {s['median']:.2f} | {s['min']:.2f} | {s['max']:.2f} | {s['runs']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
