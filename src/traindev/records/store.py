"""<store>/dataset.json: what a data store holds once, and the facts of the stage that wrote it.

Every store has the class list, pixel scale, image shape and row count (`StoreMetadata`); each
writer adds its own facts, typed in a subclass. The file names no kind: which subclass a file
is follows from the facts it carries (`store_kind`), so the bytes stay those the stages wrote
before this schema existed and DVC's hashes of the stores do not change.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, RootModel, Tag

from traindev.records.base import Record

# How ingest brings an image of another shape to image_size (ingest.resize); defined here, the
# lowest module that names it, so config, decode and this record share one list.
Resize = Literal["stretch", "letterbox", "centre_crop"]


class StoreMetadata(Record):
    """The facts every store has; on its own, a store no stage wrote (tests, fixtures)."""

    KIND: ClassVar[str] = "plain"

    classes: list[str]  # ordered: label index i is classes[i]
    pixel_max: int  # the value that means full ink / full intensity (16 digits, 255 photos)
    shape: tuple[int, int, int]  # one image, (H, W, C)
    count: int = Field(ge=0)  # rows of the manifest, images of pixels.npy


class DigitsMetadata(StoreMetadata):
    """data/ingested from scikit-learn's bundled digits (`ingest.source: sklearn_digits`)."""

    KIND: ClassVar[str] = "digits"

    source: Literal["sklearn_digits"]
    domain: str


class ImagesMetadata(StoreMetadata):
    """data/ingested decoded from image files (`ingest.source: folder` or `manifest`)."""

    KIND: ClassVar[str] = "images"

    source: str = Field(pattern=r"^(folder|manifest):")  # folder:<name> or manifest:<name>
    resize: Resize


class SynthesizedMetadata(StoreMetadata):
    """data/synthesized drawn from fonts and pen strokes."""

    KIND: ClassVar[str] = "synthesized"

    domain: str
    fonts: list[str]  # the fonts drawn from; empty when every image is pen-drawn
    strokes: int = Field(ge=0)  # how many images are pen-drawn


class OverlayMetadata(StoreMetadata):
    """data/synthesized composited from clean foregrounds on backgrounds."""

    KIND: ClassVar[str] = "overlay"

    domain: str
    backgrounds: str  # the background folder


class SplitMetadata(StoreMetadata):
    """data/split: the stores combined and assigned to splits."""

    KIND: ClassVar[str] = "split"

    target_domain: str
    totals: dict[str, int]  # split -> rows


class AugmentedMetadata(StoreMetadata):
    """data/augmented: offline augmented copies of the train split. With `copies: 0` the store
    is empty and the other facts are absent."""

    KIND: ClassVar[str] = "augmented"
    OMIT_NONE: ClassVar[bool] = True

    copies: int = Field(ge=0)
    train_rows: int | None = Field(None, ge=0)  # train-split rows each copy holds
    backend: Literal["albumentations", "batched"] | None = None
    seed: int | None = None


class CanvasesMetadata(StoreMetadata):
    """data/canvases: detection's embedded default, digits placed on canvases; its box table
    and instance masks lie beside the manifest (traindev.tasks.detection.canvases)."""

    KIND: ClassVar[str] = "canvases"

    objects: int = Field(ge=0)  # rows of the box table
    seed: int


KINDS: tuple[type[StoreMetadata], ...] = (
    StoreMetadata,
    DigitsMetadata,
    ImagesMetadata,
    SynthesizedMetadata,
    OverlayMetadata,
    SplitMetadata,
    AugmentedMetadata,
    CanvasesMetadata,
)
# A field that only one kind has, tried in this order; none of them: a plain store.
_MARKERS = (
    ("copies", AugmentedMetadata),
    ("totals", SplitMetadata),
    ("backgrounds", OverlayMetadata),
    ("strokes", SynthesizedMetadata),
    ("resize", ImagesMetadata),
    ("objects", CanvasesMetadata),
)


def store_kind(value: Any) -> str:
    """The kind of a dataset.json (a dict while reading, a model while validating one)."""
    if isinstance(value, StoreMetadata):
        return value.KIND
    if not isinstance(value, dict):
        return StoreMetadata.KIND
    for field, kind in _MARKERS:
        if field in value:
            return kind.KIND
    if "source" in value:  # both ingest kinds have one; only the digits' is sklearn_digits
        return (DigitsMetadata if value["source"] == "sklearn_digits" else ImagesMetadata).KIND
    return StoreMetadata.KIND


AnyStoreMetadata = Annotated[
    Annotated[StoreMetadata, Tag(StoreMetadata.KIND)]
    | Annotated[DigitsMetadata, Tag(DigitsMetadata.KIND)]
    | Annotated[ImagesMetadata, Tag(ImagesMetadata.KIND)]
    | Annotated[SynthesizedMetadata, Tag(SynthesizedMetadata.KIND)]
    | Annotated[OverlayMetadata, Tag(OverlayMetadata.KIND)]
    | Annotated[SplitMetadata, Tag(SplitMetadata.KIND)]
    | Annotated[AugmentedMetadata, Tag(AugmentedMetadata.KIND)]
    | Annotated[CanvasesMetadata, Tag(CanvasesMetadata.KIND)],
    Discriminator(store_kind),
]


class StoreMetadataFile(RootModel[AnyStoreMetadata]):
    """A dataset.json of any kind, for `read_record`; `.root` is the typed metadata. An error
    names the kind it was read as first: `split.totals.dev: ...`."""
