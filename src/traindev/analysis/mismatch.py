"""Locating the data mismatch (course 3, week 2): how is dev different from training data?

The diagnosis table says *how much* error the mismatch costs (train-dev -> dev); this says
*where* it lives. A classifier on the model's penultimate features tries to tell train-dev
examples (label 0, same distribution as train) from dev examples (label 1). Its
out-of-fold AUC measures how separable the two are to the model, and the dev examples it
is surest about are the ones to look at first: the notes' "carry out manual error analysis
to understand the difference between training and dev/test sets". The train-dev side is
shown too, per training domain: its examples the classifier finds most dev-like (where the
two distributions overlap) and most train-dev-like (what that domain typically looks like,
furthest from dev), so the gallery puts both distributions side by side.

`mismatch_by_domain` runs the same check once per training domain of train-dev (real and
synthesized rows apart). With synthesis on, "synthesized train-dev vs dev" next to "real
train-dev vs dev" is the before / after-synthesis comparison from one run: how far the
synthetic data sits from dev, against how far the real training data does.

When train-dev mixes domains, the pooled AUC is mostly composition: with 42% of train-dev
from a domain dev never holds (told apart perfectly) and the rest from the target (chance),
the pooled AUC is about 0.42 * 1 + 0.58 * 0.5 = 0.71 although dev matches the target's
training data. `mismatch_summary` therefore leads with the per-domain AUCs and words the
pooled one as the mix it is. Every verdict reads the AUC's interval, not its point estimate:
an interval that spans a band's edge is called borderline, so the words never flip on a
hair's difference of the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

BOOTSTRAP_REPLICATES = 500
BOOTSTRAP_BLOCK = 100  # replicates ranked at once: bounds memory at 100 x (2 x max_per_split)
CI_LEVEL = 0.95
CLASSIFIER_MAX_ITER = 1000
GALLERY_SIZE = 16
# AUC bands for `separability`, read on the interval after "its lower end is at or below
# 0.5" (no evidence of any difference: "look alike"). Below SLIGHT_AUC the splits are
# barely separable (a few odd examples, or a subtle global shift); below CLEAR_AUC the
# difference is real but partial; from CLEAR_AUC on most dev examples are recognisably not
# from the training distribution ("easy to tell"). 0.7 / 0.9 are the usual "acceptable" /
# "outstanding" discrimination cut-offs for an AUC.
SLIGHT_AUC = 0.7
CLEAR_AUC = 0.9
_BANDS: tuple[tuple[float, str], ...] = (
    (SLIGHT_AUC, "slightly but measurably different"),
    (CLEAR_AUC, "clearly different"),
    (float("inf"), "easy to tell apart"),
)


def _band(auc: float) -> int:
    return next(index for index, (edge, _) in enumerate(_BANDS) if auc < edge)


def separability(ci_low: float, ci_high: float) -> str:
    """How different two sets are, from the AUC's interval (never its point estimate alone).

    An interval inside one band gets that band's words; one spanning a band edge is
    "borderline" between the two, so an AUC of 0.69 and one of 0.71 read the same.
    """
    if not ci_low > 0.5:
        return "look alike to the model"
    low, high = _band(ci_low), _band(ci_high)
    if low == high:
        return _BANDS[low][1]
    edges = ", ".join(f"{_BANDS[i][0]:g}" for i in range(low, high))
    return f"{_BANDS[low][1]} to {_BANDS[high][1]} (borderline: the interval spans {edges})"


@dataclass(frozen=True, eq=False)
class MismatchResult:
    """Out-of-fold separability of dev from train-dev, and where dev differs most."""

    auc: float
    ci_low: float
    ci_high: float
    train_dev_examples: int  # after subsampling
    dev_examples: int
    folds: int
    dev_rows: np.ndarray  # store rows of the sampled dev examples
    dev_scores: np.ndarray  # their out-of-fold P(dev)
    train_dev_rows: np.ndarray  # store rows of the sampled train-dev examples
    train_dev_scores: np.ndarray  # their out-of-fold P(dev)

    @property
    def distinguishable(self) -> bool:
        """True when the CI excludes chance on the dev side (AUC reliably above 0.5)."""
        return self.ci_low > 0.5

    @property
    def interpretation(self) -> str:
        """One sentence for the report; an AUC below 0.5 also reads as "alike" (out-of-fold
        scores with no signal can fall under 0.5, which is no evidence of a difference)."""
        verdict = separability(self.ci_low, self.ci_high)
        if not self.distinguishable:
            return f"{self.auc_text}: train-dev and dev {verdict}"
        advice = (
            "look at the most unlike dev examples for a small subgroup"
            if _band(self.ci_high) == 0
            else "look at the gallery of the most unlike dev examples"
        )
        return f"{self.auc_text}: dev is {verdict} from the training distribution - {advice}"

    @property
    def auc_text(self) -> str:
        return f"AUC {self.auc:.2f} (95% CI {self.ci_low:.2f}-{self.ci_high:.2f})"

    def most_unlike(self, k: int) -> np.ndarray:
        """Store rows of the k sampled dev examples that look least like training data."""
        return _ranked(self.dev_rows, self.dev_scores, k, highest=True)[0]

    def most_unlike_scores(self, k: int) -> np.ndarray:
        """Out-of-fold P(dev) of `most_unlike(k)`, in the same order."""
        return _ranked(self.dev_rows, self.dev_scores, k, highest=True)[1]

    def most_dev_like(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(store rows, P(dev)) of the k sampled train-dev examples that look most like dev:
        the part of the training distribution that overlaps the target."""
        return _ranked(self.train_dev_rows, self.train_dev_scores, k, highest=True)

    def most_train_dev_like(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(store rows, P(dev)) of the k sampled train-dev examples that look least like dev:
        what the training data typically is and dev is not."""
        return _ranked(self.train_dev_rows, self.train_dev_scores, k, highest=False)

    def as_dict(self, top: int = GALLERY_SIZE) -> dict:
        rows, scores = self.most_unlike(top), self.most_unlike_scores(top)
        return {
            "auc": self.auc,
            "auc_ci": [self.ci_low, self.ci_high],
            "ci_level": CI_LEVEL,
            "distinguishable": self.distinguishable,
            "interpretation": self.interpretation,
            "train_dev_examples": self.train_dev_examples,
            "dev_examples": self.dev_examples,
            "folds": self.folds,
            "most_unlike": [
                {"row": int(row), "score": float(score)}
                for row, score in zip(rows, scores, strict=True)
            ],
        }


def mismatch_check(
    train_dev_features: np.ndarray,
    dev_features: np.ndarray,
    dev_rows: np.ndarray,
    folds: int,
    max_per_split: int,
    seed: int,
    train_dev_rows: np.ndarray | None = None,
) -> MismatchResult:
    """Can a linear classifier tell dev from train-dev on the model's features?

    Class-balanced so that unequal split sizes do not move the scores; each side is a
    seeded subsample of at most `max_per_split` examples. `dev_rows` and `train_dev_rows`
    are the store rows of the feature rows (train-dev defaults to their positions), named
    in the result's galleries.
    """
    train_dev_features, dev_features, dev_rows = _checked(
        train_dev_features, dev_features, dev_rows, folds
    )
    train_dev_rows = _rows_of(train_dev_features, train_dev_rows)
    rng = np.random.default_rng(seed)
    keep_train_dev = _sample(len(train_dev_features), max_per_split, rng)
    keep_dev = _sample(len(dev_features), max_per_split, rng)
    x = np.concatenate([train_dev_features[keep_train_dev], dev_features[keep_dev]])
    y = np.concatenate([np.zeros(len(keep_train_dev), int), np.ones(len(keep_dev), int)])
    scores = _out_of_fold_scores(x, y, folds, seed)
    low, high = _bootstrap_ci(y, scores, rng)
    return MismatchResult(
        auc=float(roc_auc_score(y, scores)),
        ci_low=low,
        ci_high=high,
        train_dev_examples=len(keep_train_dev),
        dev_examples=len(keep_dev),
        folds=folds,
        dev_rows=dev_rows[keep_dev],
        dev_scores=scores[y == 1],
        train_dev_rows=train_dev_rows[keep_train_dev],
        train_dev_scores=scores[y == 0],
    )


@dataclass(frozen=True, eq=False)
class DomainMismatch:
    """The train-dev examples of one training domain (real or synthesized) against dev."""

    domain: str
    synthetic: bool  # the rows are synthesized (manifest origin "synthetic")
    available: int  # train-dev examples of the domain, before subsampling
    result: MismatchResult | None  # None when skipped
    skipped: str = ""  # why no AUC, when result is None
    target: bool = False  # dev comes from this domain
    share: float = float("nan")  # of all train-dev examples

    @property
    def name(self) -> str:
        """'handwritten (target)', 'fonts (synthetic)': how the report and summary name it."""
        flags = (("target", self.target), ("synthetic", self.synthetic))
        marks = [mark for mark, on in flags if on and mark != self.domain]
        return self.domain + (f" ({', '.join(marks)})" if marks else "")

    @property
    def interpretation(self) -> str | None:
        """'AUC ... : looks alike to the model' for this domain; None when skipped."""
        if self.result is None:
            return None
        verdict = separability(self.result.ci_low, self.result.ci_high)
        return f"{self.name} {self.result.auc_text}: {verdict}"

    def as_dict(self) -> dict:
        """The JSON record: AUC and CI are null for a skipped domain."""
        result = self.result
        return {
            "domain": self.domain,
            "synthetic": self.synthetic,
            "target": self.target,
            "share": self.share,
            "interpretation": self.interpretation,
            "train_dev_examples": self.available if result is None else result.train_dev_examples,
            "dev_examples": None if result is None else result.dev_examples,
            "auc": None if result is None else float(result.auc),
            "ci_low": None if result is None else float(result.ci_low),
            "ci_high": None if result is None else float(result.ci_high),
            "distinguishable": None if result is None else bool(result.distinguishable),
            "skipped": self.skipped or None,
        }


def mismatch_by_domain(
    train_dev_features: np.ndarray,
    train_dev_domains: Sequence[str],
    train_dev_synthetic: Sequence[bool],
    dev_features: np.ndarray,
    dev_rows: np.ndarray,
    folds: int,
    max_per_split: int,
    seed: int,
    dev_domains: Sequence[str] = (),
    pooled: MismatchResult | None = None,
    train_dev_rows: np.ndarray | None = None,
) -> list[DomainMismatch]:
    """`mismatch_check` of each (domain, synthetic) group of train-dev against all of dev.

    Row i of `train_dev_features` is from domain `train_dev_domains[i]`, synthesized when
    `train_dev_synthetic[i]`. Each group is subsampled like the whole check, so the cost is
    at most one more check per group. A group with fewer examples than `folds` is skipped
    with the reason, not an error: the overall check already covers it. Real groups come
    first, then synthesized ones, each by domain name. A real group of a domain in
    `dev_domains` (the dev examples' domains) is marked as the target.

    `pooled` is `mismatch_check` of the same arguments: a group that holds every train-dev
    row (one domain, no synthesis) then gets it instead of a second identical check, which
    would draw the same sample and fit the same folds. `train_dev_rows` are the store rows
    of the train-dev feature rows (default: their positions), so each group's result names
    its own most dev-like and most train-dev-like examples.
    """
    features = np.asarray(train_dev_features)
    rows = _rows_of(features, train_dev_rows)
    domains = np.asarray([str(domain) for domain in train_dev_domains], dtype=object)
    synthetic = np.asarray(train_dev_synthetic, dtype=bool)
    if not (len(domains) == len(synthetic) == len(features)):
        raise ValueError(
            f"mismatch: {len(domains)} domains and {len(synthetic)} origins for "
            f"{len(features)} train_dev feature rows; pass one of each per row"
        )
    groups = sorted({(bool(s), str(d)) for d, s in zip(domains, synthetic, strict=True)})
    targets = {str(domain) for domain in dev_domains}
    found = []
    for is_synthetic, domain in groups:
        mask = (domains == domain) & (synthetic == is_synthetic)
        available = int(mask.sum())
        about = {
            "target": domain in targets and not is_synthetic,
            "share": available / len(domains),
        }
        if available < folds:
            reason = f"{available} train-dev examples, fewer than analyze.mismatch.folds={folds}"
            found.append(DomainMismatch(domain, is_synthetic, available, None, reason, **about))
            continue
        if pooled is not None and available == len(domains):
            result = pooled
        else:
            result = mismatch_check(
                features[mask], dev_features, dev_rows, folds, max_per_split, seed, rows[mask]
            )
        found.append(DomainMismatch(domain, is_synthetic, available, result, **about))
    return found


def mismatch_summary(pooled: MismatchResult, by_domain: Sequence[DomainMismatch]) -> str:
    """The reading to lead with: per-domain AUCs first, then the pooled AUC as what it is.

    With one training group the pooled check is that group's, and its interpretation is
    the whole story. With several, each group's own AUC says which data differs from dev,
    and the share-weighted mean of those AUCs is what composition alone gives the pooled one
    (the pooled AUC is that mean exactly when one scorer serves every group).
    """
    checked = [entry for entry in by_domain if entry.result is not None]
    if len(by_domain) < 2 or not checked:
        return pooled.interpretation
    lead = "Per training domain (its train-dev rows against dev): " + "; ".join(
        entry.interpretation or f"{entry.name}: skipped ({entry.skipped})" for entry in by_domain
    )
    target = [entry for entry in checked if entry.target]
    if target:
        alike = all(not entry.result.distinguishable for entry in target)
        lead += (
            ". Dev looks like the target's own training data, so what sets dev apart from "
            "train-dev lies in the other domains"
            if alike
            else ". Dev differs even from the target's own training data: look at the gallery "
            "for what sets it apart"
        )
    weight = sum(entry.share for entry in checked)
    expected = sum(entry.share * entry.result.auc for entry in checked) / weight
    mix = ", ".join(f"{entry.share:.0%} {entry.name}" for entry in by_domain)
    return (
        f"{lead}. Pooled over a train-dev that mixes domains ({mix}), {pooled.auc_text} "
        f"mostly measures that mix: the share-weighted per-domain AUCs give {expected:.2f}."
    )


def _checked(
    train_dev: np.ndarray, dev: np.ndarray, dev_rows: np.ndarray, folds: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    train_dev = np.asarray(train_dev, dtype=np.float64)
    dev = np.asarray(dev, dtype=np.float64)
    dev_rows = np.asarray(dev_rows, dtype=np.int64)
    if folds < 2:
        raise ValueError(f"analyze.mismatch.folds must be >= 2, got {folds}")
    for name, features in (("train_dev", train_dev), ("dev", dev)):
        if features.ndim != 2:
            raise ValueError(f"mismatch: {name} features must be (N, D), got {features.shape}")
        if len(features) < folds:
            raise ValueError(
                f"mismatch: the {name} split has {len(features)} examples, fewer than "
                f"analyze.mismatch.folds={folds}; lower the folds, give {name} more examples "
                "(split params), or set analyze.mismatch.enabled: false"
            )
        if not np.isfinite(features).all():
            row = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
            raise ValueError(f"mismatch: {name} feature row {row} is not finite")
    if train_dev.shape[1] != dev.shape[1]:
        raise ValueError(
            f"mismatch: train_dev features have {train_dev.shape[1]} columns but dev has "
            f"{dev.shape[1]}; both must come from the same model"
        )
    if dev_rows.shape != (len(dev),):
        raise ValueError(
            f"mismatch: {len(dev_rows)} dev rows for {len(dev)} dev feature rows; pass the "
            "store row of every dev feature row"
        )
    return train_dev, dev, dev_rows


def _rows_of(features: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """The store row of each feature row: `rows` checked, or the positions when None."""
    if rows is None:
        return np.arange(len(features), dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    if rows.shape != (len(features),):
        raise ValueError(
            f"mismatch: {len(rows)} train-dev rows for {len(features)} train-dev feature "
            "rows; pass the store row of every train-dev feature row"
        )
    return rows


def _ranked(
    rows: np.ndarray, scores: np.ndarray, k: int, highest: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the k highest (or lowest) scores, ties broken by the lower row."""
    order = np.lexsort((rows, -scores if highest else scores))[: max(int(k), 0)]
    return rows[order], scores[order]


def _sample(count: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of at most `limit` of `count` rows."""
    if limit < 1:
        raise ValueError(f"analyze.mismatch.max_per_split must be >= 1, got {limit}")
    if count <= limit:
        return np.arange(count)
    return np.sort(rng.choice(count, size=limit, replace=False))


def _out_of_fold_scores(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """P(dev) for every example from the fold model that did not train on it."""
    classifier = make_pipeline(
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=CLASSIFIER_MAX_ITER),
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(classifier, x, y, cv=splitter, method="predict_proba")[:, 1]


def _bootstrap_ci(
    y: np.ndarray, scores: np.ndarray, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile CI of the AUC, resampling each side separately.

    Stratified so that every replicate keeps both sides (a plain resample of a lopsided
    pair of splits can draw no dev example at all, and then has no AUC). Replicates are
    scored in blocks with the rank form of the AUC, 30x faster than one roc_auc_score each.
    """
    negatives, positives = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    replicates = []
    for start in range(0, BOOTSTRAP_REPLICATES, BOOTSTRAP_BLOCK):
        size = min(BOOTSTRAP_BLOCK, BOOTSTRAP_REPLICATES - start)
        draw_negatives = scores[rng.choice(negatives, size=(size, len(negatives)))]
        draw_positives = scores[rng.choice(positives, size=(size, len(positives)))]
        replicates.append(auc_by_ranks(draw_negatives, draw_positives))
    tail = (1.0 - CI_LEVEL) / 2.0 * 100.0
    low, high = np.percentile(np.concatenate(replicates), [tail, 100.0 - tail])
    return float(low), float(high)


def auc_by_ranks(negative_scores: np.ndarray, positive_scores: np.ndarray) -> np.ndarray:
    """ROC AUC per row as the Mann-Whitney U statistic (ties count one half, as in sklearn).

    (R, n0) and (R, n1) scores -> (R,) AUCs: P(a positive outscores a negative).
    """
    negatives = negative_scores.shape[-1]
    positives = positive_scores.shape[-1]
    ranks = rankdata(np.concatenate([negative_scores, positive_scores], axis=-1), axis=-1)
    rank_sum = ranks[..., negatives:].sum(axis=-1)
    return (rank_sum - positives * (positives + 1) / 2.0) / (negatives * positives)
