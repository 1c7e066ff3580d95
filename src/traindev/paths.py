"""Where each stage reads and writes, relative to the project root (DVC's working dir).

dvc.yaml names the same paths; tests/test_dvc_yaml.py keeps the two in step. The file names a
stage writes and a later stage reads are here too, so no stage imports another to find them.
"""

from pathlib import Path

DATA = Path("data")
INGESTED = DATA / "ingested"
SYNTHESIZED = DATA / "synthesized"
SPLIT = DATA / "split"
AUGMENTED = DATA / "augmented"  # train.augment.offline_copies augmented copies of the train split
MODELS = DATA / "models"
EVALUATION = DATA / "evaluation"
# The checks DVC runs before any stage touches its outputs (dvc.yaml's first stages): each
# writes its stamp only when it passes, and the stages after it depend on the stamp.
CHECKS = DATA / "checks"
PARAMS_CHECK = CHECKS / "params.ok"
SPLIT_CHECK = CHECKS / "split.ok"
SPLIT_SOURCES = (INGESTED, SYNTHESIZED)  # the stores the split combines
# Detection's embedded default: canvases of digits from both stores above (one store).
CANVASES = DATA / "canvases"
# Beside a store's manifest.parquet / pixels.npy, for tasks whose targets are not a label:
BOXES_FILE = "boxes.parquet"  # the box table, one row per object (tasks.detection.box_table)
MASKS_FILE = "masks.npy"  # uint8 (N, H, W) instance masks: 0 background, k = object k - 1
CLASS_MASKS_FILE = "class_masks.npy"  # uint8 (N, H, W) class index masks (tasks.segmentation)

REPORTS = Path("reports")
SPLIT_REPORT = REPORTS / "split"
METRICS = REPORTS / "metrics"  # the full metrics records (a plain output, not a DVC metric)
# The DVC metrics: one flat file of comparable scalars per architecture (records.scores).
SCORES = REPORTS / "scores"
# The data of dvc.yaml's top-level plots, one file per architecture in each folder.
PLOTS = REPORTS / "plots"
LEARNING_CURVES = PLOTS / "learning_curves"
CONFUSION_PLOTS = PLOTS / "confusion"
ANALYSIS = REPORTS / "analysis"
SPLIT_SUMMARY = SPLIT_REPORT / "summary.json"
SELECTION_FILE = REPORTS / "selection.json"
DIVERSITY = REPORTS / "synthesis" / "diversity.json"  # the synthesize stage's sources
# `traindev source-ablation --arch NAME` writes one record per architecture here (git-tracked,
# not a DVC output: it comes from three DVC experiments); the report stage depends on the folder.
SOURCE_ABLATION = REPORTS / "source_ablation"

# Inside model_dir(<arch>): the train stage's outputs.
CHECKPOINT_FILE = "model.pt"
TRAINING_FILE = "training.json"
# Inside evaluation_dir(<arch>): the evaluate stage's outputs.
PREDICTIONS_FILE = "predictions.parquet"
PROBABILITIES_FILE = "probabilities.npy"
DIAGNOSIS_FILE = "diagnosis.json"
CONFUSION_FILE = "confusion_dev.csv"
DETECTIONS_FILE = "detections.parquet"  # task detection: every kept detection, one row each
# Inside analysis_dir(<arch>) for task detection (tasks.detection.analysis).
TIDE_ERRORS_FILE = "tide_errors.parquet"  # dev: one row per erroneous detection or miss
DETECTION_LABEL_ISSUES_FILE = "detection_label_issues.parquet"  # cleanlab: dev, test boxes
# Inside analysis_dir(<arch>): cleanlab's ranked label issues.
LABEL_ISSUES_FILE = "label_issues.csv"


def model_dir(architecture: str) -> Path:
    return MODELS / architecture


def evaluation_dir(architecture: str) -> Path:
    return EVALUATION / architecture


def metrics_file(architecture: str) -> Path:
    return METRICS / f"{architecture}.json"


def scores_file(architecture: str) -> Path:
    return SCORES / f"{architecture}.json"


def learning_curve_file(architecture: str) -> Path:
    return LEARNING_CURVES / f"{architecture}.csv"


def confusion_plot_file(architecture: str) -> Path:
    return CONFUSION_PLOTS / f"{architecture}.csv"


def source_ablation_file(architecture: str) -> Path:
    return SOURCE_ABLATION / f"{architecture}.json"


def analysis_dir(architecture: str) -> Path:
    """Sheets, thumbnails and galleries: a directory the user opens, so it lives in reports/."""
    return ANALYSIS / architecture


def analysis_file(architecture: str) -> Path:
    """The analysis record, a git-tracked output beside, not inside, the directory."""
    return ANALYSIS / f"{architecture}.json"


# Run records: wall times, latency, MLflow run ids and comparisons with earlier MLflow runs,
# which differ between two runs of the same inputs. Never a DVC output and ignored by git, so a
# fresh clone's `dvc repro` leaves git clean (traindev.records.runs).
RUNS = REPORTS / "runs"
SELECTION_RUN = RUNS / "selection.json"


def training_run_file(architecture: str) -> Path:
    return RUNS / architecture / "training.json"


def evaluation_run_file(architecture: str) -> Path:
    return RUNS / architecture / "evaluation.json"


def split_sources(task: str) -> tuple[Path, ...]:
    """The stores split and check_split read: detection's canvas store, else SPLIT_SOURCES."""
    return (CANVASES,) if task == "detection" else SPLIT_SOURCES
