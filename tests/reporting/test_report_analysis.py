"""The report's analysis sections: intervals, per-class gaps, previous run, error analysis,
label issues, data mismatch and model selection, in both formats, from contract-shaped inputs."""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest
from helpers.html import parse_html, tables
from helpers.records import (
    ARCHS,
    HOSTILE_CATEGORY,
    MISSING_THUMBNAIL,
    PROJECT_LAYOUT,
    REVIEW_HINT,
    diagnosis_without_intervals,
    load,
    selection,
    write_fake_inputs,
)
from mlflow.tracking import MlflowClient

from traindev.config import AugmentParams
from traindev.records import MissingReportInputError, ReportInputError, read_record, write_record
from traindev.records.analysis import DomainMismatch
from traindev.records.diagnosis import DiagnosisRecord
from traindev.records.selection import Threshold
from traindev.reporting import plots
from traindev.reporting.inputs import load_metrics
from traindev.reporting.render import CHAMPION_NOTE, domain_mismatch_sentence
from traindev.reporting.report import ReportPaths, write_report
from traindev.reporting.templating import md_escape
from traindev.stages import report as report_stage

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportPaths, str, str]:
    root = tmp_path_factory.mktemp("analysis-report")
    paths = write_report(
        load(write_fake_inputs(root / "inputs")), root / "out", "t", generated_at=WHEN
    )
    return paths, paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")


def section(text: str, architecture: str) -> str:
    """The part of a report (either format) about one architecture, up to the next one."""

    def start(name: str) -> int:
        html_marker = f'data-architecture="{name}"'
        return text.index(html_marker if html_marker in text else f"\n## {md_escape(name)}\n")

    begin = start(architecture)
    later = [start(name) for name in ARCHS if start(name) > begin]
    return text[begin : min(later, default=len(text))]


# ---------------------------------------------------------------------------------------------
# Bias / variance with intervals


def test_bias_variance_rows_show_ci_and_within_noise(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, markdown = report
    mlp, small_cnn = tables(html_text, "bias-variance")
    assert mlp[0]["Gap 95% CI"] == "2.10% to 6.14%"
    assert mlp[0]["Error 95% CI"] == "—"  # human-level has no interval (null)
    assert mlp[1]["Error 95% CI"] == "4.00% to 6.30%"
    assert mlp[1]["Matters"] == "no (within noise)"
    assert mlp[2]["Matters"] == "yes (dominant)"
    assert mlp[3]["Gap 95% CI"] == "-2.00% to 3.30%"
    # small_cnn's gaps carry no interval of their own: the one under intervals.gaps is used.
    assert small_cnn[0]["Gap 95% CI"] == "0.10% to 1.90%"
    row = (
        "| Train | 5.12% | 4.00% to 6.30% | Variance | 1.22% | -0.40% to 2.84% | no (within noise)"
    )
    assert row in markdown
    assert "Intervals are 95% CIs (confidence 0.95)" in markdown


def test_per_class_table_lists_every_class_with_its_dominant_gap(
    report: tuple[ReportPaths, str, str],
) -> None:
    _, html_text, markdown = report
    mlp, small_cnn = tables(html_text, "per-class")
    assert [row["Class"] for row in mlp] == ["0", "1", "2"]
    assert mlp[2] == {
        "Class": "2",
        "Dev examples": "11",
        "Train error": "2.00%",
        "Train-dev error": "3.33%",
        "Dev error": "18.18%",
        "Dominant gap": "Data mismatch",
        "Gap": "14.85%",
        "Gap 95% CI": "2.00% to 31.00%",
    }
    assert {row["Dominant gap"] for row in mlp[:2] + small_cnn} == {"none stands out"}
    assert (
        "| 2 | 11 | 2.00% | 3.33% | 18.18% | Data mismatch | 14.85% | 2.00% to 31.00% |" in markdown
    )
    for text in (html_text, markdown):
        assert "No class has a gap that matters." in section(text, "small_cnn")
        assert "No class has a gap that matters." not in section(text, "mlp")


def test_the_report_shows_no_run_facts(report: tuple[ReportPaths, str, str]) -> None:
    """The report is a DVC output: wall times, latency, run ids and the comparison with an
    earlier MLflow run differ between runs of the same inputs, so they stay out of it."""
    _, html_text, markdown = report
    (comparison,) = tables(html_text, "comparison")
    for column in ("Training time (s)", "Throughput (examples/s)", "Latency (ms/example)"):
        assert column not in comparison[0]
    for text in (html_text, markdown):
        assert "Since the previous run" not in text and "Compared with run" not in text


# ---------------------------------------------------------------------------------------------
# Error analysis


def test_error_analysis_links_sheets_relative_to_the_report(
    report: tuple[ReportPaths, str, str],
) -> None:
    paths, html_text, markdown = report
    hrefs = [value for tag, _, value in parse_html(html_text).links if tag == "a"]
    md_links = re.findall(r"(?<!!)\[[^\]]*\]\(([^)]+)\)", markdown)
    for arch in ARCHS:
        for name in ("errors.html", "errors.csv", "correct.html", "correct.csv"):
            expected = f"../inputs/analysis/{arch}/{name}"
            assert expected in hrefs and expected in md_links
            assert (paths.html.parent / expected).resolve() == (
                paths.html.parent.parent / "inputs" / "analysis" / arch / name
            )


def test_review_table_keeps_the_given_order_and_lists_stale_ids(
    report: tuple[ReportPaths, str, str],
) -> None:
    _, html_text, markdown = report
    (review,) = tables(html_text, "review")
    assert [(r["Category"], r["Count"], r["% of errors"], r["Ceiling"]) for r in review] == [
        ("blurry", "15", "40.54%", "5.00%"),
        (HOSTILE_CATEGORY, "10", "27.03%", "3.34%"),
        ("dark", "4", "10.81%", "1.33%"),
    ]
    (properties,) = [t for t in tables(html_text, "properties") if t][:1]
    assert {"Property": "dark", "Flagged when": "brightness < 0.12"} in properties
    for text in (html_text, markdown):
        assert "no longer errors (stale; their ticks are ignored): stale-1." in text
        assert "not a dev example (ignored): ghost-9." in text
        assert "1 of 50 reviewed correctly-classified examples are incorrectly labeled" in text
    assert "| blurry | 15 | 40.54% | 5.00% |" in markdown


def test_unreviewed_architecture_shows_the_review_hint(
    report: tuple[ReportPaths, str, str],
) -> None:
    _, html_text, markdown = report
    assert f'<p class="hint">{REVIEW_HINT}</p>' in html_text
    assert "No reviewed sheet at reviews/small\\_cnn/errors.csv" in markdown
    assert REVIEW_HINT not in section(html_text, "mlp")


def test_hostile_category_name_is_escaped(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, markdown = report
    assert HOSTILE_CATEGORY not in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    assert "| \\<script\\>alert(1)\\</script\\> | 10 | 27.03% | 3.34% |" in markdown


def test_ceiling_chart_only_for_a_reviewed_architecture(
    report: tuple[ReportPaths, str, str],
) -> None:
    paths, _, markdown = report
    names = {p.name for p in paths.figures}
    assert "error_ceilings_mlp.png" in names and "error_ceilings_small_cnn.png" not in names
    assert "![mlp error categories by ceiling](figures/error_ceilings_mlp.png)" in markdown


# ---------------------------------------------------------------------------------------------
# Label issues and data mismatch


def test_label_issue_arithmetic_and_sentence(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, markdown = report
    (impact,) = tables(html_text, "label-impact")
    assert {row["Quantity"]: row["Value"] for row in impact} == {
        "Dev error": "12.34%",
        "Error from suspected labels": "1.00%",
        "Error from other causes": "11.34%",
        "Share of errors from suspected labels": "8.10%",
        "Of those, expected on correct labels": "1.6 (0 to 3)",
        "Share of errors that are label errors (95% interval)": "0.00% to 12.00%",
        "Dev error without the suspected rows": "11.52%",
        "Verdict": "uncertain: view the top suspects",
    }
    for text in (html_text, markdown):
        assert "Suspected labels explain 1.00 of the 12.34 points of dev error." in text
        assert "Suspected incorrect labels: 3 in dev, 2 in test." in text
        assert "Expected false suspects: 3.2 of 5 (1 to 6)" in text
        assert "Training-set check: 4 of 146 training examples suspected" in text
    assert "This analysis did not check the dev and test labels." in section(markdown, "small_cnn")


def test_thumbnails_are_embedded_in_html_and_linked_from_markdown(
    report: tuple[ReportPaths, str, str],
) -> None:
    paths, html_text, markdown = report
    analysis_dir = paths.html.parent.parent / "inputs" / "analysis" / "mlp"
    embedded = {
        base64.b64decode(value.split(",", 1)[1])
        for tag, _, value in parse_html(html_text).links
        if tag == "img"
    }
    for name in ("a1b2c3", "t1", "g1"):
        assert (analysis_dir / "thumbnails" / f"{name}.png").read_bytes() in embedded
        link = f"](../inputs/analysis/mlp/thumbnails/{name}.png)"
        assert link in markdown
    assert "| 2 | Test | 0 | 2 | 0.034 | (missing) |" in markdown


def test_missing_thumbnail_renders_a_placeholder_and_is_listed(
    report: tuple[ReportPaths, str, str],
) -> None:
    paths, html_text, markdown = report
    assert '<div class="placeholder" role="img" aria-label="d4e5f6: labeled 0">missing</div>' in (
        html_text
    )
    (missing,) = paths.missing_thumbnails
    assert missing.endswith(f"{MISSING_THUMBNAIL} (file not found)")
    assert f"<li>{missing}</li>" in html_text
    assert "d4e5f6.png (file not found)" in markdown
    assert "d4e5f6.png)" not in markdown  # no link to a file that is not there


def test_mismatch_auc_interval_and_gallery(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, markdown = report
    for text in (html_text, markdown):
        assert "reaches AUC 0.810 (interval 0.770 to 0.850)" in text
        assert "Dev is easy to tell from train-dev: the mismatch is real." in text
    assert "<figcaption>Label: 2<br>Prediction: 1<br>P(dev): 0.970</figcaption>" in html_text
    assert "| 2 | 1 | 0.970 | [g1: labeled 2](../inputs/analysis/mlp/thumbnails/g1.png) |" in (
        markdown
    )
    assert "This analysis did not compare train-dev with dev." in section(html_text, "small_cnn")


def test_the_mismatch_gallery_says_what_its_figure_is(report: tuple[ReportPaths, str, str]) -> None:
    """Issue 18: the gallery's "Score" was never defined; it is the classifier's P(dev)."""
    _, html_text, markdown = report
    assert "Score:" not in html_text and "| Score |" not in markdown
    assert "| Label | Prediction | P(dev) | Thumbnail |" in markdown
    for text in (html_text, markdown):
        assert "P(dev) is the probability, given by the classifier above" in text
        assert "0.5 means it looks like training data" in text


BY_DOMAIN = [
    {"domain": "handwritten", "synthetic": False, "train_dev_examples": 90, "dev_examples": 30,
     "auc": 0.52, "ci_low": 0.44, "ci_high": 0.6, "distinguishable": False, "skipped": None},
    {"domain": "scans", "synthetic": False, "train_dev_examples": 2, "dev_examples": None,
     "auc": None, "ci_low": None, "ci_high": None, "distinguishable": None,
     "skipped": "2 train-dev examples, fewer than analyze.mismatch.folds=5"},
    {"domain": "fonts", "synthetic": True, "train_dev_examples": 600, "dev_examples": 30,
     "auc": 0.97, "ci_low": 0.95, "ci_high": 0.99, "distinguishable": True, "skipped": None},
]  # fmt: skip


def test_mismatch_by_domain_round_trips_into_a_table_and_a_sentence(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    _edit_analysis(dirs, lambda data: data["mismatch"].update(by_domain=BY_DOMAIN))
    inputs = load(dirs)
    mlp = next(arch for arch in inputs.architectures if arch.name == "mlp")
    handwritten, scans, fonts = mlp.analysis.mismatch.by_domain
    assert (fonts.domain, fonts.synthetic, fonts.auc, fonts.interval) == (
        "fonts", True, 0.97, (0.95, 0.99),
    )  # fmt: skip
    assert not handwritten.synthetic and handwritten.train_dev_examples == 90
    assert math.isnan(scans.auc) and scans.interval is None and scans.skipped.startswith("2 ")

    paths = write_report(inputs, tmp_path / "out", "t", generated_at=WHEN)
    html_text, markdown = paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")
    [rows] = tables(html_text, "mismatch-by-domain")
    assert rows == [
        {"Train-dev domain": "handwritten", "Origin": "real", "Train-dev examples": "90",
         "Share of train-dev": "—", "AUC vs dev": "0.520", "Interval": "0.440 to 0.600"},
        {"Train-dev domain": "scans", "Origin": "real", "Train-dev examples": "2",
         "Share of train-dev": "—", "AUC vs dev": "—",
         "Interval": "skipped: 2 train-dev examples, fewer than analyze.mismatch.folds=5"},
        {"Train-dev domain": "fonts", "Origin": "synthetic", "Train-dev examples": "600",
         "Share of train-dev": "—", "AUC vs dev": "0.970", "Interval": "0.950 to 0.990"},
    ]  # fmt: skip
    sentence = (
        "Of synthesized train-dev (fonts, AUC 0.97) and real train-dev (handwritten, AUC 0.52), "
        "the synthetic data sits further from dev"
    )
    for text in (html_text, markdown):
        assert sentence in text
    assert "| fonts | synthetic | 600 | — | 0.970 | 0.950 to 0.990 |" in markdown


def _item(ident: str, score: float, thumbnail: str) -> dict:
    return {"id": ident, "label": "3", "prediction": "8", "score": score, "thumbnail": thumbnail}


def test_the_mismatch_gallery_puts_each_domains_train_dev_side_beside_dev(tmp_path: Path) -> None:
    """Issue 19 item 5: the gallery showed dev images only. Each checked train-dev domain
    now shows its rows most like dev and most like itself; a skipped domain shows none."""
    by_domain = [dict(entry) for entry in BY_DOMAIN]
    by_domain[2] |= {
        "dev_like": [_item("s1", 0.61, "thumbnails/s1.png")],
        "train_dev_like": [_item("h1", 0.02, "thumbnails/h1.png")],
    }
    dirs = write_fake_inputs(tmp_path / "inputs")
    _edit_analysis(dirs, lambda data: data["mismatch"].update(by_domain=by_domain))
    inputs = load(dirs)
    paths = write_report(inputs, tmp_path / "out", "t", generated_at=WHEN)
    html_text, markdown = paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")
    for text in (html_text, markdown):
        assert "The training side, per train-dev domain" in text
        assert "Train-dev · fonts (synthetic): most like dev (highest P(dev))" in text
        assert "Train-dev · fonts (synthetic): most like its own training data" in text
        assert "Train-dev · handwritten" not in text and "Train-dev · scans" not in text
    mlp = section(html_text, "mlp")
    assert "<figcaption>Label: 3<br>Prediction: 8<br>P(dev): 0.610</figcaption>" in mlp
    assert "<figcaption>Label: 3<br>Prediction: 8<br>P(dev): 0.020</figcaption>" in mlp
    assert "| 3 | 8 | 0.020 | [h1: labeled 3](../inputs/analysis/mlp/thumbnails/h1.png) |" in (
        markdown
    )
    record = next(a for a in inputs.architectures if a.name == "mlp").analysis
    assert "thumbnails/s1.png" in record.thumbnail_paths()


def test_mismatch_without_by_domain_renders_no_domain_table(
    report: tuple[ReportPaths, str, str],
) -> None:
    """Files written before the per-domain breakdown still load and render as before."""
    _, html_text, markdown = report
    assert tables(html_text, "mismatch-by-domain") == []
    for text in (html_text, markdown):
        assert "reaches AUC 0.810" in text and "Train-dev domain" not in text


def test_mismatch_sentence_overlapping_and_without_synthesis() -> None:
    def entry(domain: str, synthetic: bool, auc: float, interval: tuple) -> DomainMismatch:
        low, high = interval
        return DomainMismatch(
            domain=domain, synthetic=synthetic, train_dev_examples=50, dev_examples=50, auc=auc,
            ci_low=low, ci_high=high, distinguishable=True, skipped=None,
        )  # fmt: skip

    real = entry("handwritten", False, 0.6, (0.5, 0.7))
    assert "sit about as far from dev" in domain_mismatch_sentence(
        [real, entry("fonts", True, 0.65, (0.55, 0.75))]
    )
    assert "the synthetic data sits closer to dev" in domain_mismatch_sentence(
        [entry("web", False, 0.9, (0.85, 0.95)), entry("fonts", True, 0.6, (0.5, 0.7))]
    )
    assert "No train-dev example is synthesized" in domain_mismatch_sentence([real])
    skipped = DomainMismatch(
        domain="fonts", synthetic=True, train_dev_examples=1, dev_examples=None, auc=math.nan,
        ci_low=math.nan, ci_high=math.nan, distinguishable=None, skipped="1 train-dev example",
    )  # fmt: skip
    assert "synthesized train-dev examples are too few" in domain_mismatch_sentence([real, skipped])
    assert "No training domain had enough" in domain_mismatch_sentence([skipped])


# ---------------------------------------------------------------------------------------------
# Model selection


def test_selection_section_follows_the_comparison(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, markdown = report
    for text, heading in (
        (html_text, "<h2>Model selection</h2>"),
        (markdown, "## Model selection"),
    ):
        assert text.index("Architecture comparison") < text.index(heading)
        assert text.index(heading) < text.index(
            "Per architecture" if text is html_text else "## mlp"
        )
    (candidates,) = tables(html_text, "selection")
    assert candidates == [
        {"Candidate": "small_cnn ★", "Source": "this run", "dev.error": "8.15%",
         "Satisfied": "yes", "Failed thresholds": "", "Rank": "1"},
        {"Candidate": "mlp", "Source": "this run", "dev.error": "12.34%",
         "Satisfied": "no", "Failed thresholds": "latency_ms > 100", "Rank": "—"},
    ]  # fmt: skip
    assert "| mlp | this run | 12.34% | no | latency\\_ms \\> 100 | — |" in markdown
    assert "Optimizing metric: dev.error (minimize)." in html_text
    assert "Satisficing thresholds (every one must hold): latency_ms ≤ 100." in html_text
    assert "<li>select.satisficing[0]: a warning about the thresholds.</li>" in html_text
    assert f"<p>{html.escape(CHAMPION_NOTE)}</p>" in html_text
    assert "Winner: small_cnn (this run), dev.error 8.15%." in html_text
    assert "Winner: small\\_cnn (this run), dev.error 8.15%." in markdown


def test_selection_without_winner_says_so(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    write_record(dirs["selection"], selection(with_winner=False))
    paths = write_report(load(dirs), tmp_path / "out", "t", generated_at=WHEN)
    html_text, markdown = paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")
    for text in (html_text, markdown):
        assert "Winner: none." in text
    (candidates,) = tables(html_text, "selection")
    assert {row["Rank"] for row in candidates} == {"—"}
    assert "★" not in "".join(row["Candidate"] for row in candidates)


def test_a_run_time_threshold_is_named_with_where_its_figures_are(tmp_path: Path) -> None:
    """Issue 18: latency is judged per run, so the report (a DVC output) says how it is
    measured and where each run's figure and spread are, and shows no figure itself."""
    dirs = write_fake_inputs(tmp_path / "inputs")
    flops = Threshold(
        metric="flops_per_example", max=1e6, min=None, description="flops_per_example <= 1e+06"
    )
    latency = Threshold(metric="latency_ms", max=100.0, min=None, description="latency_ms <= 100")
    record = selection().model_copy(
        update={"thresholds": [flops], "run_time_thresholds": [latency]}
    )
    write_record(dirs["selection"], record)
    paths = write_report(load(dirs), tmp_path / "out", "t", generated_at=WHEN)
    for text in (paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")):
        assert "Satisficing thresholds (every one must hold): flops" in text
        assert "Checked on each run, not here: latency" in text
        assert "spread (median, p90, max)" in text
        assert "evaluation.json" in text


# ---------------------------------------------------------------------------------------------
# Inputs: required files, old files, malformed files


@pytest.mark.parametrize(
    "relative", ["analysis/small_cnn.json", "selection.json"], ids=["analysis", "selection"]
)
def test_missing_required_input_names_the_file(tmp_path: Path, relative: str) -> None:
    dirs = write_fake_inputs(tmp_path)
    (tmp_path / relative).unlink()
    with pytest.raises(MissingReportInputError, match=re.escape(str(tmp_path / relative))):
        load(dirs)


def test_a_diagnosis_without_intervals_renders_dashes(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    for arch in ARCHS:
        write_record(
            dirs["evaluation"] / arch / "diagnosis.json", diagnosis_without_intervals(arch)
        )
    inputs = load(dirs)
    diagnosis = inputs.architectures[0].diagnosis
    assert diagnosis.confidence is None and diagnosis.per_class == []
    assert diagnosis.row_intervals == {} and diagnosis.gap("variance").interval is None
    assert diagnosis.gap("variance").within_noise is False
    paths = write_report(inputs, tmp_path / "out", "t", generated_at=WHEN)
    html_text = paths.html.read_text("utf-8")
    mlp, _ = tables(html_text, "bias-variance")
    assert set(mlp[0]) >= {"Error CI", "Gap CI"}
    assert {row["Gap CI"] for row in mlp[:4]} == {"—"}
    assert not tables(html_text, "per-class")
    # small_cnn's metrics file has class_error: the per-class chart comes from it instead.
    assert {p.name for p in paths.figures} >= {"class_errors_small_cnn.png"}
    assert "class_errors_mlp.png" not in {p.name for p in paths.figures}


def test_a_stale_diagnosis_file_is_an_error_naming_the_file_and_the_field(tmp_path: Path) -> None:
    """A file written by an older stage (here: with the comparison that moved to the run
    record) is refused, not silently half-read."""
    dirs = write_fake_inputs(tmp_path)
    path = dirs["evaluation"] / "mlp" / "diagnosis.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"previous": None}))
    with pytest.raises(ReportInputError, match=rf"{re.escape(str(path))}: previous: unknown field"):
        load(dirs)


def test_new_keys_read_null_as_nan(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)
    diagnosis = read_record(dirs["evaluation"] / "mlp" / "diagnosis.json", DiagnosisRecord)
    assert diagnosis.confidence == 0.95
    assert diagnosis.row_intervals.get("human-level") is None
    assert diagnosis.gap_interval("variance") == (-0.004, 0.0284)
    two = diagnosis.per_class[2]
    assert two.label == "2" and two.dominant == "data_mismatch" and two.counts["train_dev"] == 6
    assert math.isnan(two.errors["test"]) and math.isnan(two.gaps["dev_overfitting"].value)
    metrics = load_metrics(dirs["metrics"] / "small_cnn.json")
    assert metrics.splits["dev"].weighted_error == 0.0901
    assert metrics.splits["dev"].class_error["0"] == 0.05
    assert math.isnan(metrics.splits["dev"].class_error["1"])
    assert load_metrics(dirs["metrics"] / "mlp.json").splits["dev"].weighted_error is None


def test_weighted_dev_error_column_when_reported(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, _ = report
    (comparison,) = tables(html_text, "comparison")
    assert {row["Architecture"]: row["Weighted dev error"] for row in comparison} == {
        "mlp": "—",
        "small_cnn": "9.01%",
    }


def _edit_analysis(dirs: dict[str, Path], change) -> Path:
    path = dirs["analysis"] / "mlp.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def test_thumbnail_path_outside_the_analysis_directory_is_refused(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)

    def escape(data: dict) -> None:
        data["label_issues"]["top"][0]["thumbnail"] = "../../split/summary.json"

    path = _edit_analysis(dirs, escape)
    with pytest.raises(
        ReportInputError, match=rf"{re.escape(str(path))}: label_issues\.top\[0\]\.thumbnail"
    ):
        load(dirs)


def test_analysis_of_another_architecture_is_refused(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)
    path = _edit_analysis(dirs, lambda data: data.update(architecture="small_cnn"))
    with pytest.raises(ReportInputError, match=rf"{re.escape(str(path))}: architecture is"):
        load(dirs)


def test_malformed_analysis_names_the_key(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)
    _edit_analysis(dirs, lambda data: data["review"]["table"][1].update(count="ten"))
    with pytest.raises(ReportInputError, match=r"mlp\.json: review\.table\[1\]\.count"):
        load(dirs)


def test_unreadable_thumbnail_is_a_placeholder_not_an_error(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    (dirs["analysis"] / "mlp" / "thumbnails" / "g1.png").write_text("not an image")
    paths = write_report(load(dirs), tmp_path / "out", "t", generated_at=WHEN)
    assert any(item.endswith("g1.png (not a PNG file)") for item in paths.missing_thumbnails)
    assert 'aria-label="g1: labeled 2">missing</div>' in paths.html.read_text("utf-8")


def test_stage_reads_the_project_layout_and_links_into_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_fake_inputs(tmp_path, PROJECT_LAYOUT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = SimpleNamespace(
        train=SimpleNamespace(architectures=list(ARCHS), augment=AugmentParams()),
        report=SimpleNamespace(title="t"),
        task="classification",
    )
    message = report_stage.run(params)
    assert "1 thumbnails missing" in message and "d4e5f6.png (file not found)" in message
    markdown = (tmp_path / "reports" / "report.md").read_text("utf-8")
    assert "[errors.html](analysis/mlp/errors.html)" in markdown
    assert "[g1: labeled 2](analysis/mlp/thumbnails/g1.png)" in markdown
    assert (tmp_path / "reports" / "analysis" / "mlp" / "thumbnails" / "g1.png").is_file()
    # The fixture's run ids are not in this store, so each architecture gets a stand-in run.
    client = MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("traindev").experiment_id])
    assert len(runs) == len(ARCHS)
    for run in runs:
        logged = {item.path for item in client.list_artifacts(run.info.run_id, "report")}
        assert {"report/report.html", "report/report.md", "report/figures"} <= logged
    mlflow.set_tracking_uri(None)


# ---------------------------------------------------------------------------------------------
# Plots


def test_ceiling_chart_draws_dollar_signs_literally() -> None:
    png = plots.ceilings_png(["costs $5", "a $b$ c", "$"], [0.03, 0.02, 0.01], "t $")
    assert png.startswith(b"\x89PNG")
    assert plots.ceilings_png([], [], "empty").startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="2 categories but 1 ceilings"):
        plots.ceilings_png(["a", "b"], [0.1], "t")


def test_class_error_chart_checks_series_length() -> None:
    png = plots.class_errors_png(["0", "1"], {"train-dev": [0.1, math.nan], "dev": [0.2, 0.3]}, "t")
    assert png.startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="'dev' has 1 values for 2 classes"):
        plots.class_errors_png(["0", "1"], {"dev": [0.2]}, "t")


def test_the_report_shows_each_domain_side_by_side_and_dev_against_training(
    report: tuple[ReportPaths, str, str],
) -> None:
    """Issue 19 item 5: a sample of each training domain and of dev, and the property flags
    with the training distribution as reference, so a target-wide blur shows."""
    _, html_text, markdown = report
    mlp = section(html_text, "mlp")
    for name in ("Train · handwritten", "Train · synthetic", "Dev · handwritten"):
        assert name in mlp and name in markdown
    assert mlp.count('alt="Train · ') == 2 and mlp.count('alt="Dev · handwritten') == 1
    for thumbnail in ("h1", "s1", "d1"):
        assert f"thumbnails/{thumbnail}.png" in markdown
    rows = tables(mlp, "properties")[-1]
    assert rows[0]["Flag"] == "blurry"
    assert rows[0]["dev beyond all training"] == "83.00% (shifted)"
    assert rows[0]["dev beyond handwritten"] == "11.00%"
    assert "Shifted: blurry vs all training, blurry vs synthetic." in mlp
    assert "3 nearest training examples" in mlp
    assert "Train · " not in section(html_text, "small_cnn")
