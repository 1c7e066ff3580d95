"""reports/analysis/<arch>.json: the error analysis of one architecture (a DVC metric).

Thumbnail paths are relative to reports/analysis/<arch>/ and must stay inside it: the report
reads them and embeds the images.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from traindev.records.base import Interval, NanFloat, Record


def _inside(text: str) -> str:
    relative = PurePosixPath(text)
    if not text or relative.is_absolute() or ".." in relative.parts or "\\" in text:
        raise ValueError(
            f"{text!r} must be a path inside the analysis directory, like 'thumbnails/<id>.png'"
        )
    return text


ThumbnailPath = Annotated[str, AfterValidator(_inside)]


class Sheet(Record):
    """One error-analysis sheet (file names relative to the analysis directory)."""

    csv: str
    html: str
    rows: int


class CategoryCount(Record):
    category: str
    count: int
    percent_of_errors: NanFloat
    ceiling: NanFloat  # the most the dev error can fall by fixing every error of this category


class ErrorReview(Record):
    """The user's reviewed error sheet, tallied; rows keep the analyze stage's order."""

    path: str
    reviewed: int
    table: list[CategoryCount]
    stale_ids: list[str]  # reviewed rows that are no longer errors
    unknown_ids: list[str]  # reviewed rows that are not dev examples at all
    skipped_columns: dict[str, str]  # value columns left out of the table, and why


class CorrectReview(Record):
    path: str
    reviewed: int
    incorrectly_labeled: int
    percent_incorrectly_labeled: float | None
    ids: list[str]
    stale_ids: list[str]


class LabelImpact(Record):
    """Ng's arithmetic: how much of the dev error the suspected labels account for."""

    split: str
    examples: int
    suspected: int
    dev_error: NanFloat
    error_from_labels: NanFloat
    error_other: NanFloat
    share_of_errors: NanFloat
    error_without_suspected: NanFloat
    worth_fixing_share: float
    worth_fixing: bool
    sentence: str
    reliable: bool
    # Misclassified suspects a model of this error rate raises on correct labels (mean and
    # interval), the label errors beyond them, and their share of errors as an interval.
    # None: a record written before the false-alarm calibration (re-run analyze).
    false_suspects: float | None = None
    false_suspects_low: float | None = None
    false_suspects_high: float | None = None
    label_errors: float | None = None
    share_low: float | None = None
    share_high: float | None = None
    confidence: float | None = None
    verdict: Literal["none", "unreliable", "worth_fixing", "uncertain", "not_priority"] | None = (
        None
    )


class FalseSuspectCount(Record):
    """Suspects among all checked rows that the same check raises on simulated correct
    labels (analysis.label_issues.false_suspects)."""

    replicates: int
    temperature: float
    observed: int
    expected: float
    low: float
    high: float
    label_errors: float  # suspects beyond the false alarms
    confidence: float
    calibrated_on: str  # the rows the model's confidence was calibrated on (train-dev)


class Suspect(Record):
    """An example whose label looks wrong."""

    id: str
    split: str
    label: str
    suggested: str
    quality: NanFloat
    rank: int
    thumbnail: ThumbnailPath


class LabelIssues(Record):
    suspected_dev: int
    suspected_test: int
    false_suspects: FalseSuspectCount | None = None  # None: written before the calibration
    impact: LabelImpact
    top: list[Suspect]


class TrainLabelIssues(Record):
    checked: int
    suspected: int
    folds: int
    note: str
    top: list[Suspect]


class GalleryItem(Record):
    """An example the train-dev vs dev classifier scored: a dev example most unlike the
    training data, or a train-dev example most like dev or most like its own domain."""

    id: str
    label: str
    prediction: str
    score: NanFloat
    thumbnail: ThumbnailPath


class DomainMismatch(Record):
    """One training domain's train-dev examples (real or synthesized) against dev."""

    domain: str
    synthetic: bool
    train_dev_examples: int
    dev_examples: int | None
    auc: NanFloat  # null (NaN) when skipped
    ci_low: NanFloat
    ci_high: NanFloat
    distinguishable: bool | None
    skipped: str | None  # why there is no AUC
    target: bool = False  # dev comes from this domain (real rows only)
    share: NanFloat = float("nan")  # of all train-dev examples
    interpretation: str | None = None  # read from the interval; None when skipped
    # This domain's train-dev examples with the highest and the lowest P(dev) in its own
    # check, shown beside dev's gallery; empty when skipped.
    dev_like: list[GalleryItem] = Field(default_factory=list)
    train_dev_like: list[GalleryItem] = Field(default_factory=list)

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.skipped else (self.ci_low, self.ci_high)


class Mismatch(Record):
    auc: NanFloat
    interval: Interval | None
    distinguishable: bool
    train_dev_examples: int
    dev_examples: int
    interpretation: str  # the pooled check's own reading
    by_domain: list[DomainMismatch]
    # Per-domain AUCs first, then the pooled one as the mix it is (analysis.mismatch).
    summary: str = ""
    gallery: list[GalleryItem]


class PropertyShift(Record):
    """Share of dev beyond one training reference's tail for one flag (analysis.properties)."""

    flag: str
    reference: str  # "all training" or a training domain
    rule: str
    reference_examples: int
    dev_share: NanFloat
    shifted: bool


class DomainGrid(Record):
    """A few images of one domain of one split, for the report's side-by-side grid."""

    split: str
    domain: str
    examples: int
    thumbnails: list[ThumbnailPath]


class AnalysisRecord(Record):
    architecture: str
    dev_error: NanFloat
    misclassified_dev: int  # multi-label: wrong (example, label) cells
    errors_sheet: Sheet | None  # None for a multi-label model (no sheets; see `note`)
    correct_sheet: Sheet | None
    property_thresholds: dict[str, str]
    review: ErrorReview | None
    review_hint: str
    correct_review: CorrectReview | None
    label_issues: LabelIssues | None
    train_label_issues: TrainLabelIssues | None
    mismatch: Mismatch | None
    # Dev against the training distribution: property flags per training reference, and a
    # few images of each domain; k nearest training neighbours shown per sheet row.
    property_shift: list[PropertyShift] = Field(default_factory=list)
    domain_grid: list[DomainGrid] = Field(default_factory=list)
    neighbours: int = 0
    # Multi-label models only: the single-label analysis is not run, `note` says where to look.
    multilabel: bool = False
    binary_labels: list[str] | None = None
    dev_labels: int | None = None
    note: str = ""

    def thumbnail_paths(self) -> list[str]:
        """Every thumbnail the analysis names, first occurrence first, each once."""
        names: list[str] = []
        if self.label_issues is not None:
            names += [suspect.thumbnail for suspect in self.label_issues.top]
        if self.train_label_issues is not None:
            names += [suspect.thumbnail for suspect in self.train_label_issues.top]
        if self.mismatch is not None:
            names += [item.thumbnail for item in self.mismatch.gallery]
            names += [
                item.thumbnail
                for domain in self.mismatch.by_domain
                for item in (*domain.dev_like, *domain.train_dev_like)
            ]
        names += [path for grid in self.domain_grid for path in grid.thumbnails]
        return list(dict.fromkeys(names))
