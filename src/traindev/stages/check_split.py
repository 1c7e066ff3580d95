"""`traindev check-split`: the split's sizes against the data it will read, before DVC deletes
the last good split.

The stage before `split` in dvc.yaml (split depends on its stamp). It reads only the `domain`
column of the ingested and synthesized manifests and runs the split's own size checks
(`traindev.data.split.check_split_sizes`): a target domain with no examples, more dev + test
examples than the target holds, a count that is not whole, a train_dev count no pool can give.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from traindev import paths
from traindev.atomic import atomic_file
from traindev.config import Params, SplitParams
from traindev.data.split import GROUP_COLUMN, check_split_sizes
from traindev.data.store import MANIFEST_FILE

SOURCES = paths.SPLIT_SOURCES
STAMP = "split params fit the ingested and synthesized data\n"


def run(params: Params) -> str:
    """The stage: the task's split sources (paths.split_sources) against `split`."""
    return check_sources(params.split, paths.split_sources(params.task))


def check_sources(params: SplitParams, sources: tuple[Path, ...] = SOURCES) -> str:
    domains = domain_counts(sources)
    check_split_sizes(params, domains)
    with atomic_file(paths.SPLIT_CHECK) as handle:
        handle.write(STAMP)
    n_target = domains.get(params.target_domain, 0)
    return f"split params fit the data ({n_target} examples in target {params.target_domain!r})"


def domain_counts(sources: tuple[Path, ...]) -> dict[str, int]:
    """Examples per domain over the stores, from their manifests' `domain` column alone; with
    a `group` column, groups per domain, the unit the split then counts in."""
    counts: dict[str, int] = {}
    for source in sources:
        manifest = source / MANIFEST_FILE
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest}: missing; run `dvc repro` to produce it")
        grouped = GROUP_COLUMN in pq.read_schema(manifest).names
        columns = ["domain", GROUP_COLUMN] if grouped else ["domain"]
        frame = pd.read_parquet(manifest, columns=columns)
        per_domain = (
            frame.groupby("domain")[GROUP_COLUMN].nunique()
            if grouped
            else frame["domain"].value_counts()
        )
        for domain, count in per_domain.items():
            counts[str(domain)] = counts.get(str(domain), 0) + int(count)
    return counts
