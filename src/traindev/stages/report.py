"""`traindev report`: one self-contained HTML report and its Markdown twin in reports/."""

from __future__ import annotations

import mlflow

from traindev import paths
from traindev.config import Params
from traindev.data.augmentation import AugmentationPreview, preview
from traindev.data.dvc_hash import directory_md5
from traindev.data.store import read_store
from traindev.records.runs import training_run_id
from traindev.reporting.report import ReportPaths, load_report_inputs, write_report
from traindev.tasks.specs import task_spec
from traindev.tracking import open_run

LISTED_MISSING = 5  # thumbnails named in the stage's message; the report lists every one


def run(params: Params) -> str:
    inputs = load_report_inputs(
        split_dir=paths.SPLIT_REPORT,
        models_dir=paths.MODELS,
        evaluation_dir=paths.EVALUATION,
        metrics_dir=paths.METRICS,
        analysis_dir=paths.ANALYSIS,
        selection_file=paths.SELECTION_FILE,
        architectures=params.train.architectures,
        augmentation=_augmentation(params),
        synthesis_file=paths.DIVERSITY,
        source_ablation_dir=paths.SOURCE_ABLATION,
        split_dvc_md5=directory_md5(paths.SPLIT),
    )
    sections = task_spec(params.task).report_sections
    written = write_report(inputs, paths.REPORTS, params.report.title, sections=sections)
    _log_to_mlflow(params.train.architectures, written)
    message = f"wrote {written.html} and {written.markdown} ({len(written.figures)} figures)"
    missing = written.missing_thumbnails
    if missing:
        more = len(missing) - LISTED_MISSING
        message += (
            f"; {len(missing)} thumbnails missing, shown as placeholders: "
            + ", ".join(missing[:LISTED_MISSING])
            + (f" and {more} more" if more > 0 else "")
        )
    return message


def _augmentation(params: Params) -> AugmentationPreview:
    """The preview of the train split's augmentation; the split is read only when it is on."""
    augment = params.train.augment
    if not augment.enabled:
        return AugmentationPreview(enabled=False)
    store = read_store(paths.SPLIT)
    return preview(augment, store, params.train.seed, params.report.augmentation_examples)


def _log_to_mlflow(architectures: list[str], written: ReportPaths) -> None:
    """The report beside each architecture's run, so the MLflow UI links to the whole story
    (a run of the same name stands in for one this tracking store does not have)."""
    for architecture in architectures:
        with open_run(training_run_id(architecture), run_name=architecture):
            mlflow.log_artifact(str(written.html), "report")
            mlflow.log_artifact(str(written.markdown), "report")
            mlflow.log_artifacts(str(written.figures_dir), "report/figures")
