"""reports/ingest/summary.json: what the ingest stage read (a DVC metric)."""

from __future__ import annotations

from traindev.records.base import Record


class DuplicateCounts(Record):
    within_domain: int
    across_domains: int
    label_conflicts: int


class IngestSummary(Record):
    source: str  # ingest.source: sklearn_digits, folder, manifest, ...
    images: int
    domains: dict[str, int]  # images per domain
    classes: int
    shape: tuple[int, int, int]  # height, width, channels
    skipped: int  # bad inputs skipped (ingest.on_bad_input: skip)
    duplicates: DuplicateCounts
