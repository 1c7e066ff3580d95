"""Train / train-dev / dev / test, the notes' option 2 for mismatched distributions.

Dev and test come only from the target domain (where the model must work); a
chosen part of the remaining target and of every source domain (each with its own
`fraction` / `cap`) forms the training pool; train-dev is carved from that pool
within every (domain, class), so it has exactly the training mix and isolates
variance from data mismatch.

Every choice is a pure function of (seed, the ids involved). Each id is hashed
once with BLAKE2b-256 keyed by the seed (RFC 7693: the same bytes on every
machine, Python and numpy version), giving four independent uniform 64-bit
words: one ranks the target for dev (lowest) and test (highest), one picks the
target and source rows that join the pool, one picks train-dev.

Two assignments (`split.stratify`):
- stratified (default): inside each (domain, class) stratum rows are ranked by
  their word and the lowest quota taken; quotas are the split's size apportioned
  over strata (largest remainder), so every class gets its share within one
  example. On additions a row moves only when the new rows hashing below it in its
  stratum outnumber the growth of its quota: a few rows at each cut, not none.
- stable: a row is in a split when its word falls below the split's fraction, so
  with fractions adding examples never moves existing ones; class shares hold in
  expectation only (binomial noise).
With a count, a size becomes the fraction count / pool, which shrinks as the pool
grows: rows then leave dev / test / train-dev for the pool (dev sits at the bottom
of the line and test at the top, so neither drains into the other); that turnover
is what keeps the split a uniform sample of the grown data.

Rows that must share a split carry the same value in an optional `group` column (detection's
canvases: those built from the same pool of source digits). The split is then made over
groups, each group standing as one row with its first row's domain and class and its name as
id, and every row follows its group: sizes and counts are in groups.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from traindev.config import SourceDomainParams, SplitParams, did_you_mean

SPLIT_ORDER = {"train": 0, "train_dev": 1, "dev": 2, "test": 3}
_NAMES = np.array([None, "train", "train_dev", "dev", "test"], dtype=object)
_CODE = {name: code for code, name in enumerate(_NAMES) if name}
_RANK, _KEEP, _TRAIN_DEV = 0, 1, 2  # which hash word decides what
_HASH_CHUNK = 1 << 18
GROUP_COLUMN = "group"  # optional manifest column: rows with the same value share a split


class SplitError(ValueError):
    """A split that cannot be made as asked; the message names the param to change."""


@dataclass(frozen=True)
class SplitResult:
    split: pd.Series  # split name per manifest row; None for rows left out
    dropped_duplicates: pd.DataFrame  # rows removed because identical pixels sit in another split
    unused_target: int
    resolved_fractions: dict[str, float]
    sources: dict[str, dict]  # per non-target domain: rows, in_pool, unused, fraction, cap


def id_hash_words(ids: pd.Series, seed: int) -> np.ndarray:
    """(n, 4) uint64: BLAKE2b-256 of each id's UTF-8 bytes, keyed by the seed.

    A standard hash rather than pandas' or numpy's own, so the split never changes
    with a library upgrade; one digest feeds all four words. About 1 s per million ids.
    """
    base = hashlib.blake2b(digest_size=32, key=str(seed).encode(), person=b"traindev.split")
    values = ids.astype(str).tolist()
    words = np.empty((len(values), 4), dtype=np.uint64)
    for start in range(0, len(values), _HASH_CHUNK):
        digests = []
        for value in values[start : start + _HASH_CHUNK]:
            digest = base.copy()
            digest.update(value.encode())
            digests.append(digest.digest())
        chunk = np.frombuffer(b"".join(digests), dtype=">u8").reshape(-1, 4)
        words[start : start + len(chunk)] = chunk
    return words


def unit_interval(words: np.ndarray) -> np.ndarray:
    """The top 53 bits of each word as a float in [0, 1), exactly."""
    return (words >> np.uint64(11)).astype(np.float64) * 2.0**-53


def resolve_count(size: float, pool: int, name: str) -> int:
    """A size below 1 is a fraction of `pool` (rounded half up); 1 or more is a count."""
    if size < 1:
        return int(np.floor(size * pool + 0.5))
    _check_count(size, pool, name)
    return int(size)


def _check_count(size: float, pool: int, name: str) -> None:
    if size != int(size):
        raise SplitError(f"split.{name}: a count must be a whole number, got {size}")
    if pool and size > pool:
        raise SplitError(f"split.{name}: asks for {int(size)} examples but the pool holds {pool}")


def assign_splits(manifest: pd.DataFrame, params: SplitParams) -> SplitResult:
    """Assign every manifest row to a split (or leave it out), without leakage."""
    if GROUP_COLUMN in manifest.columns:
        return _assign_groups(manifest, params)
    return _assign_rows(manifest, params)


def _assign_groups(manifest: pd.DataFrame, params: SplitParams) -> SplitResult:
    """The split of the groups (module docstring), spread over their rows."""
    keys = manifest[GROUP_COLUMN].astype(str)
    domains = manifest.groupby(keys, sort=False)["domain"].nunique()
    if (domains > 1).any():
        raise SplitError(
            f"group {domains.index[domains > 1][0]!r} spans several domains; a group's rows "
            "must come from one domain"
        )
    first = ~keys.duplicated().to_numpy()
    groups = manifest.loc[first, ["source", "domain", "label"]].assign(id=keys[first].to_numpy())
    result = _assign_rows(groups.reset_index(drop=True), params)
    of_group = pd.Series(result.split.to_numpy(), index=groups["id"].to_numpy())
    split = pd.Series(keys.map(of_group).to_numpy(), index=manifest.index, name="split")
    words = id_hash_words(manifest["id"], params.seed)
    split, dropped = _drop_cross_split_duplicates(manifest, split, words[:, _RANK])
    target = (manifest["domain"] == params.target_domain).to_numpy()
    sources = {}
    for name, counts in result.sources.items():
        rows = (manifest["domain"] == name).to_numpy()
        used = int((rows & split.notna().to_numpy()).sum())
        sources[name] = counts | {"rows": int(rows.sum()), "in_pool": used}
        sources[name]["unused"] = sources[name]["rows"] - used
    unused = int((target & split.isna().to_numpy()).sum()) - int(
        (dropped["domain"] == params.target_domain).sum()
    )
    return SplitResult(split, dropped, unused, result.resolved_fractions, sources)


def _assign_rows(manifest: pd.DataFrame, params: SplitParams) -> SplitResult:
    domain_names, domain = _codes(manifest, "domain")
    label_names, label = _codes(manifest, "label")
    check_split_sizes(params, manifest["domain"].value_counts().to_dict())
    strata = domain * len(label_names) + label
    names = [f"{d}/{c}" for d in domain_names for c in label_names]
    words = id_hash_words(manifest["id"], params.seed)
    pick = _Picker(strata, names, params.seed, params.stratify)

    is_target = domain == int(np.searchsorted(domain_names, params.target_domain))
    dev = pick(is_target, words[:, _RANK], params.dev, "dev")
    test = pick(is_target & ~dev, ~words[:, _RANK], params.test, "test", weights_of=is_target)
    rest = is_target & ~dev & ~test
    in_pool = pick(rest, words[:, _KEEP], params.target_to_train, "target_to_train", fraction=True)
    sources = {}
    for code, name in enumerate(domain_names):
        if name == params.target_domain:
            continue
        rows = domain == code
        config = params.sources.get(name, SourceDomainParams())
        kept = _pick_source(pick, rows, words[:, _KEEP], config, f"sources.{name}")
        in_pool |= kept
        used = int(kept.sum())
        sources[str(name)] = {
            "rows": int(rows.sum()),
            "in_pool": used,
            "unused": int(rows.sum()) - used,
            "fraction": config.fraction,
            "cap": config.cap,
        }
    n_pool = int(in_pool.sum())
    if n_pool == 0:
        raise SplitError(
            "the training pool is empty: add a source domain, raise split.target_to_train "
            "or a split.sources fraction / cap"
        )
    train_dev = pick(in_pool, words[:, _TRAIN_DEV], params.train_dev, "train_dev")

    codes = np.zeros(len(manifest), dtype=np.int8)
    codes[in_pool] = _CODE["train"]
    codes[train_dev] = _CODE["train_dev"]
    codes[dev] = _CODE["dev"]
    codes[test] = _CODE["test"]
    assigned = pd.Series(_NAMES[codes], index=manifest.index, name="split")
    assigned, dropped = _drop_cross_split_duplicates(manifest, assigned, words[:, _RANK])
    fractions = {
        "dev": pick.fractions["dev"],
        "test": pick.fractions["test"],
        "train_dev": pick.fractions["train_dev"],
    }
    unused_target = int((rest & ~in_pool).sum())
    return SplitResult(assigned, dropped, unused_target, fractions, sources)


def _codes(manifest: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of a column and each row's index into them."""
    codes, names = pd.factorize(manifest[column], sort=True)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise SplitError(f"manifest row {row} has no {column}; every row needs one")
    return np.asarray(names.astype(str)), codes


def _pick_source(
    pick: _Picker, rows: np.ndarray, key: np.ndarray, config: SourceDomainParams, name: str
) -> np.ndarray:
    """A source domain's rows in the pool: its `fraction`, then at most `cap` (exact)."""
    kept = pick(rows, key, config.fraction, name, fraction=True)
    if config.cap is None or kept.sum() <= config.cap:
        return kept
    return pick(kept, key, config.cap, name) if config.cap else np.zeros_like(rows)


class _Picker:
    """Choose `size` of the candidate rows (see the module docstring for the two rules).

    Counts are always exact: the lowest-ranked rows, per stratum when stratified, else
    over all candidates. Fractions are exact per stratum when stratified, else a threshold.
    """

    def __init__(self, strata: np.ndarray, names: list[str], seed: int, stratify: bool):
        self.strata = strata if stratify else np.zeros_like(strata)
        self.n_strata = len(names) if stratify else 1
        self.tiebreak = _name_order(names if stratify else ["all"], seed)
        self.stratify = stratify
        self.fractions: dict[str, float] = {}

    def __call__(
        self,
        candidates: np.ndarray,
        key: np.ndarray,
        size: float,
        name: str,
        weights_of: np.ndarray | None = None,
        fraction: bool = False,
    ) -> np.ndarray:
        """`weights_of`: the rows whose strata sizes share out the quota (default: candidates);
        `fraction`: `size` is a fraction even at 1.0 (target_to_train, sources.*.fraction)."""
        pool = int((candidates if weights_of is None else weights_of).sum())
        chosen = np.zeros(len(candidates), dtype=bool)
        fraction = fraction or size < 1
        if not self.stratify and fraction:
            self.fractions[name] = float(size)
            chosen[candidates] = unit_interval(key[candidates]) < size
            return chosen
        count = int(np.floor(size * pool + 0.5)) if fraction else resolve_count(size, pool, name)
        self.fractions[name] = count / pool if pool else 0.0
        if count == 0:
            return chosen
        rows = np.flatnonzero(candidates)
        strata = self.strata[rows]
        capacity = np.bincount(strata, minlength=self.n_strata)
        weights = (
            capacity
            if weights_of is None
            else np.bincount(self.strata[weights_of], minlength=self.n_strata)
        )
        quota = apportion(count, weights, capacity, self.tiebreak)
        chosen[rows[_rank_within(strata, key[rows]) < quota[strata]]] = True
        return chosen


def apportion(
    total: int, weights: np.ndarray, capacity: np.ndarray, tiebreak: np.ndarray
) -> np.ndarray:
    """Share `total` over strata in proportion to `weights` (largest remainder), each <= capacity.

    Every stratum gets the floor or the ceiling of its exact share unless a capacity binds;
    equal remainders go by `tiebreak` (a seeded order of stratum names, so no class is
    always first).
    """
    weights = weights.astype(np.float64)
    exact = total * weights / weights.sum() if weights.sum() else np.zeros_like(weights)
    quota = np.minimum(np.floor(exact).astype(np.int64), capacity)
    order = np.lexsort((tiebreak, -(exact - np.floor(exact))))
    left = total - int(quota.sum())
    while left > 0:
        open_ = order[quota[order] < capacity[order]]
        if not len(open_):
            raise SplitError(f"cannot place {total} examples in strata holding {capacity.sum()}")
        take = open_[:left]
        quota[take] += 1
        left -= len(take)
    return quota


def _rank_within(strata: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each row's 0-based rank by `key` inside its stratum (ties keep row order)."""
    order = np.lexsort((key, strata))
    sorted_strata = strata[order]
    starts = np.flatnonzero(np.r_[True, sorted_strata[1:] != sorted_strata[:-1]])
    lengths = np.diff(np.r_[starts, len(order)])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(starts, lengths)
    return rank


def _name_order(names: list[str], seed: int) -> np.ndarray:
    digests = [hashlib.blake2b(f"{seed}|{name}".encode(), digest_size=8).digest() for name in names]
    return np.frombuffer(b"".join(digests), dtype=">u8").astype(np.uint64)


def check_split_sizes(params: SplitParams, domains: dict[str, int]) -> None:
    """What can be checked from the examples per domain alone, before anything is assigned.

    The split stage runs it first, and so does `traindev check-split`, the DVC stage before
    split, so a split that cannot be made fails before DVC deletes the last good split. Every
    problem is listed at once, each naming the param to change.
    """
    domains = {str(name): int(count) for name, count in domains.items() if count}
    present = sorted(domains)
    problems = []
    if params.target_domain not in domains:
        problems.append(
            f"split.target_domain: domain {params.target_domain!r} has no examples"
            f"{did_you_mean(params.target_domain, present)}; domains present: {present}"
        )
    unknown = sorted(set(params.sources) - set(domains))
    if unknown:
        problems.append(
            f"split.sources names domain(s) {unknown} that have no examples; "
            f"domains present: {present}"
        )
    n_target = domains.get(params.target_domain, 0)
    counts = {}
    for name in ("dev", "test", "train_dev"):
        size = getattr(params, name)
        if size >= 1 and size != int(size):
            problems.append(f"split.{name}: a count must be a whole number, got {size}")
        counts[name] = size if size >= 1 else 0.0
    eval_sizes = {
        name: size if size >= 1 else size * n_target
        for name, size in (("dev", params.dev), ("test", params.test))
    }
    if n_target and eval_sizes["dev"] + eval_sizes["test"] > n_target:
        problems.append(
            f"split.dev + split.test ask for {eval_sizes['dev']:.0f} + {eval_sizes['test']:.0f} "
            f"examples but target domain {params.target_domain!r} holds only {n_target}; "
            "lower split.dev / split.test"
        )
    # The most the training pool can hold: every remaining target example and every source
    # example its cap allows. A train_dev count above that can never be carved out.
    most = max(0, n_target - int(eval_sizes["dev"]) - int(eval_sizes["test"]))
    for name, count in domains.items():
        if name != params.target_domain:
            cap = params.sources.get(name, SourceDomainParams()).cap
            most += count if cap is None else min(count, cap)
    if counts["train_dev"] > most and not problems:
        problems.append(
            f"split.train_dev: asks for {int(counts['train_dev'])} examples but the training "
            f"pool holds at most {most}; lower split.train_dev"
        )
    if problems:
        raise SplitError(problems[0] if len(problems) == 1 else _listed(problems))


def _listed(problems: list[str]) -> str:
    return f"{len(problems)} problems with the split params:\n" + "\n".join(
        f"  - {problem}" for problem in problems
    )


def _drop_cross_split_duplicates(
    manifest: pd.DataFrame, split: pd.Series, id_words: np.ndarray
) -> tuple[pd.Series, pd.DataFrame]:
    """Identical pixels in two splits stay in the earliest one (train < train-dev < dev < test).

    Repeated ids are found by their hash word (fast), then grouped by the id itself.
    """
    repeated = pd.Series(id_words).duplicated(keep=False).to_numpy() & split.notna().to_numpy()
    frame = pd.DataFrame({"id": manifest["id"][repeated], "split": split[repeated]})
    order = frame["split"].map(SPLIT_ORDER)
    first = order.groupby(frame["id"]).transform("min")
    leaked = frame.index[order > first]
    kept_in = frame.loc[leaked, "id"].map(
        frame.assign(order=order)
        .sort_values("order", kind="stable")
        .drop_duplicates("id")
        .set_index("id")["split"]
    )
    dropped = manifest.loc[leaked, ["id", "domain", "label", "source"]].assign(
        split=split.loc[leaked], kept_in=kept_in
    )
    cleaned = split.copy()
    cleaned.loc[leaked] = None
    return cleaned, dropped.reset_index(names="row")


def split_summary(
    manifest: pd.DataFrame, result: SplitResult, target_domain: str, classes: list[str]
) -> dict:
    """Counts by split x domain x class, totals, pool use per source, class-mix drift."""
    frame = manifest.assign(split=result.split).dropna(subset=["split"])
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for (split, domain, label), count in frame.groupby(["split", "domain", "label"]).size().items():
        counts.setdefault(split, {}).setdefault(domain, {})[label] = int(count)
    totals = {split: int(n) for split, n in frame["split"].value_counts().sort_index().items()}
    target = manifest[manifest["domain"] == target_domain]
    return {
        "counts": counts,
        "totals": totals,
        "target_domain": target_domain,
        "unused_target": result.unused_target,
        "sources": result.sources,
        "duplicates_dropped": len(result.dropped_duplicates),
        "fractions": result.resolved_fractions,
        "class_share_drift": {
            "dev": _max_share_drift(frame[frame["split"] == "dev"], target, classes),
            "test": _max_share_drift(frame[frame["split"] == "test"], target, classes),
            "train_dev": _max_share_drift(
                frame[frame["split"] == "train_dev"],
                frame[frame["split"].isin(["train", "train_dev"])],
                classes,
            ),
        },
    }


COVERED_SPLITS = ("train", "dev", "test")  # a class absent from one of these is a mismatch


def missing_classes(
    manifest: pd.DataFrame, split: pd.Series, target_domain: str, classes: list[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Classes with no example in train, dev or test, and one warning per such class.

    The notes' class-distribution mismatch: a class only the source domain has goes wholly to
    train, so dev and test never measure it and the target's errors on it go unseen; a class
    missing from train is never learned. The warning says where the class does occur.
    """
    frame = manifest.assign(split=split).dropna(subset=["split"])
    present = frame.groupby("split")["label"].unique().map(set).to_dict()
    missing = {
        name: [label for label in classes if label not in present.get(name, set())]
        for name in COVERED_SPLITS
    }
    missing = {name: labels for name, labels in missing.items() if labels}
    domains = manifest.groupby("label")["domain"].unique().map(sorted).to_dict()
    warnings = []
    for label in classes:
        absent = [name for name in COVERED_SPLITS if label in missing.get(name, [])]
        if absent:
            warnings.append(
                _missing_class_warning(label, absent, domains.get(label, []), target_domain)
            )
    return missing, warnings


def _missing_class_warning(
    label: str, absent: list[str], domains: list[str], target_domain: str
) -> str:
    where = f"class {label!r} has no example in {', '.join(absent)}"
    if not domains:
        return f"{where}: no domain has any; drop it from ingest.classes or add its images"
    if target_domain not in domains:
        return (
            f"{where}: only domain(s) {', '.join(domains)} have it, not the target "
            f"{target_domain!r} (a class-distribution mismatch: dev and test cannot measure "
            "it); add target examples of it, or leave it out of the source domains"
        )
    if "train" in absent:
        return (
            f"{where}: the model never sees it in training; raise split.target_to_train or add "
            "source examples of it"
        )
    return (
        f"{where}: the target domain has too few of it; add target examples of it or lower "
        "the other splits' share"
    )


def _max_share_drift(part: pd.DataFrame, pool: pd.DataFrame, classes: list[str]) -> float:
    """Largest absolute difference, over classes, between a split's class share and its pool's."""
    if part.empty or pool.empty:
        return 0.0
    share = part["label"].value_counts(normalize=True).reindex(classes, fill_value=0.0)
    expected = pool["label"].value_counts(normalize=True).reindex(classes, fill_value=0.0)
    return round(float((share - expected).abs().max()), 6)
