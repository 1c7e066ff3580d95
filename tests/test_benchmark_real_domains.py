"""benchmarks/real_domains.py: the two capture processes it assembles, and how it reads and
judges a reproduced project. (Its dry run is in tests/test_benchmarks.py; the full run
reproduces the pipeline for minutes and is evidence for issue 19, not a test.)"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.benchmark_scripts import load_benchmark
from sklearn.datasets import load_digits

bench = load_benchmark("real_domains")


def test_the_phone_capture_stores_ink_bright_over_a_grey_sheet_seeded_per_image() -> None:
    digits = load_digits()
    counts = digits.images[0]  # a zero: a ring of ink round an empty middle
    image = bench.phone_capture(counts, np.random.default_rng(3))
    assert image.shape == (bench.IMAGE_SIZE, bench.IMAGE_SIZE) and image.dtype == np.uint8
    ink = cv2.resize(counts, image.shape[::-1], interpolation=cv2.INTER_LINEAR) > 8
    assert image[ink].mean() > image[~ink].mean() + 40  # stored as ink, as the UCI counts
    assert image[~ink].min() > 0  # unlike a scan, the sheet is never black: light and noise
    again = bench.phone_capture(counts, np.random.default_rng(3))
    other = bench.phone_capture(counts, np.random.default_rng(4))
    assert np.array_equal(image, again) and not np.array_equal(image, other)


def test_each_class_is_cut_once_into_two_disjoint_domains(tmp_path: Path) -> None:
    written = bench.assemble(tmp_path, 0.5, seed=0)
    digits = load_digits()
    assert sum(written.values()) == len(digits.images)
    files = {domain: sorted((tmp_path / domain).glob("*/*.png")) for domain in written}
    indices = {domain: {int(path.stem) for path in found} for domain, found in files.items()}
    assert not indices[bench.SOURCE] & indices[bench.TARGET]  # no digit in both domains
    for found in files.values():
        labels = {path.parent.name for path in found}
        assert labels == {str(label) for label in range(10)}
        assert all(digits.target[int(path.stem)] == int(path.parent.name) for path in found)
    scanner = cv2.imread(str(files[bench.SOURCE][0]), cv2.IMREAD_UNCHANGED)
    phone = cv2.imread(str(files[bench.TARGET][0]), cv2.IMREAD_UNCHANGED)
    assert scanner.shape == (8, 8) and phone.shape == (16, 16)
    index = int(files[bench.SOURCE][0].stem)
    assert np.array_equal(scanner, bench.scanner_image(digits.images[index]))


def test_findings_read_a_reproduced_project(reproduced_project) -> None:
    found = bench.findings(reproduced_project.root, "deep_nn")
    assert set(found["errors"]) == {"train", "train-dev", "dev", "test"}
    assert set(found["domain_rows"]) == {"handwritten", "synthetic"}
    assert 0 <= found["domain_rows"]["handwritten"]["train-dev"] <= 1
    assert set(found["mismatch_aucs"]) == {"handwritten"}  # real train-dev groups only
    assert found["label_verdict"] in {"none", "unreliable", "worth_fixing", "uncertain",
                                      "not_priority"}  # fmt: skip
    assert found["summary"] and found["mismatch_summary"]


def _found(source_ci, target_ci, own: dict, verdict: str) -> dict:
    return {
        "mismatch_aucs": {
            bench.SOURCE: (sum(source_ci) / 2, source_ci),
            bench.TARGET: (sum(target_ci) / 2, target_ci),
        },
        "target_mismatch": own,
        "label_verdict": verdict,
        "label_share": 0.05,
    }


NOISY = {"value": 0.02, "interval": (-0.01, 0.05), "matters": False, "within_noise": True}
FLAGGED = {"value": 0.06, "interval": (0.03, 0.09), "matters": True, "within_noise": False}


@pytest.mark.parametrize(
    ("found", "right"),
    [
        (_found((0.95, 1.0), (0.42, 0.58), NOISY, "not_priority"), [True] * 4),
        (
            _found((0.45, 0.6), (0.55, 0.7), FLAGGED, "worth_fixing"),
            [False] * 4,
        ),
        (_found((0.95, 1.0), (0.42, 0.58), {}, "uncertain"), [True, True, False, True]),
    ],
)
def test_each_known_truth_is_judged_from_the_records(found: dict, right: list[bool]) -> None:
    truths = bench.judged(found)
    assert [truth.right for truth in truths] == right
    own = found["target_mismatch"]
    assert ("within noise" in truths[2].evidence) == bool(own.get("within_noise"))
    figures = bench.figures_of({"deep_nn": {**found, "errors": {"dev": 0.04}}})
    assert [item.goal_met for item in figures[1:]] == right
    assert figures[1].name == "deep_nn: scanner train-dev vs dev AUC"
