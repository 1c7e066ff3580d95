"""benchmarks/split_scale.py measures and prints its figures (a few thousand rows, in process)."""

from __future__ import annotations

from helpers.benchmark_scripts import load_benchmark


def test_benchmark_reports_time_and_memory_against_the_goal(capsys):
    bench = load_benchmark("split_scale")
    figures = bench.measure(3000, near_duplicates=True)
    assert figures["rows"] == 3000 and figures["split_s"] > 0
    assert figures["totals"]["dev"] == figures["totals"]["test"] == 30
    assert figures["max_rss_mb"] >= figures["rss_before_split_mb"] > 0
    assert figures["phash_s"] > 0 and figures["near_found"] >= 0
    bench.report(figures)
    out = capsys.readouterr().out
    assert "goal < 10 s: met" in out and "goal < 1024 MB" in out and "banded search" in out
