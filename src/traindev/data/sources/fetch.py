"""Opt-in downloads of public image sets, converted to the image-folder layout ingest reads.

`traindev fetch mnist` downloads the published files (checked against their published
checksums) into `data/raw/mnist/`, then writes `data/raw/images/mnist/<class>/<part>-NNNNN.png`
(part: the set's own train / test). Several sets share `data/raw/images`, one domain each,
so e.g. USPS as the target and MNIST as the source is `ingest.root: data/raw/images`.
Nothing in the pipeline calls this: it is the one place traindev touches the network, and
only when asked. `--base-url` (a mirror, or `file:///...` for a local copy) replaces the
directory part of each published URL.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import sys
import tarfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from traindev.atomic import atomic_directory, atomic_file
from traindev.data.sources.parallel import show_progress

RAW = Path("data/raw")
DIGITS = [str(digit) for digit in range(10)]
FASHION_CLASSES = "t-shirt_top trouser pullover dress coat sandal shirt sneaker bag ankle_boot"
CIFAR_CLASSES = "airplane automobile bird cat deer dog frog horse ship truck"


class FetchError(ValueError):
    """A download or conversion that failed; the message names the file and what to do."""


@dataclass(frozen=True)
class Remote:
    url: str
    md5: str

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# A reader turns the downloaded files into (part, images uint8 NHW or NHWC, label indices).
Reader = Callable[[dict[str, Path]], Iterator[tuple[str, np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class Dataset:
    files: tuple[Remote, ...]
    classes: list[str]
    read: Reader


def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file (MNIST's format): big-endian header, then uint8 data."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise FetchError(f"{path}: not an IDX file of unsigned bytes")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if values.size != int(np.prod(shape)):
        raise FetchError(f"{path}: header says {shape} but holds {values.size} values")
    return values.reshape(shape)


def _idx_reader(files: dict[str, Path]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    for part, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])
        labels = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"])
        yield part, images, labels


def _cifar_reader(files: dict[str, Path]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """The binary version: records of 1 label byte + 3 x 1024 bytes (R, G, B planes)."""
    parts = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
    with tarfile.open(files["cifar-10-binary.tar.gz"], "r:gz") as archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        for part, names in parts.items():
            blocks = []
            for name in names:
                if name not in members:
                    raise FetchError(f"cifar-10-binary.tar.gz: {name} is missing")
                blocks.append(np.frombuffer(archive.extractfile(members[name]).read(), np.uint8))
            records = np.concatenate(blocks).reshape(-1, 3073)
            images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            yield part, images, records[:, 0]


def _usps_reader(files: dict[str, Path]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """LIBSVM text: `label index:value ...`, labels 1..10 for digits 0..9, values in [-1, 1]
    (features equal to 0 may be left out, as the format allows)."""
    for part, name in (("train", "usps.bz2"), ("test", "usps.t.bz2")):
        with bz2.open(files[name], "rt") as handle:
            lines = [line.split() for line in handle if line.strip()]
        values = np.zeros((len(lines), 256), np.float32)
        labels = np.empty(len(lines), np.int64)
        for row, fields in enumerate(lines):
            labels[row] = int(float(fields[0])) - 1
            for field in fields[1:]:
                index, value = field.split(":")
                values[row, int(index) - 1] = float(value)
        images = np.clip(np.rint((values + 1) / 2 * 255), 0, 255).astype(np.uint8)
        yield part, images.reshape(-1, 16, 16), labels


_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_USPS = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/"
DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(
        (
            Remote(_MNIST + "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            Remote(_MNIST + "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
            Remote(_MNIST + "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
            Remote(_MNIST + "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
        DIGITS,
        _idx_reader,
    ),
    "fashion-mnist": Dataset(
        (
            Remote(_FASHION + "train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            Remote(_FASHION + "train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            Remote(_FASHION + "t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
            Remote(_FASHION + "t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        ),
        FASHION_CLASSES.split(),
        _idx_reader,
    ),
    "cifar10": Dataset(
        (
            Remote(
                "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                "c32a1d4ab5d03f1284b67883e8d87530",
            ),
        ),
        CIFAR_CLASSES.split(),
        _cifar_reader,
    ),
    "usps": Dataset(
        (
            Remote(_USPS + "usps.bz2", "ec16c51db3855ca6c91edd34d0e9b197"),
            Remote(_USPS + "usps.t.bz2", "8ea070ee2aca1ac39742fdd1ef5ed118"),
        ),
        DIGITS,
        _usps_reader,
    ),
}


def fetch(name: str, raw: Path = RAW, base_url: str | None = None) -> Path:
    """Download (unless already there and intact) and convert one set; returns its folder."""
    if name not in DATASETS:
        raise FetchError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    dataset = DATASETS[name]
    files = {remote.name: download(remote, Path(raw) / name, base_url) for remote in dataset.files}
    target = Path(raw) / "images" / name
    with atomic_directory(target) as staging:
        for part, images, labels in dataset.read(files):
            write_images(staging, part, images, labels, dataset.classes)
    return target


def download(remote: Remote, folder: Path, base_url: str | None = None) -> Path:
    """The file at `folder/<name>`, fetched only if absent or corrupt, always MD5-checked."""
    path = folder / remote.name
    if path.is_file() and _md5(path) == remote.md5:
        return path
    url = remote.url if base_url is None else f"{base_url.rstrip('/')}/{remote.name}"
    with atomic_file(path, "wb") as handle:
        digest = hashlib.md5()
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=remote.name,
                    disable=not show_progress(),
                    leave=False,
                ) as bar:
                    while block := response.read(1 << 20):
                        digest.update(block)
                        handle.write(block)
                        bar.update(len(block))
        except OSError as exc:  # URLError, HTTPError and timeouts are OSErrors
            raise FetchError(
                f"{url}: download failed ({exc}); check the network or pass --base-url "
                "pointing at a mirror or a local copy (file:///...)"
            ) from None
        if digest.hexdigest() != remote.md5:
            raise FetchError(
                f"{url}: MD5 {digest.hexdigest()} is not the published {remote.md5}; "
                "the file is corrupt or not the published one, so it was not kept"
            )
    return path


def write_images(
    folder: Path, part: str, images: np.ndarray, labels: np.ndarray, classes: list[str]
) -> None:
    if len(images) != len(labels):
        raise FetchError(f"{part}: {len(images)} images but {len(labels)} labels")
    bad = sorted({int(label) for label in labels if not 0 <= int(label) < len(classes)})
    if bad:
        raise FetchError(f"{part}: labels {bad[:5]} outside 0..{len(classes) - 1}")
    for label in sorted({int(label) for label in labels}):  # no empty class folders
        (folder / classes[label]).mkdir(exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = folder / classes[int(label)] / f"{part}-{index:05d}.png"
        Image.fromarray(np.ascontiguousarray(image)).save(path, compress_level=1)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(DATASETS), help="the data set to download")
    parser.add_argument("--raw", type=Path, default=RAW, help="download folder (data/raw)")
    parser.add_argument("--base-url", help="a mirror or file:///local/copy replacing the URLs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="traindev fetch", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(args)


def run_cli(args: argparse.Namespace) -> int:
    try:
        target = fetch(args.name, args.raw, args.base_url)
    except (FetchError, OSError, tarfile.TarError, EOFError) as exc:
        print(f"traindev fetch: error: {exc}", file=sys.stderr)
        return 2
    count = sum(1 for _ in target.rglob("*.png"))
    print(
        f"traindev fetch: {count} images in {target}; to use them set ingest.source: folder, "
        f"ingest.root: {target.parent} (domain {target.name}), and `dvc add {target.parent}`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
