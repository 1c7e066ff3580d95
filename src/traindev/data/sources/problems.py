"""Bad input, reported with the file or manifest row it concerns, never dropped silently.

Per-file problems follow `ingest.on_bad_input`: `fail` raises one `BadInputError` listing
them; `skip` leaves the files out and lists them in `skipped.csv`. Problems with the data
set as a whole (no images, one class, a required domain absent, a manifest without its
columns) always raise: there is nothing sensible to skip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

SHOWN = 20  # problems listed in an error message; all of them go to skipped.csv
SKIPPED_COLUMNS = ["where", "file", "reason"]


class BadInputError(ValueError):
    """Input that cannot be ingested as asked; the message names files / rows and the fix."""


@dataclass(frozen=True)
class Problem:
    where: str  # what the user looks for: a path under the root, or "<manifest> row N"
    file: str  # the file concerned ("" where there is none, e.g. an empty folder)
    reason: str


def problems_frame(problems: Sequence[Problem]) -> pd.DataFrame:
    return pd.DataFrame(
        [(p.where, p.file, p.reason) for p in problems], columns=SKIPPED_COLUMNS, dtype=str
    )


def raise_problems(problems: Sequence[Problem], origin: str) -> None:
    """Under `on_bad_input: fail`: one error listing the first problems and the count."""
    if problems:
        raise BadInputError(problems_message(problems, origin))


def problems_message(problems: Sequence[Problem], origin: str) -> str:
    """`origin: N bad input(s)`, the first SHOWN of them one per line, and the two fixes."""
    lines = [f"  - {p.where}: {p.reason}" for p in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"  ... and {len(problems) - SHOWN} more")
    return (
        f"{origin}: {len(problems)} bad input(s); nothing was written.\n"
        + "\n".join(lines)
        + "\nFix or remove them, or set ingest.on_bad_input: skip to leave them out "
        "(they are then listed in reports/ingest/skipped.csv)."
    )
