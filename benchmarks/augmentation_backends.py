"""The `notes` preset three ways: traindev's batched augmenter, kornia.augmentation, albumentations.

Why: issue 17 item 9 asks whether `data/batch_augmentation.py` (a torch reimplementation of
albumentations transforms) should become a thin layer over kornia, or stay frozen. This measures
what decides it, on the same images in the same process:

- `traindev`: `BatchAugmenter`, per-row draws keyed by (seed, epoch, store row), one call on the
  whole batch (the train stage's in-memory path).
- `kornia_mapped`: `kornia.augmentation.AugmentationSequential` with every parameter supplied
  through `params=`, drawn per row from the same keys (what a thin layer would do: option a).
- `kornia_rows`: the same sequential, its own samplers seeded once per row (the generic per-row
  path `traindev.data.geometric_targets` uses; its cost grows with the number of images).
- `kornia_own`: the same sequential drawing for the batch itself (fast, not reproducible per row:
  a row's draw depends on the batch it is in); for reference only.
- `albumentations`: `Augmenter`, one image at a time (one DataLoader worker's rate).

Pipelines: `common` is the preset less FancyPCA (kornia 0.9 has no FancyPCA), run by all five;
`full` is the preset itself, run by traindev and albumentations. Each workload also times a
forward + backward + optimizer step of a model on the same images, so the table says what share
of a training step the augmentation costs (augmenting on the training thread, as the batched
backend does). Repeats are interleaved (each way in every position in turn); ratios are per
repeat against traindev in the same repeat; medians with min-max spreads. The load average is
recorded before and after: on a shared machine the spread, not one figure, is the result.
Torch runs one thread by default (`--threads`): on the shared 2-core machine two threads
scattered 10x from call to call (OpenMP spinning against other jobs), one thread 2x.

    python benchmarks/augmentation_backends.py [--repeats 7] [--device cuda]
    python benchmarks/augmentation_backends.py --dry-run   # seconds, into benchmarks/out/
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from benchmark_record import Figure, add_arguments, figure, open_run

import traindev  # noqa: F401  (quiet tool settings)
from traindev.config import AugmentParams
from traindev.data.augmentation import Augmenter, TransformSpec, resolve_specs
from traindev.data.batch_augmentation import (
    BatchAugmenter,
    CropStep,
    Draw,
    ElasticStep,
    HostDraw,
    row_keys,
)
from traindev.data.geometric_targets import per_row_params
from traindev.models.registry import build_model, get_architecture, validate_params

SEED = 0

# The preset's transforms and their kornia.augmentation counterparts (None: none in kornia 0.9).
KORNIA_EQUIVALENT = {
    "RandomResizedCrop": "RandomResizedCrop(cropping_mode='resample')",
    "Rotate": "RandomRotation",
    "Affine": "RandomAffine(degrees=0, shear=(x0, x1, y0, y1))",
    "ElasticTransform": "RandomElasticTransform (alpha in [-1, 1] units: 2 * alpha_px / size)",
    "RandomBrightnessContrast": "RandomContrast then RandomBrightness (one shared p)",
    "RGBShift": "RandomRGBShift (limits / 255)",
    "FancyPCA": None,
}


@dataclass(frozen=True)
class Workload:
    """Images of one shape, augmented `images` at a time, and the model a step is timed on."""

    name: str
    shape: tuple[int, int, int]  # C, H, W
    images: int  # per augmentation call
    pixel_max: int
    model: str
    model_params: dict
    step_batch: int  # images per timed training step


WORKLOADS = (
    Workload("digits_8x8_grey", (1, 8, 8), 2000, 16, "lenet5", {}, 64),
    Workload("rgb_64x64", (3, 64, 64), 256, 255, "resnet18", {"small_input": False}, 64),
    Workload("rgb_224x224", (3, 224, 224), 64, 255, "resnet18", {"small_input": False}, 16),
)
DRY_WORKLOADS = (
    Workload("digits_8x8_grey", (1, 8, 8), 16, 16, "lenet5", {}, 8),
    Workload("rgb_32x32", (3, 32, 32), 4, 255, "lenet5", {}, 4),
)


def pixels_for(workload: Workload) -> np.ndarray:
    """uint8 (N, H, W, C) in [0, pixel_max]: the real digits tiled, or smooth RGB images (FancyPCA
    and the elastic field cost the same on any content; smooth keeps the covariance well posed)."""
    channels, height, width = workload.shape
    if channels == 1:
        from sklearn.datasets import load_digits

        digits = load_digits().images.astype(np.uint8)
        return digits[np.arange(workload.images) % len(digits), :, :, None]
    rng = np.random.default_rng(0)
    coarse = torch.from_numpy(rng.random((workload.images, channels, 8, 8), dtype=np.float32))
    smooth = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    scaled = (smooth.clamp(0, 1) * workload.pixel_max).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).contiguous().numpy()


# ---------------------------------------------------------------------------------------------
# kornia: the preset mapped, and its parameters drawn per row from traindev's keys


def kornia_sequential(specs: Sequence[TransformSpec], shape: tuple[int, int, int]):
    """AugmentationSequential of the specs' kornia counterparts, and for each kornia module the
    index of the spec it came from. Raises KeyError on a transform kornia lacks."""
    import kornia.augmentation as K

    _, height, width = shape
    modules, origin = [], []
    for index, spec in enumerate(specs):
        a, p = spec.args, float(spec.args.get("p", 0.5))
        if spec.name == "RandomResizedCrop":
            made = [
                K.RandomResizedCrop(
                    tuple(a["size"]), a["scale"], a["ratio"], p=p, cropping_mode="resample"
                )
            ]
        elif spec.name == "Rotate":
            made = [K.RandomRotation(a["limit"], p=p)]
        elif spec.name == "Affine":
            made = [K.RandomAffine(degrees=0.0, shear=(*a["shear"], *a["shear"]), p=p)]
        elif spec.name == "ElasticTransform":
            alpha = (2 * a["alpha"] / width, 2 * a["alpha"] / height)
            size = round(a["sigma"] * 8 + 1) | 1  # cv2's kernel size, as albumentations gets it
            made = [
                K.RandomElasticTransform(
                    (size, size), (a["sigma"], a["sigma"]), alpha, p=p, padding_mode="zeros"
                )
            ]
        elif spec.name == "RandomBrightnessContrast":
            contrast = tuple(1 + v for v in a["contrast_limit"])
            brightness = tuple(1 + v for v in a["brightness_limit"])
            made = [K.RandomContrast(contrast, p=p), K.RandomBrightness(brightness, p=p)]
        elif spec.name == "RGBShift":
            limits = [a[f"{c}_shift_limit"][1] / 255 for c in "rgb"]
            made = [K.RandomRGBShift(*limits, p=p)]
        else:
            raise KeyError(spec.name)
        modules += made
        origin += [index] * len(made)
    return K.AugmentationSequential(*modules, data_keys=["input"]), origin


class KorniaMapped:
    """kornia applies; every parameter is traindev's per-row draw, passed through `params=`.

    The draws are BatchAugmenter's own (same keys, streams and samplers), so each row's result
    is independent of the batch it is in, as the batched backend's is.
    """

    def __init__(self, specs: Sequence[TransformSpec], shape: tuple[int, int, int]) -> None:
        self.sequential, self.origin = kornia_sequential(specs, shape)
        self.draws = BatchAugmenter(specs, 1, SEED)
        self.shape = shape

    def device_draw(self, keys: np.ndarray, index: int, applied: np.ndarray) -> Draw:
        """Step `index`'s draws as BatchAugmenter's colour and elastic steps take them."""
        on = torch.from_numpy(applied[:, index])
        keys_t = torch.from_numpy(keys.astype(np.int64))
        return self.draws.draw(keys_t, index, self.draws.steps[index], on)

    def params(self, x: torch.Tensor, rows: np.ndarray, epoch: int) -> list:
        from kornia.augmentation.container.params import ParamItem

        n, (channels, height, width) = len(x), self.shape
        keys = row_keys(SEED, epoch, rows)
        applied = self.draws.applied_host(keys)
        full_shape = torch.tensor([n, channels, height, width])
        items = []
        for (name, module), index in zip(
            self.sequential.named_children(), self.origin, strict=True
        ):
            step = self.draws.steps[index]
            stream = self.draws.stream(index)
            draw = HostDraw(keys, stream)
            kind = type(module).__name__
            if kind == "RandomResizedCrop":
                x0, y0, w, h = CropStep.boxes(step, draw, (height, width)).T
                x1, y1 = x0 + w - 1, y0 + h - 1
                src = torch.stack([x0, y0, x1, y0, x1, y1, x0, y1], 1).view(n, 4, 2)
                out_h, out_w = step.size
                corners = [[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]]
                data = {
                    "src": src,
                    "dst": torch.tensor(corners, dtype=torch.float32).expand(n, 4, 2),
                    "input_size": torch.tensor([height, width]).expand(n, 2),
                    "output_size": torch.tensor([out_h, out_w]).expand(n, 2),
                }
            elif kind == "RandomRotation":
                angle = step.limit[0] + (step.limit[1] - step.limit[0]) * draw.u_host(1)[:, 0]
                data = {"degrees": torch.from_numpy(angle).float()}
            elif kind == "RandomAffine":
                u = draw.u_host(9)
                shear = [
                    -(lo + (hi - lo) * u[:, 2 + i])
                    for i, (lo, hi) in enumerate(step.shear.values())
                ]
                data = {
                    "translations": torch.zeros(n, 2),
                    "center": torch.tensor([(width - 1) / 2, (height - 1) / 2]).expand(n, 2),
                    "scale": torch.ones(n, 2),
                    "angle": torch.zeros(n),
                    "shear_x": torch.from_numpy(shear[0]).float(),
                    "shear_y": torch.from_numpy(shear[1]).float(),
                }
            elif kind == "RandomElasticTransform":
                chosen, subset = self.device_draw(keys, index, applied).subset()
                noise = torch.zeros(n, 2, height, width)  # moved with the rest below
                if len(chosen):
                    raw, scale = ElasticStep.noise(step, subset, (height, width))
                    noise[chosen] = (raw * scale).expand(-1, 2, -1, -1)
                data = {"noise": noise}
            elif kind in ("RandomContrast", "RandomBrightness"):
                alpha, beta = step.parameters(x, self.device_draw(keys, index, applied))
                factor = alpha if kind == "RandomContrast" else 1 + beta
                data = {kind.removeprefix("Random").lower() + "_factor": factor}
            elif kind == "RandomRGBShift":
                shifts = step.shifts(self.device_draw(keys, index, applied), channels)
                data = {f"{c}_shift": shifts[:, i] for i, c in enumerate("rgb")}
            else:
                raise KeyError(kind)
            data["batch_prob"] = torch.from_numpy(applied[:, index].astype(np.float32))
            data["forward_input_shape"] = full_shape
            items.append(ParamItem(name, {k: v.to(x.device) for k, v in data.items()}))
        return items

    def __call__(self, x: torch.Tensor, rows: np.ndarray, epoch: int) -> torch.Tensor:
        return self.sequential(x, params=self.params(x, rows, epoch))


class KorniaRows:
    """kornia's own samplers, seeded per (seed, epoch, row): generic, one draw call per row."""

    def __init__(self, specs: Sequence[TransformSpec], shape: tuple[int, int, int]) -> None:
        self.sequential, _ = kornia_sequential(specs, shape)

    def __call__(self, x: torch.Tensor, rows: np.ndarray, epoch: int) -> torch.Tensor:
        params = per_row_params(self.sequential, x.shape, rows, epoch, SEED, x.device)
        return self.sequential(x, params=params)


class KorniaOwn:
    """kornia drawing for the whole batch at once (not reproducible per row)."""

    def __init__(self, specs: Sequence[TransformSpec], shape: tuple[int, int, int]) -> None:
        self.sequential, _ = kornia_sequential(specs, shape)

    def __call__(self, x: torch.Tensor, rows: np.ndarray, epoch: int) -> torch.Tensor:
        return self.sequential(x)


# ---------------------------------------------------------------------------------------------
# Timing


def model_step(workload: Workload, x: torch.Tensor) -> Callable[[], None]:
    """One forward + backward + Adam step of the workload's model on a batch of `x`."""
    torch.manual_seed(0)
    if workload.model == "lenet5":  # as traindev trains it on the digits (resized to 32x32)
        model = build_model(workload.model, workload.model_params, workload.shape, 10)
    else:  # at the images' own size: the reference stem (7x7/2 and a pool), no resize
        architecture = get_architecture(workload.model)
        params = validate_params(workload.model, workload.model_params)
        model = architecture.build(params, workload.shape, 10)
    model = model.to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = x[: workload.step_batch].contiguous(memory_format=torch.channels_last)
    labels = torch.arange(len(batch), device=x.device) % 10

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(batch), labels).backward()
        optimizer.step()

    return step


def ways(workload: Workload, device: torch.device) -> dict[str, Callable[[], object]]:
    """Each way to augment the workload's images once (one call), by name; every torch way on
    `device` (albumentations on the host, as its workers run)."""
    pixels = pixels_for(workload)
    rows = np.arange(len(pixels), dtype=np.int64)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().to(device) / workload.pixel_max
    specs = {"full": resolve_specs(AugmentParams(enabled=True), workload.shape)}
    specs["common"] = [spec for spec in specs["full"] if spec.name != "FancyPCA"]
    found: dict[str, Callable[[], object]] = {}
    for pipeline, chosen in specs.items():
        traindev_way = BatchAugmenter(chosen, workload.pixel_max, SEED)
        album = Augmenter(chosen, workload.pixel_max, SEED)
        found[f"traindev/{pipeline}"] = lambda a=traindev_way: a(x, rows, 1)
        found[f"albumentations/{pipeline}"] = lambda a=album: a(pixels, rows, 1)
    for name, kind in (("kornia_mapped", KorniaMapped), ("kornia_rows", KorniaRows)):
        made = kind(specs["common"], workload.shape)
        found[f"{name}/common"] = lambda a=made: a(x, rows, 1)
    own = KorniaOwn(specs["common"], workload.shape)
    found["kornia_own/common"] = lambda: own(x, rows, 1)
    found["train_step"] = model_step(workload, x)
    return found


def measure(workload: Workload, repeats: int, device: torch.device) -> dict:
    """Seconds per image of each way: one warm-up call each, then `repeats` interleaved rounds."""
    runs = ways(workload, device)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    names = list(runs)
    with torch.no_grad():
        for name in names:
            if name != "train_step":
                runs[name]()
    runs["train_step"]()
    per_image: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            count = workload.step_batch if name == "train_step" else workload.images
            start = time.perf_counter()
            if name == "train_step":
                runs[name]()
            else:
                with torch.no_grad():
                    runs[name]()
            synchronize()
            per_image[name].append((time.perf_counter() - start) / count)
    return summarize(workload, per_image)


def spread(values: Sequence[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(workload: Workload, per_image: dict[str, list[float]]) -> dict:
    """Images/s of each way, its ratio to traindev on the same pipeline (paired per round), and
    the share of (augmentation + training step) the augmentation takes."""
    step = per_image["train_step"]
    result: dict = {
        "workload": {key: value for key, value in asdict(workload).items() if key != "model_params"}
        | {"model_params": workload.model_params},
        "train_step_images_per_s": spread([1 / s for s in step]),
        "ways": {},
    }
    for name, seconds in per_image.items():
        if name == "train_step":
            continue
        pipeline = name.split("/")[1]
        baseline = per_image[f"traindev/{pipeline}"]
        result["ways"][name] = {
            "images_per_s": spread([1 / s for s in seconds]),
            "ratio_to_traindev": spread([b / s for s, b in zip(seconds, baseline, strict=True)]),
            "share_of_step": spread([s / (s + t) for s, t in zip(seconds, step, strict=True)]),
        }
    return result


def record_figures(results: list[dict]) -> list[Figure]:
    """The headline figures: on the preset less FancyPCA (every way runs it), each way's
    images/s against traindev's, and the share of a training step it takes."""
    out = []
    for result in results:
        workload, ways = result["workload"], result["ways"]
        base = ways["traindev/common"]["images_per_s"]["median"]
        for way in ("traindev", "kornia_mapped", "albumentations"):
            rate = ways[f"{way}/common"]["images_per_s"]["median"]
            named = {} if way == "traindev" else {"baseline": base, "baseline_name": "traindev"}
            out.append(figure(f"{workload['name']}: {way}", rate, "images/s", **named))
        for way in ("traindev", "kornia_mapped", "albumentations"):
            share = ways[f"{way}/common"]["share_of_step"]["median"]
            name = f"{workload['name']}: {way}, share of a {workload['model']} step"
            out.append(figure(name, 100 * share, "%"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--only", nargs="+", help="workload names to run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared 2-core box two threads spin against other "
        "jobs and scatter by 10x; 1 is steady)",
    )
    parser.add_argument("--device", default="cpu", help="where the torch ways run (cpu, cuda)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import kornia

    bench = open_run(__file__, args, argv)
    workloads = DRY_WORKLOADS if args.dry_run else WORKLOADS
    if args.only:
        workloads = tuple(w for w in workloads if w.name in args.only)
    repeats = 1 if args.dry_run else args.repeats
    started = time.perf_counter()
    results = []
    for workload in workloads:
        print(f"{workload.name}: {workload.images} images of {workload.shape} per call", flush=True)
        result = measure(workload, repeats, torch.device(args.device))
        for name, figures in result["ways"].items():
            rate, ratio = figures["images_per_s"], figures["ratio_to_traindev"]
            share = figures["share_of_step"]
            print(
                f"  {name:26s} {rate['median']:12,.0f} img/s  x{ratio['median']:.3g} "
                f"({ratio['min']:.3g}-{ratio['max']:.3g}) of traindev; "
                f"{share['median']:.1%} of a {workload.model} step"
            )
        step = result["train_step_images_per_s"]["median"]
        print(f"  {workload.model + ' step':26s} {step:12,.0f} img/s", flush=True)
        results.append(result)
    details = {
        "torch_threads": torch.get_num_threads(),
        "device": args.device,
        "shared_machine": "yes: other engineers' jobs ran beside it (see the load averages)",
        "versions": {
            "torch": torch.__version__,
            "kornia": kornia.__version__,
            "albumentations": __import__("albumentations").__version__,
        },
        "load_average_end": os.getloadavg(),
        "repeats": repeats,
        "seconds": time.perf_counter() - started,
        "kornia_equivalent": KORNIA_EQUIVALENT,
        "workloads": results,
    }
    bench.write(record_figures(results), details, args.out)
    print(f"load average at the end {details['load_average_end'][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
