"""Fake report inputs that follow the file contract: two architectures, every input format.

mlp has everything the analysis can produce (intervals, per-class gaps, a previous run, a
reviewed sheet with a hostile category name, label issues with one missing thumbnail, a
mismatch gallery); small_cnn has the minimum (no review, no label or mismatch check).
"""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from PIL import Image

from traindev import paths
from traindev.reporting.inputs import ReportInputs
from traindev.reporting.report import load_report_inputs

ARCHS = ("mlp", "small_cnn")
CLASSES = ("0", "1", "2")
# Per architecture: human, train, train-dev, dev, test error.
ERRORS = {
    "mlp": (0.01, 0.0512, 0.0634, 0.1234, 0.1301),
    "small_cnn": (0.01, 0.0200, 0.0250, 0.0815, 0.0790),
}
SUMMARIES = {
    "mlp": "High avoidable bias & data mismatch: train <longer> first.",
    "small_cnn": "Data mismatch dominates; collect more target-like data.",
}
GAP_LABELS = {
    "avoidable_bias": ("Avoidable bias", "human-level", "train"),
    "variance": ("Variance", "train", "train-dev"),
    "data_mismatch": ("Data mismatch", "train-dev", "dev"),
    "dev_overfitting": ("Dev overfitting", "dev", "test"),
}
# mlp's gap intervals sit on each gap; small_cnn's only under "intervals.gaps".
GAP_INTERVALS = {
    "mlp": {
        "avoidable_bias": [0.021, 0.0614],
        "variance": [-0.004, 0.0284],
        "data_mismatch": [0.031, 0.089],
        "dev_overfitting": [-0.02, 0.033],
    },
    "small_cnn": {
        "avoidable_bias": [0.001, 0.019],
        "variance": [-0.01, 0.02],
        "data_mismatch": [0.03, 0.083],
        "dev_overfitting": [-0.03, 0.025],
    },
}
ROW_INTERVALS = {
    "human-level": None,
    "train": [0.04, 0.063],
    "train-dev": [0.03, 0.11],
    "dev": [0.09, 0.16],
    "test": [0.095, 0.17],
}
HOSTILE_CATEGORY = "<script>alert(1)</script>"
MISSING_THUMBNAIL = "thumbnails/d4e5f6.png"
THUMBNAILS = ("thumbnails/a1b2c3.png", "thumbnails/t1.png", "thumbnails/g1.png")
REVIEW_HINT = (
    "No reviewed sheet at reviews/small_cnn/errors.csv: copy "
    "reports/analysis/small_cnn/errors.csv there, tick the categories, run dvc repro."
)
CHAMPION_NOTE = "No candidate meets latency_ms <= 100, so the alias was left where it was."


def dump(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def png_bytes(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), color=shade).save(buffer, format="PNG")
    return buffer.getvalue()


def metrics(errors: tuple[float, ...], arch: str) -> dict:
    human, train, train_dev, dev, test = errors
    splits: dict[str, dict[str, Any]] = {
        name: {
            "error": err,
            "accuracy": 1 - err,
            "precision": 1 - err,
            "recall": 1 - err,
            "f1": 1 - err - 0.001,
            "count": 100,
        }
        for name, err in zip(("train", "train_dev", "dev", "test"), errors[1:], strict=True)
    }
    if arch == "small_cnn":  # only the newer metrics file has these keys
        splits["dev"] |= {"weighted_error": 0.0901, "class_error": {"0": 0.05, "1": None}}
        splits["train_dev"] |= {"class_error": {"0": 0.02, "1": 0.03}}
    return {
        "splits": splits,
        "bias_variance": {
            "human_level_error": human,
            "train_error": train,
            "train_dev_error": train_dev,
            "dev_error": dev,
            "test_error": test,
            "avoidable_bias": train - human,
            "variance": train_dev - train,
            "data_mismatch": dev - train_dev,
            "dev_overfitting": test - dev,
        },
    }


def old_diagnosis(arch: str, errors: tuple[float, ...]) -> dict:
    """The diagnosis.json written before intervals, per-class gaps and previous runs."""
    gaps = []
    for index, (name, (label, low, high)) in enumerate(GAP_LABELS.items()):
        value = errors[index + 1] - errors[index]
        gaps.append(
            {
                "name": name,
                "label": label,
                "value": value,
                "between": [low, high],
                "matters": name in ("avoidable_bias", "data_mismatch") and value > 0.03,
                "knobs": [f"{name} knob A", f"{name} knob <B>"],
            }
        )
    return {"gaps": gaps, "dominant": "data_mismatch", "summary": SUMMARIES[arch]}


def _class_gap(value: float | None, interval: list | None, matters: bool) -> dict:
    return {"value": value, "interval": interval, "matters": matters, "within_noise": not matters}


def _per_class(arch: str) -> list[dict]:
    rows = []
    for label in CLASSES:
        mismatch = arch == "mlp" and label == "2"
        rows.append(
            {
                "class": label,
                "counts": {"train": 45, "train_dev": 6, "dev": 11, "test": 12},
                "errors": {
                    "human-level": 0.01,
                    "train": 0.02,
                    "train-dev": 0.0333,
                    "dev": 0.1818 if mismatch else 0.04,
                    "test": None,  # no test examples of the class: NaN written as null
                },
                "gaps": {
                    "avoidable_bias": _class_gap(0.01, [-0.01, 0.03], False),
                    "variance": _class_gap(0.0133, None, False),
                    "data_mismatch": _class_gap(
                        0.1485 if mismatch else 0.0067, [0.02, 0.31], mismatch
                    ),
                    "dev_overfitting": _class_gap(None, None, False),
                },
                "dominant": "data_mismatch" if mismatch else None,
            }
        )
    return rows


def _previous(arch: str) -> dict | None:
    if arch != "mlp":
        return None
    return {
        "run_id": "0123456789abcdef0123456789abcdef",
        "started": "2026-11-21T10:00:00",
        "same_split": False,
        "summary": "Since the previous run the dev error fell by 1.60 points.",
        "changes": [
            {
                "name": "dev_error",
                "label": "Dev error",
                "previous": 0.1394,
                "current": 0.1234,
                "delta": -0.016,
                "moved": True,
            },
            {
                "name": "variance",
                "label": "Variance",
                "previous": 0.01,
                "current": 0.0122,
                "delta": 0.0022,
                "moved": False,
            },
        ],
    }


def diagnosis(arch: str, errors: tuple[float, ...]) -> dict:
    """The current diagnosis.json: old keys plus confidence, intervals, per_class, previous."""
    data = old_diagnosis(arch, errors)
    for gap in data["gaps"]:
        gap["within_noise"] = gap["name"] in ("variance", "dev_overfitting")
        if arch == "mlp":
            gap["interval"] = GAP_INTERVALS[arch][gap["name"]]
    return data | {
        "confidence": 0.95,
        "intervals": {"rows": ROW_INTERVALS, "gaps": GAP_INTERVALS[arch]},
        "per_class": _per_class(arch),
        "previous": _previous(arch),
    }


def _suspect(ident: str, split: str, label: str, suggested: str, quality: float, rank: int):
    return {
        "id": ident,
        "split": split,
        "label": label,
        "suggested": suggested,
        "quality": quality,
        "rank": rank,
        "thumbnail": f"thumbnails/{ident}.png",
    }


def analysis(arch: str) -> dict:
    base = {
        "architecture": arch,
        "dev_error": ERRORS[arch][3],
        "misclassified_dev": 37 if arch == "mlp" else 24,
        "errors_sheet": {"csv": "errors.csv", "html": "errors.html", "rows": 37},
        "correct_sheet": {"csv": "correct.csv", "html": "correct.html", "rows": 50},
        "property_thresholds": {"dark": "brightness < 0.12", "low_contrast": "contrast < 0.2"},
        "review": None,
        "review_hint": REVIEW_HINT,
        "correct_review": None,
        "label_issues": None,
        "train_label_issues": None,
        "mismatch": None,
    }
    if arch != "mlp":
        return base
    return base | {
        "review": {
            "path": "reviews/mlp/errors.csv",
            "reviewed": 37,
            "table": [
                {"category": "blurry", "count": 15, "percent_of_errors": 0.4054, "ceiling": 0.05},
                {
                    "category": HOSTILE_CATEGORY,
                    "count": 10,
                    "percent_of_errors": 0.2703,
                    "ceiling": 0.0334,
                },
                {"category": "dark", "count": 4, "percent_of_errors": 0.1081, "ceiling": 0.0133},
            ],
            "stale_ids": ["stale-1"],
            "unknown_ids": ["ghost-9"],
        },
        "review_hint": "",
        "correct_review": {
            "path": "reviews/mlp/correct.csv",
            "reviewed": 50,
            "incorrectly_labeled": 1,
        },
        "label_issues": {
            "suspected_dev": 3,
            "suspected_test": 2,
            "impact": {
                "dev_error": 0.1234,
                "error_from_labels": 0.01,
                "error_other": 0.1134,
                "share_of_errors": 0.081,
                "error_without_suspected": 0.1152,
                "worth_fixing": False,
                "sentence": "Suspected labels explain 1.00 of the 12.34 points of dev error.",
            },
            "top": [
                _suspect("a1b2c3", "dev", "1", "2", 0.012, 1),
                _suspect("d4e5f6", "test", "0", "2", 0.034, 2),  # its PNG is never written
            ],
        },
        "train_label_issues": {
            "checked": 146,
            "suspected": 4,
            "folds": 5,
            "top": [_suspect("t1", "train", "2", "1", 0.05, 1)],
        },
        "mismatch": {
            "auc": 0.81,
            "interval": [0.77, 0.85],
            "train_dev_examples": 15,
            "dev_examples": 30,
            "interpretation": "Dev is easy to tell from train-dev: the mismatch is real.",
            "gallery": [
                {
                    "id": "g1",
                    "label": "2",
                    "prediction": "1",
                    "score": 0.97,
                    "thumbnail": "thumbnails/g1.png",
                }
            ],
        },
    }


def selection(*, with_winner: bool = True) -> dict:
    candidates = [
        {
            "name": "small_cnn",
            "source": "this run",
            "run_id": "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e",
            "started": "2026-11-22T10:00:00",
            "value": 0.0815,
            "satisfied": True,
            "failed": [],
            "rank": 1,
        },
        {
            "name": "mlp",
            "source": "this run",
            "run_id": "0dd5a1ab0dd5a1ab0dd5a1ab0dd5a1ab",
            "started": "2026-11-22T10:00:00",
            "value": 0.1234,
            "satisfied": False,
            "failed": ["latency_ms 140.2 > 100"],
            "rank": None,
        },
        {
            "name": "small_cnn",
            "source": "earlier run",
            "run_id": "0777777777777777777777777777777a",
            "started": None,
            "value": 0.09,
            "satisfied": True,
            "failed": [],
            "rank": 2,
        },
    ]
    base = {
        "optimizing": "dev.error",
        "goal": "minimize",
        "thresholds": [{"metric": "latency_ms", "max": 100.0, "min": None}],
        "winner": {
            "name": "small_cnn",
            "run_id": "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e",
            "source": "this run",
            "value": 0.0815,
        },
        "candidates": candidates,
        "explanation": "small_cnn has the lowest dev error of the candidates within 100 ms.",
        "warnings": ["1 earlier run was skipped: it was trained on another split."],
        "champion": {
            "registered_model": "traindev",
            "alias": "champion",
            "version": "3",
            "uri": "models:/traindev@champion",
        },
        "champion_note": "",
    }
    if with_winner:
        return base
    for candidate in candidates:
        candidate |= {"satisfied": False, "rank": None, "failed": ["latency_ms 140.2 > 100"]}
    return base | {"winner": None, "champion": None, "champion_note": CHAMPION_NOTE}


# Where the pipeline keeps each input, relative to the project root.
PROJECT_LAYOUT = {
    "split": paths.SPLIT_REPORT,
    "models": paths.MODELS,
    "evaluation": paths.EVALUATION,
    "metrics": paths.METRICS,
    "analysis": paths.ANALYSIS,
    "selection": paths.SELECTION.with_suffix(".json"),
}


def write_fake_inputs(root: Path, layout: dict[str, Path] | None = None) -> dict[str, Path]:
    """Every input format for ARCHS under root, one folder per kind unless `layout` says
    otherwise; returns the directories (and the selection file) by kind."""
    names = ("split", "models", "evaluation", "metrics", "analysis")
    relative = layout or {name: Path(name) for name in names} | {
        "selection": Path("selection.json")
    }
    dirs = {name: root / path for name, path in relative.items()}
    dump(
        dirs["split"] / "summary.json",
        {
            "counts": {
                "train": {"fonts": {"0": 50, "1": 40, "2": 45}, "handwritten": {"0": 5, "1": 6}},
                "train_dev": {"fonts": {"0": 5, "1": 4, "2": 6}},
                "dev": {"handwritten": {"0": 10, "1": 9, "2": 11}},
                "test": {"handwritten": {"0": 9, "1": 10, "2": 12}},
            },
            "totals": {"train": 146, "train_dev": 15, "dev": 30, "test": 31},
            "target_domain": "handwritten",
            "unused_target": 7,
            "duplicates_dropped": 3,
        },
    )
    for arch in ARCHS:
        _write_architecture(dirs, arch)
    for shade, relative in enumerate(THUMBNAILS):
        path = dirs["analysis"] / "mlp" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(40 * (shade + 1)))
    dump(dirs["selection"], selection())
    return dirs


def _write_architecture(dirs: dict[str, Path], arch: str) -> None:
    errors = ERRORS[arch]
    history = [
        {
            "epoch": epoch,
            "loss": 1.0 / epoch,
            "train_error": errors[1] + 0.1 / epoch,
            "train_dev_error": errors[2] + 0.1 / epoch,
            "dev_error": errors[3] + 0.1 / epoch,
            "lr": 0.001,
        }
        for epoch in (1, 2, 3)
    ]
    dump(
        dirs["models"] / arch / "training.json",
        {
            "architecture": arch,
            "run_id": f"run-{arch}",
            "parameters": 1234567 if arch == "mlp" else 98765,
            "train_seconds": 12.345,
            "device": "cpu",
            "epochs": 3,
            "examples_per_second": 4321.5,
            "history": history,
        },
    )
    dump(dirs["metrics"] / f"{arch}.json", metrics(errors, arch))
    dump(dirs["evaluation"] / arch / "diagnosis.json", diagnosis(arch, errors))
    (dirs["evaluation"] / arch / "confusion_dev.csv").write_text(
        "label,0,1,2\n0,9,1,0\n1,0,8,1\n2,1,0,10\n", encoding="utf-8"
    )
    dump(dirs["analysis"] / f"{arch}.json", analysis(arch))


def load(dirs: dict[str, Path], architectures: tuple[str, ...] = ARCHS) -> ReportInputs:
    return load_report_inputs(
        dirs["split"],
        dirs["models"],
        dirs["evaluation"],
        dirs["metrics"],
        dirs["analysis"],
        dirs["selection"],
        list(architectures),
    )


class HtmlTables(HTMLParser):
    """Collects every <table> as (class attribute, rows of cell texts) and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.links.append((tag, name, value))
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_html(html_text: str) -> HtmlTables:
    parser = HtmlTables()
    parser.feed(html_text)
    return parser
