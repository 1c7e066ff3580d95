"""reports/synthesis/diversity.json: the notes' caveat about a narrow synthesis pool."""

from __future__ import annotations

from pydantic import Field

from traindev.records.base import Record


class SourcePool(Record):
    """One kind of source the synthetic images were drawn from (fonts, templates, ...)."""

    distinct: int
    images: int
    effective: float  # exp(entropy) of the shares: the number of equally used sources
    inverse_simpson: float
    top_share: float
    covering: int  # fewest sources that make up `coverage` of the images
    shares: dict[str, float] = Field(default_factory=dict)  # by source, most used first


class SynthesisDiversity(Record):
    source: str  # the recipe, e.g. "strokes" or "fonts + strokes (30% pen-drawn)"
    count: int
    min_effective_sources: float
    coverage: float
    pools: dict[str, SourcePool]
    narrow: bool
    warnings: list[str]
