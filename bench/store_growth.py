"""How the state store grows: steady-state cycles of a large target, stored the way the daemon stores them.

    .venv/bin/python bench/store_growth.py                          # 100,000 tables, 30 cycles, 60 s apart
    .venv/bin/python bench/store_growth.py --tables 10000 --cycles 10 --change-every 3

Each cycle stores the same synthetic facts (`bench.synthetic`) with a new collection time, through
`auditor.drift.cycle.record_cycle` (drift fold, snapshot, report, findings, debounce state in one transaction);
``--change-every K`` removes one more grant every K cycles, so a cycle now and then carries a real change.
Prints what the first cycle stored, what each later cycle added (median), what a day at the interval adds,
and how long a commit took.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic import synthetic_snapshot  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=100_000)
    parser.add_argument("--grants", type=int, help="default: 2 per table")
    parser.add_argument("--principals", type=int, default=1_000)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--interval", type=int, default=60, help="seconds between cycles")
    parser.add_argument("--change-every", type=int, default=0, help="drop one grant every K cycles (0: never)")
    args = parser.parse_args()

    from auditor.drift.cycle import record_cycle
    from auditor.drift.store import StateStore
    from auditor.evaluate.engine import evaluate
    from auditor.evaluate.registry import builtin_kind_args
    from auditor.model.stats import CollectionStats
    from auditor.packs.loader import load_packs

    grants = args.grants or 2 * args.tables
    base = synthetic_snapshot(args.tables, args.principals, grants, 3)
    report = evaluate(base, load_packs([], kinds=builtin_kind_args()), now=base.collected_at)
    sizes: list[int] = []
    commits: list[float] = []
    commits_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "state.sqlite"
        with StateStore(path) as store:
            facts = base.grants
            for cycle in range(args.cycles):
                if args.change_every and cycle and cycle % args.change_every == 0:
                    facts = facts[1:]
                moment = base.collected_at + timedelta(seconds=cycle * args.interval)
                snapshot = base.model_copy(update={"collected_at": moment, "grants": facts})
                stored = report.model_copy(update={"evaluated_at": moment, "snapshot_collected_at": moment})
                start, cpu = time.perf_counter(), time.process_time()
                record_cycle(
                    store,
                    snapshot=snapshot,
                    report=stored,
                    stats=CollectionStats(statements=3, requests={"sql": 9}, duration_seconds=1.0, strategy="sql"),
                    started_at=moment,
                    finished_at=moment + timedelta(seconds=1),
                    debounce_cycles=2,
                )
                commits.append(time.perf_counter() - start)
                commits_cpu.append(time.process_time() - cpu)
                sizes.append(store.used_bytes())
            file_bytes = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    added = [b - a for a, b in itertools.pairwise(sizes)]
    per_cycle = statistics.median(added) if added else 0.0
    per_day = per_cycle * 86_400 / args.interval
    print(f"{args.tables:,} tables, {grants:,} grants, {len(report.findings)} findings, {args.cycles} cycles")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| first cycle stored (MB) | {sizes[0] / 1e6:.2f} |")
    print(f"| each later cycle added, median (KB) | {per_cycle / 1e3:.1f} |")
    print(f"| later cycles added, max (KB) | {max(added, default=0) / 1e3:.1f} |")
    print(f"| a day at {args.interval} s adds (MB, from the median) | {per_day / 1e6:.1f} |")
    print(f"| store after {args.cycles} cycles, live pages (MB) | {sizes[-1] / 1e6:.1f} |")
    print(f"| store after {args.cycles} cycles, file with its WAL (MB) | {file_bytes / 1e6:.1f} |")
    print(
        f"| commit a later cycle, median wall / CPU (s) | {statistics.median(commits[1:] or commits):.2f}"
        f" / {statistics.median(commits_cpu[1:] or commits_cpu):.2f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
