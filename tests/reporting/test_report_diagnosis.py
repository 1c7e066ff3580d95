"""The report's diagnosis on mixed domains: per-domain rows beside the pooled ones, negative
gaps in words, every class in the per-class table, tiny rows without interval claims, and the
mismatch check led by its per-domain AUCs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from helpers.domains import option_two, pooled_and_domains
from helpers.html import tables
from helpers.records import load, write_fake_inputs

from traindev.records.diagnosis import DiagnosisRecord
from traindev.reporting.report import write_report

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def rendered(dirs: dict[str, Path], out: Path) -> tuple[str, str]:
    paths = write_report(load(dirs), out, "t", generated_at=WHEN)
    return paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")


def mlp_section(text: str) -> str:
    begin = text.index('data-architecture="mlp"')
    return text[begin : text.index('data-architecture="small_cnn"')]


def test_bias_on_the_target_shows_per_domain_rows_and_its_own_knobs(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    _, pooled, domains = pooled_and_domains(option_two((0.10, 0.105), (0.21, 0.215), 0.22))
    diagnosis = DiagnosisRecord.model_validate(
        {**pooled.as_dict(), "per_class": [], "domains": domains.as_dict()}
    )
    (dirs["evaluation"] / "mlp" / "diagnosis.json").write_text(diagnosis.model_dump_json())
    html_text, markdown = rendered(dirs, tmp_path / "out")

    mlp, small_cnn = tables(html_text, "bias-variance")
    assert "target (target) error" in mlp[0] and "source error" in mlp[0]
    assert "Pooled error" in mlp[0] and "Error" in small_cnn[0]  # one domain: as before
    train, train_dev, dev = mlp[1], mlp[2], mlp[3]
    assert train["target (target) error"] == "21.00% (n=4,000)"
    assert train_dev["source error"] == "10.50% (n=6,000)"
    assert dev["target (target) error"] == "22.00%" and dev["source error"] == "—"
    assert mlp[0]["target (target) error"] == "—"  # human-level has no domain split

    (target_gaps,) = tables(html_text, "target-gaps")
    bias = next(row for row in target_gaps if row["Target's own gap"].startswith("Avoidable"))
    assert bias["Matters"] == "yes (dominant)" and bias["Gap"] == "20.00%"
    section = mlp_section(html_text)
    assert "not a mismatch of the target" in section and "not synthesis" in section
    # The pooled mismatch is only the mix of domains: its knobs give way to the target's.
    assert "Avoidable bias on the target&#39;s own rows" in section
    assert "use artificial data synthesis" not in section
    assert "#### Per domain" in markdown
    assert "| Avoidable bias on the target | human-level → train | 20.00% |" in markdown


def test_a_negative_gap_says_which_level_is_easier(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")

    def negative(data: dict) -> None:
        gap = next(gap for gap in data["gaps"] if gap["name"] == "data_mismatch")
        gap.update(value=-0.05, matters=False, negative=True, note="dev error is below ...")
        data["dominant"] = None

    edit(dirs["evaluation"] / "mlp" / "diagnosis.json", negative)
    html_text, markdown = rendered(dirs, tmp_path / "out")
    mlp, _ = tables(html_text, "bias-variance")
    assert mlp[2]["Matters"] == "no: negative, dev easier than train-dev"
    assert "no: negative, dev easier than train-dev" in markdown


def test_every_class_is_listed_and_a_tiny_row_claims_no_interval(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")

    def tiny(data: dict) -> None:
        entry = next(entry for entry in data["per_class"] if entry["class"] == "1")
        entry["counts"]["train"] = 4
        entry["errors"]["train"] = 1.0
        entry["error_intervals"] = {"train": [None, None], "dev": [0.0, 0.2]}
        entry["gaps"]["avoidable_bias"].update(interval=None, matters=False, too_few=4)
        entry["gaps"]["variance"].update(interval=None, matters=False, too_few=4)

    edit(dirs["evaluation"] / "mlp" / "diagnosis.json", tiny)
    html_text, _ = rendered(dirs, tmp_path / "out")
    mlp, small_cnn = tables(html_text, "per-class")
    assert [row["Class"] for row in mlp] == ["0", "1", "2"]
    assert [row["Class"] for row in small_cnn] == ["0", "1", "2"]
    by_class = {row["Class"]: row for row in mlp}
    assert by_class["0"]["Dominant gap"] == "none stands out"
    assert by_class["2"]["Dominant gap"] == "Data mismatch"
    assert by_class["1"]["Train error"] == "100.00% (too few examples (n=4))"
    assert by_class["1"]["Dominant gap"] == "none judged: too few examples (n=4)"
    assert by_class["1"]["Gap 95% CI"] == "—"


def test_a_mixed_train_dev_leads_the_mismatch_section_with_per_domain_aucs(
    tmp_path: Path,
) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    summary = "Per training domain (its train-dev rows against dev): handwritten (target) ..."
    by_domain = [
        {"domain": "handwritten", "synthetic": False, "train_dev_examples": 90,
         "dev_examples": 30, "auc": 0.52, "ci_low": 0.44, "ci_high": 0.6,
         "distinguishable": False, "skipped": None, "target": True, "share": 0.58,
         "interpretation": "handwritten (target) AUC 0.52 (95% CI 0.44-0.60): look alike"},
        {"domain": "mnist", "synthetic": False, "train_dev_examples": 65, "dev_examples": 30,
         "auc": 1.0, "ci_low": 1.0, "ci_high": 1.0, "distinguishable": True, "skipped": None,
         "target": False, "share": 0.42, "interpretation": "mnist AUC 1.00: easy"},
    ]  # fmt: skip
    edit(
        dirs["analysis"] / "mlp.json",
        lambda data: data["mismatch"].update(by_domain=by_domain, summary=summary),
    )
    html_text, markdown = rendered(dirs, tmp_path / "out")
    [rows] = tables(html_text, "mismatch-by-domain")
    assert rows[0]["Train-dev domain"] == "handwritten (target)"
    assert rows[0]["Share of train-dev"] == "58.00%"
    for text in (mlp_section(html_text), markdown):
        assert text.index("Per training domain") < text.index("reaches AUC 0.810")
