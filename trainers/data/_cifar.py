"""The image task: CIFAR-10 from the python batches, a JPEG folder or the JPEG archive, held as uint8."""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from bnn_errors import CorruptDataError, InvalidInputError
from trainers.data._augment import CIFAR10_MEAN, CIFAR10_STD, ChannelNormalize, RandomCropFlip
from trainers.data._cache import cache_key, cache_path, load_cached, save_cached, scan_files
from trainers.data._locate import find_first_marker
from trainers.data._splits import TaskData, TensorSplit
from trainers.data._tar import read_tar_gz

__all__ = ["CIFAR10_CLASSES", "load_cifar10"]

# Alphabetical, which is also the label order of the python batches.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SIZE = 32
# Seed of the permutation that picks the validation images (its first val_size) and the max_train subset.
SUBSET_SEED = 0

_PYTHON_BATCHES = "cifar-10-batches-py"
_ARCHIVE = "cifar10-jpg.tar.gz"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Within one data root the lossless python batches win over the JPEG versions.
_MARKERS = (_PYTHON_BATCHES, "cifar10/train", "cifar10-jpg/train", _ARCHIVE)


def load_cifar10(
    data_dir: str | os.PathLike[str] | None = None, *, max_train: int | None = None, val_size: int = 5000
) -> TaskData:
    """CIFAR-10: 32x32 RGB images of 10 classes, with a fixed validation subset of the training set.

    Looked for under each data root (in :func:`find_data_root` order) as, first to last:
    ``cifar-10-batches-py/`` (the python batches: ``data_batch_1..5``, ``test_batch``), an image folder
    ``cifar10/`` or ``cifar10-jpg/`` with ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, or the archive
    ``cifar10-jpg.tar.gz`` with that layout. JPEGs are decoded once (straight from the archive's stream,
    nothing is unpacked) and the uint8 ``N x 3 x 32 x 32`` tensors are cached under :func:`cache_dir`, so
    later loads only read that file. The JPEG versions are lossy (about quality 75): accuracies are close to,
    not equal to, those on the original images.

    The validation split is the first ``val_size`` images of a permutation of the 50,000 training images
    seeded with 0; train is the rest, or with ``max_train`` the next ``max_train`` of that permutation (for
    quick runs; only the chosen images are decoded, and the validation set does not depend on ``max_train``).
    The test split is the 10,000 test images. Training batches (``train=True``) get a pad-4 random crop and a
    horizontal flip; every split is normalized with the CIFAR-10 channel mean and std.

    Raises:
        DataNotFoundError: no data root holds CIFAR-10 in any of the layouts.
        CorruptDataError: a file cannot be decoded (this is fatal: a cached tensor must be complete), an image
            is not 32x32, or the class folders are not the 10 CIFAR-10 classes.
        InvalidInputError: ``max_train`` below 1, or ``val_size`` not in ``[1, number of training images)``.
    """
    if max_train is not None and (isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1):
        raise InvalidInputError(f"max_train must be None or a positive int, got {max_train!r}")
    if isinstance(val_size, bool) or not isinstance(val_size, int) or val_size < 1:
        raise InvalidInputError(f"val_size must be a positive int, got {val_size!r}")
    root, marker = find_first_marker(data_dir, _MARKERS, what="CIFAR-10")
    location = root / marker
    if marker == _PYTHON_BATCHES:
        kind, data = "python batches", _from_python_batches(location, val_size, max_train)
    elif marker == _ARCHIVE:
        kind, data = "JPEG archive", _from_jpegs(_ArchiveSource(location), val_size, max_train)
    else:
        kind, data = "JPEG folder", _from_jpegs(_FolderSource(location.parent), val_size, max_train)

    normalize = ChannelNormalize(CIFAR10_MEAN, CIFAR10_STD)
    train = TensorSplit(data["train_x"], data["train_y"], 10, augment=RandomCropFlip(4), normalize=normalize)
    val = TensorSplit(data["val_x"], data["val_y"], 10, normalize=normalize)
    test = TensorSplit(data["test_x"], data["test_y"], 10, normalize=normalize)
    return TaskData(
        train=train,
        val=val,
        test=test,
        num_classes=10,
        input_shape=(3, SIZE, SIZE),
        description=f"CIFAR-10 ({kind}), {len(train)}/{len(val)}/{len(test)}, 3x32x32, pad-4 crop + flip",
    )


def _choose(n_pool: int, val_size: int, max_train: int | None) -> tuple[Tensor, Tensor]:
    """(train, validation) indices into the training pool, each sorted."""
    if val_size >= n_pool:
        raise InvalidInputError(f"val_size must be below the {n_pool} training images, got {val_size}")
    order = torch.randperm(n_pool, generator=torch.Generator().manual_seed(SUBSET_SEED))
    val, rest = order[:val_size], order[val_size:]
    train = rest if max_train is None else rest[:max_train]
    return train.sort().values, val.sort().values


# --- the python batches -------------------------------------------------------------------------------------


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR batch holds (numpy arrays, lists, bytes): no other global can be loaded."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"a CIFAR batch may not reference {module}.{name}")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as f:
            # The python version of CIFAR-10 ships as pickles; this reads only that local format.
            batch = _BatchUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, SIZE, SIZE)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as exc:
        raise CorruptDataError(f"cannot read CIFAR batch {path}: {exc}") from exc
    if len(data) != len(labels) or (labels.size and not 0 <= labels.min() <= labels.max() < 10):
        raise CorruptDataError(f"CIFAR batch {path} has {len(data)} images, {len(labels)} labels in 0-9")
    return data, labels


def _from_python_batches(folder: Path, val_size: int, max_train: int | None) -> dict[str, Tensor]:
    parts = [_read_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    pool_x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    pool_y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    test_x, test_y = _read_batch(folder / "test_batch")
    train_idx, val_idx = _choose(len(pool_y), val_size, max_train)
    return {
        "train_x": pool_x[train_idx],
        "train_y": pool_y[train_idx],
        "val_x": pool_x[val_idx],
        "val_y": pool_y[val_idx],
        "test_x": torch.from_numpy(test_x),
        "test_y": torch.from_numpy(test_y),
    }


# --- the JPEG versions --------------------------------------------------------------------------------------


class _ArchiveSource:
    """JPEGs read from the archive in memory: nothing is unpacked (tens of thousands of tiny files are slow to
    create on some file systems, a minute here, while reading them from the archive takes a second or two)."""

    def __init__(self, archive: Path) -> None:
        self.path = archive
        self._members: dict[str, bytes | memoryview] | None = None

    def fingerprint(self) -> object:
        stat = self.path.stat()
        return ["archive", self.path.name, stat.st_size, stat.st_mtime_ns]

    def names(self) -> list[str]:
        return list(self._read_all())

    def read(self, names: Iterable[str]) -> list[bytes | memoryview]:
        members = self._read_all()
        return [members[n] for n in names]

    def _read_all(self) -> dict[str, bytes | memoryview]:
        if self._members is None:
            self._members = read_tar_gz(self.path, _IMAGE_SUFFIXES)
        return self._members


class _FolderSource:
    """JPEGs in an unpacked ``train/<class>/``, ``test/<class>/`` folder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder
        self._rows = [
            (f"{sub}/{name}", size, mtime)
            for sub in ("train", "test")
            if (folder / sub).is_dir()
            for name, size, mtime in scan_files(folder / sub, _IMAGE_SUFFIXES)
        ]

    def fingerprint(self) -> object:
        return ["folder", self._rows]

    def names(self) -> list[str]:
        return [name for name, _, _ in self._rows]

    def read(self, names: Iterable[str]) -> list[bytes | memoryview]:
        return [(self.path / n).read_bytes() for n in names]


def _index(names: list[str], source: Path) -> tuple[list[str], Tensor, list[str], Tensor]:
    """Sorted train and test names with their labels, from ``.../<train|test>/<class>/<file>`` paths."""
    pools: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    for name in names:
        parts = name.split("/")
        if len(parts) >= 3 and parts[-3] in pools:
            pools[parts[-3]].append((parts[-2], name))
    out: list[Any] = []
    for pool, items in pools.items():
        classes = sorted({c for c, _ in items})
        if classes != sorted(CIFAR10_CLASSES):
            raise CorruptDataError(
                f"{source}: {pool}/ must hold the 10 CIFAR-10 class folders {list(CIFAR10_CLASSES)}, found {classes}"
            )
        items.sort(key=lambda item: (item[0], item[1]))
        out.append([n for _, n in items])
        out.append(torch.tensor([CIFAR10_CLASSES.index(c) for c, _ in items], dtype=torch.int64))
    return out[0], out[1], out[2], out[3]


def _decode(source: _ArchiveSource | _FolderSource, names: list[str]) -> Tensor:
    """The named JPEGs as a uint8 ``N x 3 x 32 x 32`` tensor."""
    images = np.empty((len(names), SIZE, SIZE, 3), dtype=np.uint8)
    for i, (name, data) in enumerate(zip(names, source.read(names), strict=True)):
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                rgb = img if img.mode == "RGB" else img.convert("RGB")
                size, pixels = rgb.size, rgb.tobytes()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise CorruptDataError(f"cannot decode image {name} in {source.path}: {exc}") from exc
        if size != (SIZE, SIZE):
            raise CorruptDataError(f"image {name} in {source.path} is {size}, not 32x32")
        # tobytes + frombuffer is the cheapest copy out of PIL; this loop is most of a first load.
        images[i] = np.frombuffer(pixels, dtype=np.uint8).reshape(SIZE, SIZE, 3)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def _from_jpegs(source: _ArchiveSource | _FolderSource, val_size: int, max_train: int | None) -> dict[str, Tensor]:
    key = cache_key("cifar10-jpg", source.fingerprint())
    full_path = cache_path("cifar10", f"{key}-all")
    subset_path = cache_path("cifar10", f"{key}-val{val_size}-train{max_train}")
    full = load_cached(full_path)
    if full is None and max_train is not None:
        subset = load_cached(subset_path)
        if subset is not None:
            return subset
    if full is None:
        train_names, pool_y, test_names, test_y = _index(source.names(), source.path)
        if max_train is not None:
            # Decode only what this quick run uses, and keep it for the next quick run with the same sizes.
            train_idx, val_idx = _choose(len(train_names), val_size, max_train)
            subset = {
                "train_x": _decode(source, [train_names[i] for i in train_idx.tolist()]),
                "train_y": pool_y[train_idx],
                "val_x": _decode(source, [train_names[i] for i in val_idx.tolist()]),
                "val_y": pool_y[val_idx],
                "test_x": _decode(source, test_names),
                "test_y": test_y,
            }
            save_cached(subset_path, subset)
            return subset
        full = {
            "pool_x": _decode(source, train_names),
            "pool_y": pool_y,
            "test_x": _decode(source, test_names),
            "test_y": test_y,
        }
        save_cached(full_path, full)
    train_idx, val_idx = _choose(len(full["pool_y"]), val_size, max_train)
    return {
        "train_x": full["pool_x"][train_idx],
        "train_y": full["pool_y"][train_idx],
        "val_x": full["pool_x"][val_idx],
        "val_y": full["pool_y"][val_idx],
        "test_x": full["test_x"],
        "test_y": full["test_y"],
    }
