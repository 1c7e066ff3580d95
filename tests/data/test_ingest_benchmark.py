"""benchmarks/ingest_throughput.py runs end to end and prints its figures (a tiny folder)."""

from __future__ import annotations

import json

from helpers.benchmark_scripts import load_benchmark


def test_benchmark_prints_both_rates_and_their_ratio(tmp_path, capsys):
    bench = load_benchmark("ingest_throughput")
    out = tmp_path / "figures.json"
    assert bench.main(["--images", "24", "--size", "8", "--repeats", "1", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["images"] == 24 and figures["workers"] == 2
    assert figures["pil_loop_images_per_s"] > 0 and figures["ingest_images_per_s"] > 0
    assert "ratio ingest / loop" in capsys.readouterr().out
