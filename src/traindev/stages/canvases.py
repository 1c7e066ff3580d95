"""`traindev canvases`: detection's embedded canvases (data/canvases), or an empty store.

The stage is always in dvc.yaml so the DVC graph is the same for every task; with `task:
classification` it writes an empty canvas store in a second, without torch, as augment does
with `offline_copies: 0`, and nothing downstream of classification reads it.
"""

from __future__ import annotations

from traindev import paths
from traindev.config import Params


def run(params: Params) -> str:
    from traindev.tasks.detection.canvases import build_canvas_store, build_canvases, write_canvases

    if params.task != "detection":
        write_canvases(paths.CANVASES, build_canvases([], params.canvases), params.canvases)
        return f"task is {params.task}: {paths.CANVASES} is empty (detection's canvases only)"
    return build_canvas_store(params.canvases)
