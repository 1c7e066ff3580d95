"""Every script in benchmarks/ runs (its --dry-run) and writes a valid JSON record, and
docs/benchmarks.md is what the committed records render to: benchmarks cannot rot unseen."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from benchmark_record import RESULTS, Run, benchmark_scripts, figure, read_record
from helpers.benchmark_scripts import load_benchmark
from helpers.repository import PROJECT_ROOT
from render_docs import render, section

# Dry runs that run the real dvc / prefect binaries in fresh project copies (tens of seconds).
END_TO_END = {"everyday_loop", "orchestration_overhead", "pipeline_wall_time", "synthesis_gap"}
# Dry runs that measure nothing: their figures need trained models (minutes).
NO_FIGURES = {"synthesis_gap"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(path.stem, marks=[pytest.mark.e2e] if path.stem in END_TO_END else [])
        for path in benchmark_scripts()
    ],
)
def test_the_dry_run_writes_a_valid_record(name: str, tmp_path: Path) -> None:
    bench = load_benchmark(name)
    bench.main(["--dry-run", "--out", str(tmp_path)])

    record = read_record(tmp_path / f"{name}.json")
    assert record.benchmark == name and record.dry_run
    assert record.machine.cores >= 1 and record.git_commit
    assert bool(record.figures) == (name not in NO_FIGURES)
    for item in record.figures:
        assert math.isfinite(item.value), item.name
        if item.baseline:
            assert item.ratio == pytest.approx(item.value / item.baseline), item.name
        if item.goal is None:
            assert item.goal_met is None, item.name
    assert f"## {name}" in section(record, PROJECT_ROOT / "benchmarks" / f"{name}.py")


def test_the_benchmarks_page_is_rendered_from_the_committed_records() -> None:
    page = (PROJECT_ROOT / "docs" / "benchmarks.md").read_text()
    assert page == render(RESULTS), "stale: run `make docs` (benchmarks/render_docs.py)"


def test_a_dry_run_record_is_refused_on_the_benchmarks_page(tmp_path: Path) -> None:
    run = Run("split_scale", argv=["--dry-run"], dry_run=True)
    run.write([figure("split", 1.0, "s")], {}, tmp_path)
    with pytest.raises(ValueError, match="dry run"):
        render(tmp_path)


def test_synthesis_gap_reads_its_figures_from_a_reproduced_project(reproduced_project) -> None:
    """Its dry run trains nothing, so what it reads from a trained project is pinned here."""
    bench = load_benchmark("synthesis_gap")
    row = bench.measure(reproduced_project.root, "deep_nn")
    assert 0 <= row["dev_error"] <= 1 and 0 <= row["train_dev_error"] <= 1
    assert row["mismatch_gap"] == pytest.approx(row["dev_error"] - row["train_dev_error"])
    figures = bench.figures({"c": [row], "d": [row]})
    (against_c,) = [f for f in figures if f.baseline is not None]
    assert against_c.ratio == pytest.approx(1.0) and against_c.goal_met is False
