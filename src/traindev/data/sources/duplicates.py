"""Exact duplicates (same pixels after decoding) found by content id, within and across domains.

They are reported, not removed: which copy to keep is the split stage's job (it keeps
identical pixels out of two splits), and a duplicate with two different labels is a
labelling question for the user.
"""

from __future__ import annotations

import pandas as pd

DUPLICATE_COLUMNS = [
    "id",
    "path",
    "domain",
    "label",
    "first_path",
    "first_domain",
    "first_label",
    "scope",
    "same_label",
]


def find_duplicates(manifest: pd.DataFrame, path_column: str = "meta.path") -> pd.DataFrame:
    """Every later copy of an id, next to the first row holding it."""
    frame = manifest.assign(
        path=manifest[path_column] if path_column in manifest else manifest.index.astype(str)
    )[["id", "path", "domain", "label"]]
    repeated = frame["id"].duplicated(keep="first")
    if not repeated.any():
        return pd.DataFrame(columns=DUPLICATE_COLUMNS)
    first = frame[~repeated].set_index("id").add_prefix("first_")
    copies = frame[repeated].join(first, on="id")
    copies["scope"] = (copies["domain"] == copies["first_domain"]).map(
        {True: "within domain", False: "across domains"}
    )
    copies["same_label"] = copies["label"] == copies["first_label"]
    return copies[DUPLICATE_COLUMNS].reset_index(drop=True)


def duplicate_counts(duplicates: pd.DataFrame) -> dict[str, int]:
    return {
        "within_domain": int((duplicates["scope"] == "within domain").sum()),
        "across_domains": int((duplicates["scope"] == "across domains").sum()),
        "label_conflicts": int((~duplicates["same_label"].astype(bool)).sum()),
    }
