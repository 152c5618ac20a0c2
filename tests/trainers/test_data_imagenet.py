"""The ImageNet folder loader on a small generated folder of JPEG and PNG images of different sizes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bnn_errors import CorruptDataError, DataNotFoundError, InvalidInputError
from trainers.data import ImageFolderSplit, load_imagenet, load_task_data
from trainers.data._augment import IMAGENET_MEAN, IMAGENET_STD
from trainers.data._imagenet import CROP_RATIO, CROP_TRIES, _random_resized_box

pytestmark = pytest.mark.usefixtures("data_env")
Colour = Callable[[int], tuple[int, int, int]]


def _epoch(split: object, *, seed: int, train: bool, batch_size: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    assert isinstance(split, ImageFolderSplit)
    gen = torch.Generator().manual_seed(seed)
    batches = list(split.batches(batch_size, shuffle=True, generator=gen, train=train))
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


def test_batches_have_the_image_size_and_labels(imagenet_root: Path, class_colour: Colour) -> None:
    data = load_imagenet(imagenet_root, image_size=32)
    assert (len(data.train), len(data.val), len(data.test)) == (9, 6, 6)
    assert data.num_classes == 3 and data.input_shape == (3, 32, 32)
    assert data.test is data.val and "(val as test)" in data.description
    sizes = [len(y) for _, y in data.train.batches(4, shuffle=False, generator=None, train=True)]
    assert sizes == [4, 4, 1]
    for train in (False, True):
        x, y = _epoch(data.train, seed=0, train=train)
        assert x.shape == (9, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
        assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
        # Flat images keep their class colour through any crop, resize and flip.
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3)
        std = torch.tensor(IMAGENET_STD).view(1, 3)
        expected = (torch.tensor([class_colour(int(c)) for c in y]) / 255 - mean) / std
        torch.testing.assert_close(x.mean(dim=(2, 3)), expected, atol=0.06, rtol=0)


def test_training_crops_are_seeded_and_random(tmp_path: Path) -> None:
    folder = tmp_path / "root" / "imagenet"
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (folder / split / "a").mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, size=(48, 40 + 8 * i, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / split / "a" / f"{i}.png")
    data = load_imagenet(tmp_path / "root", image_size=16)
    a, _ = _epoch(data.train, seed=1, train=True)
    assert torch.equal(a, _epoch(data.train, seed=1, train=True)[0])
    assert not torch.equal(a, _epoch(data.train, seed=2, train=True)[0])
    plain = torch.cat([x for x, _ in data.val.batches(3, shuffle=False, generator=None)])
    assert torch.equal(plain, torch.cat([x for x, _ in data.val.batches(2, shuffle=False, generator=None)]))


def test_separate_test_folder_and_max_train(imagenet_root: Path) -> None:
    shutil.copytree(imagenet_root / "imagenet" / "val", imagenet_root / "imagenet" / "test")
    (imagenet_root / "imagenet" / "test" / "n02" / "img0.JPEG").unlink()
    data = load_imagenet(imagenet_root, image_size=24, max_train=4)
    assert data.test is not data.val
    assert (len(data.train), len(data.val), len(data.test)) == (4, 6, 5)
    again = load_imagenet(imagenet_root, image_size=24, max_train=4)
    assert isinstance(data.train, ImageFolderSplit) and isinstance(again.train, ImageFolderSplit)
    assert data.train.files == again.train.files
    assert load_task_data("imagenet", imagenet_root, max_train=2).input_shape == (3, 224, 224)


def test_corrupt_image_raises_when_its_batch_is_read(imagenet_root: Path) -> None:
    bad = imagenet_root / "imagenet" / "val" / "n03" / "img1.JPEG"
    bad.write_bytes(b"garbage")
    data = load_imagenet(imagenet_root, image_size=16)
    with pytest.raises(CorruptDataError, match=r"n03/img1\.JPEG"):
        list(data.val.batches(6, shuffle=False, generator=None))


def test_layout_errors(imagenet_root: Path, tmp_path: Path) -> None:
    (imagenet_root / "imagenet" / "val" / "n99").mkdir()
    with pytest.raises(CorruptDataError, match="n99"):
        load_imagenet(imagenet_root)
    shutil.rmtree(imagenet_root / "imagenet" / "val")
    with pytest.raises(DataNotFoundError, match="val"):
        load_imagenet(imagenet_root)
    with pytest.raises(DataNotFoundError, match="ImageNet"):
        load_imagenet(tmp_path / "elsewhere")
    with pytest.raises(InvalidInputError, match="image_size"):
        load_imagenet(imagenet_root, image_size=4)
    with pytest.raises(InvalidInputError, match="max_train"):
        load_imagenet(imagenet_root, max_train=0)


@given(
    width=st.integers(1, 400),
    height=st.integers(1, 400),
    draws=st.lists(st.floats(0, 0.999999), min_size=4 * CROP_TRIES, max_size=4 * CROP_TRIES),
)
@settings(max_examples=200, deadline=None)
def test_random_resized_box_stays_inside_with_allowed_aspect(width: int, height: int, draws: list[float]) -> None:
    left, top, right, bottom = _random_resized_box((width, height), np.asarray(draws))
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    w, h = right - left, bottom - top
    aspect = w / h
    # Rounding to whole pixels moves a small box's aspect; an image already within the range is taken whole.
    if min(w, h) >= 20 and (w, h) != (width, height):
        assert CROP_RATIO[0] * 0.9 <= aspect <= CROP_RATIO[1] * 1.1
