"""`traindev split` end to end on tiny stores: identical re-runs and the summary it writes."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from traindev.config import SplitParams
from traindev.data.store import write_store
from traindev.stages import split

OUTPUTS = (
    "data/split/manifest.parquet",
    "data/split/pixels.npy",
    "data/split/dataset.json",
    "reports/split/summary.json",
    "reports/split/duplicates_dropped.csv",
    "reports/split/near_duplicates.csv",
)


def write_domain(root, domain: str, count: int, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 17, size=(count, 8, 8, 1), dtype=np.uint8)
    labels = [str(index % 3) for index in range(count)]
    manifest = pd.DataFrame(
        {
            "id": [f"{domain}-{index}" for index in range(count)],
            "source": domain,
            "domain": domain,
            "label": labels,
            "origin": "real",
            "tags": [[] for _ in labels],
        }
    )
    write_store(root / domain, manifest, pixels, ["0", "1", "2"], 16)


def run_split(tmp_path, params: SplitParams) -> str:
    sources = tuple(tmp_path / name for name in ("phone", "web", "fonts"))
    return split.split_stores(params, sources=sources)


def test_a_rerun_writes_byte_identical_outputs(tmp_path, monkeypatch):
    for domain, count, seed in (("phone", 90, 0), ("web", 120, 1), ("fonts", 60, 2)):
        write_domain(tmp_path, domain, count, seed)
    monkeypatch.chdir(tmp_path)
    params = SplitParams(target_domain="phone", sources={"web": {"cap": 50}})
    run_split(tmp_path, params)
    first = {name: (tmp_path / name).read_bytes() for name in OUTPUTS}
    run_split(tmp_path, params)
    assert {name: (tmp_path / name).read_bytes() for name in OUTPUTS} == first
    near = pd.read_csv(tmp_path / "reports/split/near_duplicates.csv")
    assert near.empty and "near_id" in near.columns  # written (empty) when the check is off


def test_the_summary_reports_pool_use_confidence_and_warnings(tmp_path, monkeypatch, caplog):
    for domain, count, seed in (("phone", 90, 0), ("web", 120, 1), ("fonts", 60, 2)):
        write_domain(tmp_path, domain, count, seed)
    monkeypatch.chdir(tmp_path)
    params = SplitParams(
        target_domain="phone",
        dev=30,
        test=0.2,
        sources={"web": {"fraction": 0.5, "cap": 40}},
        expected_error=0.1,
        min_resolvable_difference=0.05,
    )
    with caplog.at_level(logging.WARNING, logger="traindev.stages.split"):
        message = run_split(tmp_path, params)

    summary = json.loads((tmp_path / "reports/split/summary.json").read_text())
    assert summary["totals"]["dev"] == 30 and summary["totals"]["test"] == 18
    assert summary["stratify"] is True
    assert summary["sources"] == {
        "fonts": {"rows": 60, "in_pool": 60, "unused": 0, "fraction": 1.0, "cap": None},
        "web": {"rows": 120, "in_pool": 40, "unused": 80, "fraction": 0.5, "cap": 40},
    }
    confidence = summary["confidence"]
    assert confidence["expected_error"] == 0.1 and confidence["level"] == 0.95
    assert confidence["dev"]["examples"] == 30 and not confidence["dev"]["big_enough"]
    assert confidence["dev"]["examples_needed"] == 277  # 2 * 1.96^2 * 0.09 / 0.05^2
    assert len(summary["warnings"]) == 2
    assert summary["warnings"][0].startswith("dev set too small: 30 examples")
    assert [record.getMessage() for record in caplog.records] == [
        f"split: {warning}" for warning in summary["warnings"]
    ]
    assert "2 warning(s) in reports/split/summary.json" in message


def test_a_class_only_in_a_source_domain_is_warned_about_and_recorded(
    tmp_path, monkeypatch, caplog
):
    """The issue's `bird`: only the source domain has it, so it all goes to train."""
    write_domain(tmp_path, "phone", 90, 0)
    pixels = np.random.default_rng(3).integers(0, 17, size=(40, 8, 8, 1), dtype=np.uint8)
    labels = [("0", "1", "2", "bird")[index % 4] for index in range(40)]
    manifest = pd.DataFrame(
        {
            "id": [f"web-{index}" for index in range(40)],
            "source": "web",
            "domain": "web",
            "label": labels,
            "origin": "real",
            "tags": [[] for _ in labels],
        }
    )
    write_store(tmp_path / "web", manifest, pixels, ["0", "1", "2", "bird"], 16)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="traindev.stages.split"):
        message = split.split_stores(
            SplitParams(target_domain="phone"), sources=(tmp_path / "phone", tmp_path / "web")
        )

    summary = json.loads((tmp_path / "reports/split/summary.json").read_text())
    assert summary["missing_classes"] == {"dev": ["bird"], "test": ["bird"]}
    warning = next(w for w in summary["warnings"] if "'bird'" in w)
    assert "no example in dev, test" in warning and "only domain(s) web" in warning
    assert "class-distribution mismatch" in warning and "add target examples" in warning
    assert f"split: {warning}" in [record.getMessage() for record in caplog.records]
    assert "warning(s) in reports/split/summary.json" in message
