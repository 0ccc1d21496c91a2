"""The scale benchmarks still run (small sizes); their numbers live in docs/benchmarks.md, not in assertions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if line.startswith("| ") and "measure" not in line]


@pytest.mark.slow
def test_the_evaluation_benchmark_runs() -> None:
    rows = bench(str(ROOT / "bench" / "evaluate.py"), "--facts", "20000", "--quick")
    assert len(rows) == 6  # the separator row and five measures


@pytest.mark.slow
def test_the_store_growth_benchmark_runs() -> None:
    rows = bench(str(ROOT / "bench" / "store_growth.py"), "--tables", "2000", "--cycles", "3", "--change-every", "2")
    assert any(row.startswith("| each later cycle added") for row in rows)
