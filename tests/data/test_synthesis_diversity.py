"""Diversity accounting: the narrow-pool (car-noise) warning fires when few sources dominate."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml
from helpers.repository import PROJECT_ROOT
from helpers.synthesis import printed_fonts

from traindev import paths
from traindev.data.synthesis.diversity import FONT_POOLS, diversity_report, pool_summary
from traindev.stages import synthesize

DEFAULT_FONTS = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["synthesize"]["fonts"]


def _font_tags(fonts: list[str], counts: list[int]) -> list[list[str]]:
    return [
        [f"font={font}", "size=30"] for font, n in zip(fonts, counts, strict=True) for _ in range(n)
    ]


def test_even_pool_counts_every_source() -> None:
    summary = pool_summary(["a", "b", "c", "d"] * 5)
    assert summary["distinct"] == 4 and summary["images"] == 20
    assert summary["effective"] == pytest.approx(4.0)
    assert summary["inverse_simpson"] == pytest.approx(4.0)
    assert summary["shares"] == {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}
    assert summary["covering"] == 4  # 80% needs all four


def test_one_dominant_source_counts_barely_more_than_one() -> None:
    summary = pool_summary(["big"] * 90 + [f"s{i}" for i in range(10)])
    assert summary["distinct"] == 11
    assert 1.0 < summary["effective"] < 2.0
    assert summary["top_share"] == 0.9 and summary["covering"] == 1


def test_warning_fires_on_one_font_and_on_a_skewed_pool() -> None:
    one = diversity_report(_font_tags(["DejaVuSans"], [30]), FONT_POOLS, 5.0, "fonts")
    assert one["narrow"] and len(one["warnings"]) == 1
    assert "1.0 effective fonts" in one["warnings"][0]
    assert "car-noise" in one["warnings"][0]
    skewed = diversity_report(
        _font_tags([f"f{i}" for i in range(15)], [86] + [1] * 14), FONT_POOLS, 5.0, "fonts"
    )
    assert skewed["narrow"]  # 15 distinct fonts, but one makes 86% of the set


def test_no_warning_on_the_default_font_list() -> None:
    report = diversity_report(
        _font_tags(DEFAULT_FONTS, [4] * len(DEFAULT_FONTS)), FONT_POOLS, 5.0, "fonts"
    )
    assert not report["narrow"] and report["warnings"] == []
    assert report["pools"]["fonts"]["effective"] == pytest.approx(len(DEFAULT_FONTS))


def test_stage_writes_diversity_json_and_warns_in_its_output_line(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    monkeypatch.chdir(tmp_path)
    narrow = printed_fonts(fonts=["DejaVuSans.ttf"], count=20)
    with caplog.at_level(logging.WARNING):
        message = synthesize.run(narrow)
    assert "1 fonts (effective 1.0); WARNING narrow pool" in message
    assert "narrow pool" in caplog.text
    report = json.loads((tmp_path / paths.DIVERSITY).read_text())
    assert report["narrow"] is True and report["count"] == 20
    assert report["pools"]["fonts"]["shares"] == {"DejaVuSans": 1.0}

    wide = printed_fonts(fonts=DEFAULT_FONTS, count=30)
    message = synthesize.run(wide)
    assert f"{len(DEFAULT_FONTS)} fonts (effective {len(DEFAULT_FONTS)}.0)" in message
    assert "WARNING" not in message
    assert json.loads((tmp_path / paths.DIVERSITY).read_text())["narrow"] is False


def test_threshold_is_a_param(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    params = printed_fonts(
        fonts=["DejaVuSans.ttf", "cmr10.ttf"], count=10, diversity={"min_effective_sources": 2}
    )
    assert "WARNING" not in synthesize.run(params)


def test_count_zero_writes_an_empty_report(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    synthesize.run(printed_fonts(fonts=["DejaVuSans.ttf"], count=0))
    report = json.loads((tmp_path / paths.DIVERSITY).read_text())
    assert report["count"] == 0 and report["pools"] == {} and not report["narrow"]
