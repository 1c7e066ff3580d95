"""The files an ingest will decode, with their labels, before any pixel is read."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from traindev.data.sources.problems import Problem

# Columns of `Candidates.frame`; `meta.<name>` / `label.<name>` columns may follow.
FRAME_COLUMNS = ["file", "where", "domain", "label", "tags"]
META_PREFIX = "meta."


@dataclass
class Candidates:
    """One row per file to decode, plus what was wrong with the input found so far."""

    frame: pd.DataFrame  # FRAME_COLUMNS + extra columns carried into the store's manifest
    source: str  # the manifest's `source` value: folder:<name> or manifest:<name>
    origin: str  # the folder or manifest file, as the user named it (for messages)
    problems: list[Problem] = field(default_factory=list)

    @property
    def extra_columns(self) -> list[str]:
        return [column for column in self.frame.columns if column not in FRAME_COLUMNS]
