"""`traindev report`: one self-contained HTML report and its Markdown twin in reports/."""

from __future__ import annotations

from traindev import paths
from traindev.config import Params
from traindev.reporting.report import load_report_inputs, write_report


def run(params: Params) -> str:
    inputs = load_report_inputs(
        split_dir=paths.SPLIT_REPORT,
        models_dir=paths.MODELS,
        evaluation_dir=paths.EVALUATION,
        metrics_dir=paths.METRICS,
        architectures=params.train.architectures,
    )
    written = write_report(inputs, paths.REPORTS, params.report.title)
    return f"wrote {written.html} and {written.markdown} ({len(written.figures)} figures)"
