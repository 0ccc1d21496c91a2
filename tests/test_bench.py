"""`python -m bench --quick` runs end to end and reports every measure the issue asks for (shape, not timings:
the numbers live in docs/benchmarks.md, measured on a quiet machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_reports_every_measure(tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: dict[str, Any] = json.loads(figures.read_text(encoding="utf-8"))

    assert results["quick"] is True and results["latency_ms"] == 30
    assert [size["tables"] for size in results["sizes"]] == [100, 1_000]
    for size in results["sizes"]:
        assert size["crawl"]["statements"] == size["crawl"]["objects"] > size["tables"]
        assert size["crawl"]["requests"] >= size["crawl"]["statements"]
        for probe in ("watch", "cycle"):
            assert "error" not in size[probe], size[probe]
            last = size[probe]["cycles"][-1]
            assert {"wall_seconds", "requests", "statements", "grants"} <= set(last)
            assert size[probe]["peak_rss_mb"] > 0
        assert size["cycle"]["cycles"][-1]["findings"] > 0
        assert size["check"]["exit_code"] in (0, 1, 3)  # it evaluated: not bad input
        assert size["check"]["peak_rss_mb"] > 0
    scrape = results["scrape"]
    assert scrape["scrapes"] == 50 and scrape["failures"] == 0
    assert 0 < scrape["p50_ms"] <= scrape["p99_ms"] <= scrape["max_ms"]
    assert [p["principals"] for p in results["growth"]["principals"]] == [100, 300]
    assert [p["group_depth"] for p in results["growth"]["group_depth"]] == [1, 3]
    assert all("error" not in p for curve in results["growth"].values() for p in curve)
    assert "grants" in results["evaluation"]
    assert {t["met"] for t in results["targets"]} <= {True, False, None}
    assert len(results["targets"]) >= 5

    out = done.stdout
    assert "| tables | crawl wall (s) | crawl requests |" in out
    assert "| tables | grants | cycle wall (s) |" in out
    assert "`/metrics` while cycles run" in out
    assert "| dimension | value | tables | grants | cycle wall (s) | peak RSS (MB) |" in out
    assert "| target | measured | met |" in out
