"""CIFAR-10 from a generated JPEG archive, image folder and python batches, and from the real archive."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bnn_errors import CorruptDataError, DataNotFoundError, InvalidInputError
from trainers.data import Split, TensorSplit, find_data_root, load_cifar10
from trainers.data import _cifar as cifar_module
from trainers.data._augment import CIFAR10_MEAN, CIFAR10_STD
from trainers.data._tar import read_tar_gz

pytestmark = pytest.mark.usefixtures("data_env")
REPO = Path(__file__).resolve().parents[2]
Colour = Callable[[int], tuple[int, int, int]]


def _pixels(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """The stored uint8 images and labels of an in-memory split."""
    assert isinstance(split, TensorSplit)
    return split.x, split.y


def _red_label(x: torch.Tensor) -> torch.Tensor:
    """The class encoded in the red channel of the generated flat images (20 * label + 20)."""
    return ((x[:, 0].float().mean(dim=(1, 2)) - 20) / 20).round().long()


def test_archive_sizes_labels_and_pixels(cifar_archive_root: Path) -> None:
    data = load_cifar10(cifar_archive_root, val_size=8)
    assert (len(data.train), len(data.val), len(data.test)) == (32, 8, 20)
    assert data.num_classes == 10 and data.input_shape == (3, 32, 32)
    assert data.description == "CIFAR-10 (JPEG archive), 32/8/20, 3x32x32, pad-4 crop + flip"
    for split in (data.train, data.val, data.test):
        x, y = _pixels(split)
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, 32, 32)
        assert torch.equal(_red_label(x), y), "labels must follow the class folder of each image"
    assert torch.bincount(_pixels(data.test)[1]).tolist() == [2] * 10


def test_batches_are_normalized_float(cifar_archive_root: Path, class_colour: Colour) -> None:
    data = load_cifar10(cifar_archive_root, val_size=8)
    x, y = next(data.test.batches(20, shuffle=False, generator=None))
    assert x.dtype == torch.float32 and x.shape == (20, 3, 32, 32)
    expected = (torch.tensor(class_colour(int(y[0]))) / 255 - torch.tensor(CIFAR10_MEAN)) / torch.tensor(CIFAR10_STD)
    torch.testing.assert_close(x[0].mean(dim=(1, 2)), expected, atol=0.1, rtol=0)


def test_training_batches_are_augmented_and_seeded(cifar_archive_root: Path) -> None:
    data = load_cifar10(cifar_archive_root, val_size=8)

    def epoch(seed: int, train: bool) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([x for x, _ in data.train.batches(10, shuffle=True, generator=gen, train=train)])

    plain, augmented = epoch(0, False), epoch(0, True)
    assert augmented.shape == plain.shape == (32, 3, 32, 32)
    assert torch.equal(augmented, epoch(0, True))
    assert not torch.equal(augmented, plain)
    # Flat images only change where the crop shifted the zero padding in (black, i.e. -mean/std).
    black = (-torch.tensor(CIFAR10_MEAN) / torch.tensor(CIFAR10_STD)).view(3, 1, 1)
    changed = (augmented - plain).abs().amax(dim=1) > 1e-3
    torch.testing.assert_close(augmented.permute(0, 2, 3, 1)[changed], black.view(1, 3).expand(int(changed.sum()), 3))


def test_second_load_uses_the_cache(cifar_archive_root: Path, data_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []
    real = cifar_module._decode

    def counting(source: object, names: list[str]) -> torch.Tensor:
        decoded.append(len(names))
        return real(source, names)  # type: ignore[arg-type]

    monkeypatch.setattr(cifar_module, "_decode", counting)
    first = load_cifar10(cifar_archive_root, val_size=8)
    assert decoded == [40, 20]
    second = load_cifar10(cifar_archive_root, val_size=6)
    assert decoded == [40, 20], "a full load decodes once; other validation sizes reuse it"
    assert len(second.train) == 34
    assert torch.equal(_pixels(first.test)[0], _pixels(second.test)[0])
    assert [p.name.endswith("-all.pt") for p in (data_env / "cifar10").iterdir()] == [True]


def test_max_train_decodes_a_subset_and_keeps_validation(
    cifar_archive_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[int] = []
    real = cifar_module._decode

    def counting(source: object, names: list[str]) -> torch.Tensor:
        decoded.append(len(names))
        return real(source, names)  # type: ignore[arg-type]

    monkeypatch.setattr(cifar_module, "_decode", counting)
    small = load_cifar10(cifar_archive_root, max_train=5, val_size=8)
    assert decoded == [5, 8, 20] and len(small.train) == 5
    again = load_cifar10(cifar_archive_root, max_train=5, val_size=8)
    assert decoded == [5, 8, 20], "the same quick run is read back from the cache"
    full = load_cifar10(cifar_archive_root, val_size=8)
    assert torch.equal(_pixels(small.val)[0], _pixels(full.val)[0])
    assert torch.equal(_pixels(small.train)[1], _pixels(again.train)[1])


def test_image_folder_layout(cifar_folder_root: Path) -> None:
    data = load_cifar10(cifar_folder_root, val_size=10)
    assert (len(data.train), len(data.val), len(data.test)) == (20, 10, 10)
    assert data.description.startswith("CIFAR-10 (JPEG folder)")
    x, y = _pixels(data.train)
    assert torch.equal(_red_label(x), y)


def test_python_batches_exact_and_preferred(
    cifar_batches_root: tuple[Path, np.ndarray, np.ndarray], cifar_archive_root: Path
) -> None:
    root, images, labels = cifar_batches_root
    (root / "cifar10-jpg.tar.gz").write_bytes((cifar_archive_root / "cifar10-jpg.tar.gz").read_bytes())
    data = load_cifar10(root, val_size=5)
    assert data.description == "CIFAR-10 (python batches), 25/5/4, 3x32x32, pad-4 crop + flip"
    pool = torch.from_numpy(images).view(-1, 3, 32, 32)
    x, y = _pixels(data.train)
    xv, yv = _pixels(data.val)
    both = torch.cat([x, xv])
    assert sorted(map(bytes, both.flatten(1).numpy())) == sorted(map(bytes, pool.flatten(1).numpy()))
    for image, label in zip(torch.cat([x, xv]), torch.cat([y, yv]), strict=True):
        index = int(torch.nonzero((pool == image).flatten(1).all(dim=1))[0])
        assert int(labels[index]) == int(label)


def test_python_batches_refuse_foreign_objects(
    cifar_batches_root: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    root, _, _ = cifar_batches_root
    with (root / "cifar-10-batches-py" / "data_batch_3").open("wb") as f:
        pickle.dump({b"data": os.getcwd, b"labels": []}, f)
    with pytest.raises(CorruptDataError, match=r"data_batch_3: .* may not reference posix\.getcwd"):
        load_cifar10(root, val_size=5)


def test_corrupt_jpeg_is_fatal_and_named(cifar_folder_root: Path) -> None:
    (cifar_folder_root / "cifar10" / "train" / "cat" / "0001.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(CorruptDataError, match=r"train/cat/0001\.jpg"):
        load_cifar10(cifar_folder_root, val_size=10)


def test_wrong_class_folders(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "cifar10-jpg.tar.gz", "w:gz") as tar:
        for name in ("train/cats/0.jpg", "test/cats/0.jpg"):
            info = tarfile.TarInfo(name)
            tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(CorruptDataError, match="10 CIFAR-10 class folders"):
        load_cifar10(root, val_size=1)


def test_image_of_wrong_size_is_rejected(cifar_folder_root: Path) -> None:
    Image.new("RGB", (30, 32)).save(cifar_folder_root / "cifar10" / "test" / "dog" / "0000.jpg")
    with pytest.raises(CorruptDataError, match=r"test/dog/0000\.jpg .* not 32x32"):
        load_cifar10(cifar_folder_root, val_size=10)


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT])
def test_read_tar_gz_matches_tarfile(tmp_path: Path, tar_format: int) -> None:
    files = {
        "train/cat/0001.jpg": b"abc",
        "train/cat/empty.jpg": b"",
        "test/dog/0002.JPG": bytes(range(256)) * 3,
        "notes.txt": b"skipped by suffix",
        # Longer than the 100-byte name field: a ustar prefix, a GNU long-name header, or a pax header.
        "long/" + "d" * 120 + "/0003.jpg": b"long name",
    }
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz", format=tar_format) as tar:
        folder = tarfile.TarInfo("train")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = read_tar_gz(path, (".jpg",))
    assert {k: bytes(v) for k, v in members.items()} == {k: v for k, v in files.items() if k != "notes.txt"}


def test_read_tar_gz_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "cifar10-jpg.tar.gz"
    path.write_bytes(os.urandom(1000))
    with pytest.raises(CorruptDataError, match="cannot read archive"):
        read_tar_gz(path, (".jpg",))
    with pytest.raises(CorruptDataError, match="cannot read archive"):
        load_cifar10(tmp_path, val_size=1)


def test_bad_arguments_and_missing_data(cifar_archive_root: Path) -> None:
    with pytest.raises(InvalidInputError, match="val_size"):
        load_cifar10(cifar_archive_root, val_size=40)
    with pytest.raises(InvalidInputError, match="val_size"):
        load_cifar10(cifar_archive_root, val_size=0)
    with pytest.raises(InvalidInputError, match="max_train"):
        load_cifar10(cifar_archive_root, max_train=0)
    with pytest.raises(DataNotFoundError, match="cifar-10-batches-py"):
        load_cifar10()


def test_real_archive_quick_run(data_env: Path) -> None:
    root = find_data_root(REPO.parent / "shared" / "data", marker="cifar10-jpg.tar.gz")
    start = time.perf_counter()
    data = load_cifar10(root, max_train=2000)
    first = time.perf_counter() - start
    start = time.perf_counter()
    load_cifar10(root, max_train=2000)
    second = time.perf_counter() - start
    print(f"real CIFAR-10 archive, max_train=2000: first load {first:.2f} s, cached load {second:.3f} s")
    assert (len(data.train), len(data.val), len(data.test)) == (2000, 5000, 10000)
    assert torch.bincount(_pixels(data.test)[1]).tolist() == [1000] * 10
    assert torch.bincount(_pixels(data.train)[1], minlength=10).min() > 150
    x = next(data.test.batches(10000, shuffle=False, generator=None))[0]
    # The JPEG export's channel statistics match CIFAR-10's to within a few hundredths.
    torch.testing.assert_close(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=0.05, rtol=0)
    torch.testing.assert_close(x.std(dim=(0, 2, 3)), torch.ones(3), atol=0.05, rtol=0)
    assert not any(data_env.rglob("*.jpg")), "nothing is unpacked"
    assert first < 30 and second < 2
