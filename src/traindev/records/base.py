"""The base every record shares: unknown fields are errors, NaN is written as null."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _null_is_nan(value: object) -> object:
    """JSON has no NaN: writers put null where a figure is undefined; it reads back as NaN."""
    return math.nan if value is None else value


# A figure that may be undefined (an empty split, a class with no examples).
NanFloat = Annotated[float, BeforeValidator(_null_is_nan)]
Interval = tuple[NanFloat, NanFloat]  # [low, high]; an end that could not be computed is NaN


class Record(BaseModel):
    """A stage's JSON record. extra="forbid": a stale file with a field this code no longer
    knows is an error that names it, not something silently ignored; NaN and inf are written
    as null once, here (pydantic's ser_json_inf_nan), rather than by each writer."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="null")
