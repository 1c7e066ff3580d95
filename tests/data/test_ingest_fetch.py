"""Opt-in downloads: checked against checksums, converted to the image folder ingest reads.

Only small local files the tests build, served through file:// URLs: never the network.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest
import yaml
from helpers.ingest_inputs import folder_params, run_ingest
from helpers.repository import PROJECT_ROOT
from PIL import Image

from traindev.cli import main
from traindev.data.sources import fetch
from traindev.data.store import read_store


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _mirror(folder, files: dict[str, bytes]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


def _with_checksums(dataset: fetch.Dataset, md5: dict[str, str]) -> fetch.Dataset:
    remotes = tuple(fetch.Remote(r.url, md5[r.name]) for r in dataset.files)
    return fetch.Dataset(remotes, dataset.classes, dataset.read)


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """A 4-image 'MNIST' (6x6) in a local mirror, registered with its own checksums."""
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 256, (3, 6, 6)), rng.integers(0, 256, (1, 6, 6))
    files = {
        "train-images-idx3-ubyte.gz": _idx(train),
        "train-labels-idx1-ubyte.gz": _idx(np.array([7, 1, 7])),
        "t10k-images-idx3-ubyte.gz": _idx(test),
        "t10k-labels-idx1-ubyte.gz": _idx(np.array([1])),
    }
    md5 = _mirror(tmp_path / "mirror", files)
    real = fetch.DATASETS["mnist"]
    monkeypatch.setitem(fetch.DATASETS, "mnist", _with_checksums(real, md5))
    return tmp_path / "mirror", train, test


def test_fetch_converts_to_an_image_folder_that_ingests(tmp_path, tiny_mnist):
    mirror, train, _ = tiny_mnist
    folder = fetch.fetch("mnist", tmp_path / "raw", base_url=mirror.as_uri())
    assert folder == tmp_path / "raw" / "images" / "mnist"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png")) == [
        "1/test-00000.png",
        "1/train-00001.png",
        "7/train-00000.png",
        "7/train-00002.png",
    ]
    np.testing.assert_array_equal(
        np.asarray(Image.open(folder / "7" / "train-00002.png")), train[2]
    )
    assert (tmp_path / "raw" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()

    run_ingest(tmp_path, folder_params(folder.parent, image_size=(6, 6), channels=1))
    store = read_store(tmp_path / "ingested")
    assert store.classes == ["1", "7"] and set(store.manifest["domain"]) == {"mnist"}


def test_intact_downloads_are_not_fetched_again(tmp_path, tiny_mnist):
    mirror, _, _ = tiny_mnist
    fetch.fetch("mnist", tmp_path / "raw", base_url=mirror.as_uri())
    fetch.fetch("mnist", tmp_path / "raw", base_url=(tmp_path / "nowhere").as_uri())


def test_a_checksum_mismatch_keeps_nothing(tmp_path, tiny_mnist, monkeypatch):
    mirror, _, _ = tiny_mnist
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(_idx(np.array([7, 1, 2])))  # altered
    with pytest.raises(fetch.FetchError, match="is not the published"):
        fetch.fetch("mnist", tmp_path / "raw", base_url=mirror.as_uri())
    assert not (tmp_path / "raw" / "mnist" / "train-labels-idx1-ubyte.gz").exists()
    assert not (tmp_path / "raw" / "images").exists()
    with pytest.raises(fetch.FetchError, match="download failed"):
        fetch.fetch("mnist", tmp_path / "raw2", base_url=(tmp_path / "nowhere").as_uri())


def test_cifar_binary_records_become_rgb_images(tmp_path, monkeypatch):
    def record(label: int, rgb: tuple[int, int, int]) -> bytes:
        return bytes([label]) + b"".join(bytes([value]) * 1024 for value in rgb)

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        for index, name in enumerate(names):
            data = record(index % 10, (200, 10, 60))
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    md5 = _mirror(tmp_path / "mirror", {"cifar-10-binary.tar.gz": buffer.getvalue()})
    monkeypatch.setitem(fetch.DATASETS, "cifar10", _with_checksums(fetch.DATASETS["cifar10"], md5))
    folder = fetch.fetch("cifar10", tmp_path / "raw", (tmp_path / "mirror").as_uri())
    image = np.asarray(Image.open(folder / "automobile" / "train-00001.png"))
    assert image.shape == (32, 32, 3) and image[0, 0].tolist() == [200, 10, 60]
    assert len(list(folder.rglob("*.png"))) == 6


def test_usps_libsvm_text_with_sparse_features(tmp_path, monkeypatch):
    line = "3 1:1 2:-1 256:0.5\n"  # digit 2; features left out are 0, i.e. mid grey
    md5 = _mirror(
        tmp_path / "mirror",
        {"usps.bz2": bz2.compress(line.encode()), "usps.t.bz2": bz2.compress(b"10 1:-1\n")},
    )
    monkeypatch.setitem(fetch.DATASETS, "usps", _with_checksums(fetch.DATASETS["usps"], md5))
    folder = fetch.fetch("usps", tmp_path / "raw", (tmp_path / "mirror").as_uri())
    image = np.asarray(Image.open(folder / "2" / "train-00000.png"))
    assert image.shape == (16, 16)
    assert (image[0, 0], image[0, 1], image[0, 2], image[15, 15]) == (255, 0, 128, 191)
    assert (folder / "9" / "test-00000.png").is_file()


def test_cli_fetch_needs_no_params_and_the_pipeline_never_fetches(tmp_path, tiny_mnist, capsys):
    mirror, _, _ = tiny_mnist
    raw = str(tmp_path / "raw")
    assert main(["fetch", "mnist", "--raw", raw, "--base-url", mirror.as_uri()]) == 0
    assert "4 images in" in capsys.readouterr().out
    assert main(["fetch", "imagenet", "--raw", raw]) == 2
    assert "unknown data set 'imagenet'" in capsys.readouterr().err
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    assert not any("fetch" in str(stage.get("cmd", "")) for stage in stages.values())
