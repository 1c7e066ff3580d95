"""How many distinct sources a synthesized set was made from, and how evenly.

The notes' caveat: an hour of car noise added to ten thousand hours of speech sounds fine
to a person, yet a network can overfit to that hour. The same holds for twenty car models
in a game, or fifteen fonts: what matters is the number of sources, not the number of
images. The effective number of sources, exp(Shannon entropy of their shares), is the count
of equally used sources the set is worth: 15 fonts used evenly count 15, one font used for
90% of the images counts barely more than 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

# A pool is one kind of source: the tag key that names it -> what the report calls it.
FONT_POOLS = {"font": "fonts"}
# Pen-drawn digits: each skeleton template (7 with a bar, open 4, ...) is one source; the
# writer styles are continuous draws, so the templates are what a network can overfit to.
STROKE_POOLS = {"template": "stroke templates"}
OVERLAY_POOLS = {"background": "backgrounds", "foreground": "foregrounds"}
COVERAGE = 0.8  # "a few sources cover most": the fewest that cover this share of the set


def pool_values(tags: Iterable[Sequence[str]], key: str) -> list[str]:
    """The value of tag ``key=...`` on each image that has it."""
    prefix = f"{key}="
    return [tag[len(prefix) :] for row in tags for tag in row if tag.startswith(prefix)]


def pool_summary(values: Sequence[str]) -> dict:
    """Counts, shares and effective numbers of the sources behind ``values``."""
    counts = Counter(values)
    total = sum(counts.values())
    if not total:
        return {
            "distinct": 0,
            "images": 0,
            "effective": 0.0,
            "inverse_simpson": 0.0,
            "top_share": 0.0,
            "covering": 0,
            "shares": {},
        }
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shares = [count / total for _, count in ordered]
    entropy = -sum(p * math.log(p) for p in shares)
    cumulative, covering = 0.0, 0
    for share in shares:
        cumulative += share
        covering += 1
        if cumulative >= COVERAGE - 1e-12:
            break
    return {
        "distinct": len(counts),
        "images": total,
        "effective": round(math.exp(entropy), 3),
        "inverse_simpson": round(1.0 / sum(p * p for p in shares), 3),
        "top_share": round(shares[0], 4),
        "covering": covering,  # the fewest sources that cover COVERAGE of the images
        "shares": {name: round(count / total, 4) for name, count in ordered},
    }


def narrow_pool_warning(name: str, summary: dict, min_effective: float) -> str | None:
    """The car-noise warning for one pool, or None when it is diverse enough."""
    if not summary["images"] or summary["effective"] >= min_effective:
        return None
    return (
        f"narrow pool: {summary['images']} images from {summary['effective']:.1f} effective "
        f"{name} ({summary['distinct']} distinct; the top {summary['covering']} make "
        f"{COVERAGE:.0%} or more of them); a network can overfit to so few sources even when "
        f"every image looks right (the notes' car-noise caveat): add more {name} "
        f"(synthesize.diversity.min_effective_sources is {min_effective:g})"
    )


def diversity_report(
    tags: Sequence[Sequence[str]], pools: dict[str, str], min_effective: float, source: str
) -> dict:
    """The content of reports/synthesis/diversity.json for one synthesized set."""
    summaries = {name: pool_summary(pool_values(tags, key)) for key, name in pools.items()}
    warnings = [
        warning
        for name, summary in summaries.items()
        if (warning := narrow_pool_warning(name, summary, min_effective)) is not None
    ]
    return {
        "source": source,
        "count": len(tags),
        "min_effective_sources": min_effective,
        "coverage": COVERAGE,
        "pools": summaries,
        "narrow": bool(warnings),
        "warnings": warnings,
    }


def diversity_line(report: dict) -> str:
    """One line for the stage's output: each pool's size, then any warning."""
    parts = [
        f"{summary['distinct']} {name} (effective {summary['effective']:.1f})"
        for name, summary in report["pools"].items()
        if summary["images"]
    ]
    line = "diversity: " + (", ".join(parts) if parts else "no sources")
    return line + "".join(f"; WARNING {warning}" for warning in report["warnings"])
