"""Detection's embedded default: canvases of several digits, boxes and masks known by
construction.

Each canvas (`canvases.size`, 64x64 by default) holds `canvases.objects` digits of one digit
store, each scaled to a square of `canvases.digit_size` pixels at a random position, with at
most `canvases.max_overlap` IoU between any two boxes, over a few stray pen strokes
(`canvases.clutter`) that are no digit. Canvases of the real digits form the target domain and
canvases of the synthesized digits the source domain, so the default tells detection the same
data-mismatch story as classification.

By construction:
- a digit's pixels are the ones its scaled image inks (value >= 1); its box is their extent
  (pixel edges, det_contract.md) and digits are composited by maximum, so overlapping strokes
  stay visible; the instance mask gives each pixel to the digit inking it most (the later one
  on a tie), clutter and background are 0;
- a canvas's manifest `label` is the class of its largest object (what a one-object
  localization model would name), its tags are `objects=<n>`, `smallest=<small|medium|
  large>` (the smallest box's side against `canvases.size_edges`), `overlap=<none|low|high>`
  (the largest IoU between two of its boxes: 0, up to 0.1, above) and `clutter=<n>`.

No source digit may reach two splits. A domain's digits are shuffled and cut into pools of
`objects[1]` digits; canvas c draws its digits from pool c mod (number of pools), so canvases
share digits only within a pool. The manifest's `group` column names the pool and the split
keeps each group whole (`traindev.data.split.GROUP_COLUMN`); `digit_ids` lists the manifest
ids of the digits a canvas holds, object k being `digit_ids[k]`.

Every canvas is drawn from its own generator seeded by (seed, domain, index), so it does not
depend on the canvases drawn before it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import xxhash

from traindev import paths
from traindev.atomic import atomic_directory
from traindev.config import CanvasParams
from traindev.data.split import GROUP_COLUMN
from traindev.data.store import (
    PIXELS_FILE,
    DataContractError,
    ImageStore,
    content_id,
    read_store,
    validate_store,
    write_manifest_and_metadata,
)
from traindev.paths import BOXES_FILE, MASKS_FILE
from traindev.records.store import CanvasesMetadata
from traindev.tasks.detection.box_table import box_frame, validate_boxes, write_boxes

DIGIT_IDS_COLUMN = "digit_ids"
SOURCE = "canvases"
PLACEMENT_TRIES = 50  # positions tried per digit before it is left out of its canvas
REDRAWS = 10  # draws of a canvas whose pixels repeat an earlier canvas's
OVERLAP_LOW = 0.1  # the overlap tag: none (0), low (<= this IoU), high


@dataclass(frozen=True)
class Canvases:
    """Canvases as a store (manifest, pixels) with their box table and instance masks."""

    manifest: pd.DataFrame  # the data contract's columns + group + digit_ids
    pixels: np.ndarray  # uint8 (N, H, W, 1)
    masks: np.ndarray  # uint8 (N, H, W): 0 background, k = object k - 1
    boxes: pd.DataFrame  # the box table
    classes: list[str]
    pixel_max: int


@dataclass(frozen=True)
class _Canvas:
    pixels: np.ndarray  # (H, W) uint8
    mask: np.ndarray  # (H, W) uint8
    boxes: np.ndarray  # (K, 4) float32
    digits: list[int]  # row of each object's digit in its store
    clutter: int


def build_canvas_store(
    params: CanvasParams,
    real: Path = paths.INGESTED,
    synthetic: Path = paths.SYNTHESIZED,
    target: Path = paths.CANVASES,
) -> str:
    """The canvas store from the real and the synthesized digit stores (a stage's body); an
    empty synthesized store (synthesize.count: 0) gives target canvases only."""
    stores = [(read_store(real), params.real_count)]
    synthesized = read_store(synthetic)
    if len(synthesized.manifest):
        stores.append((synthesized, params.synthetic_count))
    canvases = build_canvases(stores, params)
    write_canvases(target, canvases, params)
    counts = canvases.manifest["domain"].value_counts().sort_index().to_dict()
    return (
        f"built {len(canvases.manifest)} canvases ({counts}) holding {len(canvases.boxes)} "
        f"digits into {target}"
    )


def build_canvases(stores: list[tuple[ImageStore, int]], params: CanvasParams) -> Canvases:
    """`count` canvases from each (digit store, count), one domain per store."""
    classes = stores[0][0].classes if stores else []
    pixel_max = stores[0][0].pixel_max if stores else 16
    frames, pixels, masks, box_tables = [], [], [], []
    seen: set[str] = set()
    for store, count in stores:
        if store.classes != classes or store.pixel_max != pixel_max:
            raise DataContractError(
                f"{store.path}: classes / pixel scale differ from the first digit store "
                f"({store.classes}, {store.pixel_max} vs {classes}, {pixel_max})"
            )
        frame, store_pixels, store_masks, boxes = _domain_canvases(store, count, params, seen)
        frames.append(frame)
        pixels.append(store_pixels)
        masks.append(store_masks)
        box_tables.append(boxes)
    height, width = params.size
    return Canvases(
        manifest=pd.concat(frames, ignore_index=True) if frames else _empty_manifest(),
        pixels=np.concatenate(pixels) if pixels else np.zeros((0, height, width, 1), np.uint8),
        masks=np.concatenate(masks) if masks else np.zeros((0, height, width), np.uint8),
        boxes=pd.concat(box_tables, ignore_index=True) if box_tables else box_frame([], [], [], []),
        classes=list(classes),
        pixel_max=int(pixel_max),
    )


def write_canvases(target: Path, canvases: Canvases, params: CanvasParams) -> None:
    """The canvas store: manifest, pixels, masks and box table, all validated, or nothing."""
    where = str(target)
    validate_store(canvases.manifest, canvases.pixels, canvases.classes, canvases.pixel_max, where)
    validate_boxes(
        canvases.boxes, canvases.manifest["id"], canvases.classes, params.size, f"{where} boxes"
    )
    with atomic_directory(Path(target)) as staging:
        np.save(staging / PIXELS_FILE, canvases.pixels)
        np.save(staging / MASKS_FILE, canvases.masks)
        write_boxes(staging / BOXES_FILE, canvases.boxes)
        write_manifest_and_metadata(
            staging,
            canvases.manifest,
            canvases.pixels,
            canvases.classes,
            canvases.pixel_max,
            CanvasesMetadata,
            objects=len(canvases.boxes),
            seed=params.seed,
        )


def read_masks(source: Path) -> np.ndarray:
    """A store's instance masks, memory-mapped (uint8 (N, H, W))."""
    return np.load(Path(source) / MASKS_FILE, mmap_mode="r")


def digit_pools(rows: int, pool_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A seeded partition of a store's rows into pools of `pool_size` (the last one larger)."""
    order = rng.permutation(rows)
    count = max(1, len(order) // pool_size)
    pools = [order[index * pool_size : (index + 1) * pool_size] for index in range(count)]
    pools[-1] = order[(count - 1) * pool_size :]
    return pools


def _domain_canvases(
    store: ImageStore, count: int, params: CanvasParams, seen: set[str]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    domains = store.manifest["domain"].unique()
    if len(domains) != 1:
        raise DataContractError(f"{store.path}: a digit store must hold one domain, got {domains}")
    domain = str(domains[0])
    if store.pixels.shape[-1] != 1:
        raise DataContractError(f"{store.path}: digits must be grey (1 channel) to be placed")
    if count and not len(store.manifest):
        raise DataContractError(f"{store.path}: no digits to build {count} canvases from")
    key = zlib.crc32(domain.encode())
    height, width = params.size
    pixels = np.zeros((count, height, width, 1), np.uint8)
    masks = np.zeros((count, height, width), np.uint8)
    ids = store.manifest["id"].astype(str).to_numpy(dtype=object)  # numpy: indexed per canvas
    labels = store.manifest["label"].astype(str).to_numpy(dtype=object)
    origin = str(store.manifest["origin"].iloc[0]) if len(ids) else ""
    pools = digit_pools(len(ids), params.objects[1], np.random.default_rng([params.seed, key]))
    group_names = [_group_name(ids[pool]) for pool in pools]
    rows, box_rows = [], []
    for index in range(count):
        pool = pools[index % len(pools)]
        for redraw in range(REDRAWS):
            rng = np.random.default_rng([params.seed, key, index, redraw])
            canvas = _draw_canvas(store, pool, params, rng)
            canvas_id = content_id(canvas.pixels[..., np.newaxis])
            if canvas_id not in seen:
                break
        else:
            raise DataContractError(
                f"{store.path}: canvas {index} repeats an earlier canvas after {REDRAWS} draws; "
                "widen canvases.digit_size or canvases.objects"
            )
        seen.add(canvas_id)
        pixels[index, ..., 0] = canvas.pixels
        masks[index] = canvas.mask
        names = labels[canvas.digits]
        areas = np.prod(canvas.boxes[:, 2:] - canvas.boxes[:, :2], axis=1)
        rows.append(
            {
                "id": canvas_id,
                "source": SOURCE,
                "domain": domain,
                "label": names[int(np.argmax(areas))],
                "origin": origin,
                "tags": canvas_tags(canvas.boxes, canvas.clutter, params.size_edges),
                GROUP_COLUMN: group_names[index % len(pools)],
                DIGIT_IDS_COLUMN: ids[canvas.digits].tolist(),
            }
        )
        box_rows += [(canvas_id, k, names[k], *canvas.boxes[k]) for k in range(len(canvas.digits))]
    frame = pd.DataFrame(rows) if rows else _empty_manifest()
    return frame, pixels, masks, _boxes(box_rows)


def _draw_canvas(
    store: ImageStore, pool: np.ndarray, params: CanvasParams, rng: np.random.Generator
) -> _Canvas:
    height, width = params.size
    wanted = int(rng.integers(params.objects[0], params.objects[1] + 1))
    chosen = rng.choice(pool, size=min(wanted, len(pool)), replace=False)
    canvas = np.zeros((height, width), np.uint8)
    clutter = int(rng.integers(params.clutter[0], params.clutter[1] + 1))
    for _ in range(clutter):
        _draw_stroke(canvas, params, store.pixel_max, rng)
    mask = np.zeros((height, width), np.uint8)
    boxes: list[np.ndarray] = []
    digits: list[int] = []
    for row in chosen:
        placed = _place(store.pixels[int(row), ..., 0], boxes, params, rng)
        if placed is None:
            continue
        digit, top, left, box = placed
        window = (slice(top, top + digit.shape[0]), slice(left, left + digit.shape[1]))
        owns = (digit > 0) & (digit >= canvas[window])
        canvas[window] = np.maximum(canvas[window], digit)
        mask[window][owns] = len(boxes) + 1
        boxes.append(box)
        digits.append(int(row))
    return _Canvas(canvas, mask, np.array(boxes, np.float32).reshape(-1, 4), digits, clutter)


def _place(
    digit: np.ndarray, boxes: list[np.ndarray], params: CanvasParams, rng: np.random.Generator
) -> tuple[np.ndarray, int, int, np.ndarray] | None:
    """A scaled digit, its top-left corner and its ink box, overlapping no earlier box above
    `max_overlap` IoU; None when no try fits."""
    height, width = params.size
    for _ in range(PLACEMENT_TRIES):
        side = int(rng.integers(params.digit_size[0], params.digit_size[1] + 1))
        scaled = cv2.resize(digit.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
        scaled = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        inked_rows = np.flatnonzero(scaled.any(axis=1))
        inked_cols = np.flatnonzero(scaled.any(axis=0))
        if not len(inked_rows):
            return None  # a blank digit has no box to place
        top = int(rng.integers(0, height - side + 1))
        left = int(rng.integers(0, width - side + 1))
        box = np.array(
            [
                left + inked_cols[0],
                top + inked_rows[0],
                left + inked_cols[-1] + 1,
                top + inked_rows[-1] + 1,
            ],
            np.float32,
        )
        if not boxes or _iou(box[np.newaxis], np.array(boxes)).max() <= params.max_overlap:
            return scaled, top, left, box
    return None


def _draw_stroke(
    canvas: np.ndarray, params: CanvasParams, pixel_max: int, rng: np.random.Generator
) -> None:
    """A short bent pen stroke (2 segments) of about half a digit's size: ink that is no
    digit, so a detector must learn shape, not just brightness."""
    height, width = canvas.shape
    length = rng.uniform(params.digit_size[0] / 2, params.digit_size[1] / 2)
    start = rng.uniform([0, 0], [width, height])
    angles = rng.uniform(0, 2 * np.pi) + np.array([0.0, rng.uniform(-1.5, 1.5)])
    steps = np.stack([np.cos(angles), np.sin(angles)], axis=1) * length / 2
    points = np.vstack([start, start + steps[0], start + steps[0] + steps[1]])
    ink = int(rng.integers(max(1, pixel_max // 2), pixel_max + 1))
    cv2.polylines(
        canvas,
        [np.rint(points).astype(np.int32).reshape(-1, 1, 2)],
        isClosed=False,
        color=ink,
        thickness=int(rng.integers(1, 3)),
    )


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` (N, 4) with every box of `b` (M, 4), numpy in and out."""
    import torch  # drawing only: the empty store (task: classification) never loads torch

    from traindev.tasks.detection.boxes import box_iou

    return box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()


def canvas_tags(boxes: np.ndarray, clutter: int, size_edges: tuple[int, int]) -> list[str]:
    """The error-analysis tags of a canvas (module docstring)."""
    sides = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))
    smallest = float(sides.min()) if len(sides) else float("inf")
    size = (
        "small" if smallest < size_edges[0] else "medium" if smallest < size_edges[1] else "large"
    )
    pairs = np.triu(_iou(boxes, boxes), k=1)
    overlap = float(pairs.max()) if len(boxes) > 1 else 0.0
    level = "none" if overlap <= 0 else "low" if overlap <= OVERLAP_LOW else "high"
    return [f"objects={len(boxes)}", f"smallest={size}", f"overlap={level}", f"clutter={clutter}"]


def _group_name(ids: np.ndarray) -> str:
    """A pool's name from its digits' ids: stable across runs and unique to its members."""
    return "digits:" + xxhash.xxh3_64("|".join(sorted(ids)).encode()).hexdigest()


def _boxes(rows: list[tuple]) -> pd.DataFrame:
    if not rows:
        return box_frame([], [], [], np.zeros((0, 4), np.float32))
    ids, objects, labels, *coords = zip(*rows, strict=True)
    return box_frame(list(ids), list(objects), list(labels), np.array(coords).T)


def _empty_manifest() -> pd.DataFrame:
    columns = ["id", "source", "domain", "label", "origin", "tags", GROUP_COLUMN]
    frame = pd.DataFrame({column: pd.Series(dtype=str) for column in columns})
    frame[DIGIT_IDS_COLUMN] = pd.Series(dtype=object)
    return frame
