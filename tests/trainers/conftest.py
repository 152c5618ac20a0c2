"""Fixtures that build small real data files: wav recordings, JPEG folders and archives, CIFAR batches."""

from __future__ import annotations

import io
import math
import pickle
import tarfile
import wave
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
WavWriter = Callable[..., Path]


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache (``$BNN_TUNE_CACHE``) and a working directory where no data root is found by accident.

    Returns the cache directory.
    """
    cache = tmp_path / "cache"
    monkeypatch.setenv("BNN_TUNE_CACHE", str(cache))
    monkeypatch.delenv("BNN_TUNE_DATA", raising=False)
    cwd = tmp_path / "sandbox" / "project"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    return cache


def _write_wav(path: Path, samples: np.ndarray, rate: int, *, width: int = 2) -> Path:
    """Write float samples in [-1, 1] (shape ``(n,)`` or ``(n, channels)``) as PCM of ``width`` bytes."""
    frames = samples if samples.ndim == 2 else samples[:, None]
    if width == 1:
        data = np.clip(np.round(frames * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    elif width == 2:
        data = np.clip(np.round(frames * 32767), -32768, 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = np.clip(np.round(frames * (2**23 - 1)), -(2**23), 2**23 - 1).astype("<i4")
        data = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        data = np.clip(np.round(frames * (2**31 - 1)), -(2**31), 2**31 - 1).astype("<i4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(data)
    return path


def _tone(digit: int, take: int, rate: int) -> np.ndarray:
    """A "spoken digit": a sine at 300 + 150 * digit Hz, 0.3 s to 1.4 s long depending on the take."""
    seconds = 0.3 + 0.1 * (take % 12)
    t = np.arange(round(seconds * rate)) / rate
    envelope = np.sin(np.pi * t / seconds)
    return (0.5 * envelope * np.sin(2 * math.pi * (300 + 150 * digit) * t)).astype(np.float32)


@pytest.fixture
def write_wav() -> WavWriter:
    """``write_wav(path, samples, rate, width=2)`` -> path: a PCM wav written with the ``wave`` module."""
    return _write_wav


def _build_recordings(
    folder: Path,
    *,
    digits: Iterable[int] = (0, 1, 2),
    speakers: Iterable[str] = ("ann", "bob", "cat"),
    takes: Iterable[int] = (0, 1, 5, 10, 11, 12),
    rate: int = 8000,
    subfolder: Callable[[str], str] | None = None,
) -> list[Path]:
    """Tone recordings ``{digit}_{speaker}_{take}.wav`` in ``folder`` (or ``folder / subfolder(speaker)``)."""
    paths = []
    for speaker in speakers:
        where = folder / subfolder(speaker) if subfolder else folder
        for digit in digits:
            for take in takes:
                paths.append(_write_wav(where / f"{digit}_{speaker}_{take}.wav", _tone(digit, take, rate), rate))
    return paths


@pytest.fixture
def make_recordings() -> Callable[..., list[Path]]:
    """``make_recordings(folder, digits=, speakers=, takes=, rate=, subfolder=)``: tone recordings."""
    return _build_recordings


@pytest.fixture
def make_tone() -> Callable[[int, int, int], np.ndarray]:
    """``make_tone(digit, take, rate)``: the float samples of one tone recording."""
    return _tone


@pytest.fixture
def fsdd_root(tmp_path: Path) -> Path:
    """A data root with ``fsdd/recordings``: digits 0-2 by speakers ann, bob, cat, takes 0 1 5 10 11 12."""
    root = tmp_path / "data-fsdd"
    _build_recordings(root / "fsdd" / "recordings")
    return root


def _jpeg_bytes(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, quality=95)
    return buf.getvalue()


def _class_colour(label: int) -> tuple[int, int, int]:
    """A flat colour that identifies a class after lossy JPEG coding (red channel 20 * label + 20)."""
    return (20 * label + 20, 128, 255 - 20 * label)


def _cifar_images(per_class: dict[str, int]) -> list[tuple[str, bytes]]:
    """(archive name, JPEG bytes) of flat 32x32 images in the class colour."""
    items = []
    for split, count in per_class.items():
        for label, name in enumerate(CIFAR_CLASSES):
            for i in range(count):
                img = Image.new("RGB", (32, 32), _class_colour(label))
                items.append((f"{split}/{name}/{i:04d}.jpg", _jpeg_bytes(img)))
    return items


@pytest.fixture
def class_colour() -> Callable[[int], tuple[int, int, int]]:
    """``class_colour(label)``: the flat RGB colour of the generated images of a class."""
    return _class_colour


@pytest.fixture
def cifar_archive_root(tmp_path: Path) -> Path:
    """A data root with ``cifar10-jpg.tar.gz``: 4 train and 2 test flat-colour JPEGs per class."""
    root = tmp_path / "data-cifar-archive"
    root.mkdir()
    with tarfile.open(root / "cifar10-jpg.tar.gz", "w:gz") as tar:
        for name, data in _cifar_images({"train": 4, "test": 2}):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return root


@pytest.fixture
def cifar_folder_root(tmp_path: Path) -> Path:
    """A data root with an unpacked ``cifar10/train/<class>/*.jpg`` and ``cifar10/test/<class>/*.jpg``."""
    root = tmp_path / "data-cifar-folder"
    for name, data in _cifar_images({"train": 3, "test": 1}):
        path = root / "cifar10" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def cifar_batches_root(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A data root with ``cifar-10-batches-py`` (5 train batches of 6 random images, a test batch of 4).

    Returns (root, train images N x 3072, train labels) to compare against.
    """
    root = tmp_path / "data-cifar-batches"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images, labels = [], []
    for i in range(1, 7):
        n = 4 if i == 6 else 6
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        batch_labels = [int(v) for v in rng.integers(0, 10, size=n)]
        name = "test_batch" if i == 6 else f"data_batch_{i}"
        with (folder / name).open("wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": batch_labels}, f, protocol=2)
        if i < 6:
            images.append(data)
            labels.extend(batch_labels)
    return root, np.concatenate(images), np.asarray(labels)


@pytest.fixture
def imagenet_root(tmp_path: Path) -> Path:
    """A data root with ``imagenet/train`` (3 classes x 3 images of different sizes) and ``imagenet/val``."""
    root = tmp_path / "data-imagenet"
    sizes = [(40, 30), (23, 57), (64, 64)]
    for split, count in (("train", 3), ("val", 2)):
        for label, name in enumerate(("n01", "n02", "n03")):
            folder = root / "imagenet" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                img = Image.new("RGB", sizes[i], _class_colour(label))
                fmt, suffix = ("PNG", ".png") if i == 2 else ("JPEG", ".JPEG")
                (folder / f"img{i}{suffix}").write_bytes(_jpeg_bytes(img, fmt))
    return root


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch at one intra-op thread for the test, the previous count restored after it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
