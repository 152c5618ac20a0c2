"""The in-memory split, the task bundle, and the batched augmentation and normalization."""

from __future__ import annotations

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bnn_errors import InvalidInputError
from trainers.data import Split, TaskData, TensorSplit
from trainers.data._augment import CIFAR10_MEAN, CIFAR10_STD, ChannelNormalize, RandomCropFlip


def _split(n: int = 10, num_classes: int = 3) -> TensorSplit:
    x = torch.arange(n * 2, dtype=torch.float32).reshape(n, 2)
    return TensorSplit(x, torch.arange(n) % num_classes, num_classes)


@given(n=st.integers(0, 40), batch_size=st.integers(1, 17), shuffle=st.booleans())
@settings(max_examples=60, deadline=None)
def test_every_example_once_and_last_partial_batch_kept(n: int, batch_size: int, shuffle: bool) -> None:
    split = _split(n)
    batches = list(split.batches(batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(1)))
    assert [len(y) for _, y in batches] == [min(batch_size, n - s) for s in range(0, n, batch_size)]
    seen = torch.cat([x[:, 0] for x, _ in batches]) if batches else torch.empty(0)
    assert sorted((seen / 2).long().tolist()) == list(range(n))
    for x, y in batches:
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert torch.equal(y, (x[:, 0] / 2).long() % 3)  # x and y stay paired


def test_shuffle_is_seeded_and_unshuffled_order_is_fixed() -> None:
    split = _split(50)

    def order(shuffle: bool, seed: int) -> list[int]:
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([y for _, y in split.batches(8, shuffle=shuffle, generator=gen)]).tolist()

    assert order(True, 3) == order(True, 3)
    assert order(True, 3) != order(True, 4)
    assert order(False, 3) == order(False, 4) == (torch.arange(50) % 3).tolist()


def test_uint8_images_are_augmented_only_in_training_and_normalized() -> None:
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    calls: list[int] = []

    def augment(batch: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        calls.append(len(batch))
        return batch.flip(-1)

    norm = ChannelNormalize(CIFAR10_MEAN, CIFAR10_STD)
    split = TensorSplit(x, torch.zeros(6, dtype=torch.int64), 2, augment=augment, normalize=norm)
    ((xe, _),) = split.batches(6, shuffle=False, generator=None)
    ((xt, _),) = split.batches(6, shuffle=False, generator=None, train=True)
    assert calls == [6]
    assert xe.dtype == torch.float32
    torch.testing.assert_close(xe, norm(x))
    torch.testing.assert_close(xt, norm(x.flip(-1)))


def test_without_normalize_uint8_is_cast_to_float() -> None:
    x = torch.tensor([[0, 255]], dtype=torch.uint8)
    ((xb, _),) = TensorSplit(x, torch.tensor([0]), 1).batches(4, shuffle=False, generator=None)
    assert xb.dtype == torch.float32 and xb.tolist() == [[0.0, 255.0]]


@pytest.mark.parametrize(
    ("x", "y", "num_classes", "match"),
    [
        (torch.zeros(3, 2), torch.zeros(4, dtype=torch.int64), 2, "same length"),
        (torch.zeros(3, 2), torch.zeros(3), 2, "integer"),
        (torch.zeros(3, 2), torch.tensor([0, 1, 2]), 2, r"\[0, 2\)"),
        (torch.zeros(3, 2), torch.tensor([0, -1, 1]), 2, r"\[0, 2\)"),
        (torch.zeros(3, 2), torch.tensor([0, 0, 0]), 0, "num_classes"),
    ],
)
def test_tensor_split_rejects_bad_input(x: torch.Tensor, y: torch.Tensor, num_classes: int, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        TensorSplit(x, y, num_classes)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_bad_batch_size(batch_size: object) -> None:
    with pytest.raises(InvalidInputError, match="batch_size"):
        next(_split().batches(batch_size, shuffle=False, generator=None))  # type: ignore[arg-type]


def test_sample_is_a_seeded_random_subset_with_the_same_transforms() -> None:
    # labels ordered by class, as the stored image splits are: the head would hold one class only
    x = torch.arange(100, dtype=torch.float32).view(100, 1)
    split = TensorSplit(x, torch.arange(100) // 10, 10, normalize=ChannelNormalize([0.0], [1.0], scale=1.0))
    sample = split.sample(20)
    assert len(sample) == 20 and len(set(sample.x.view(-1).tolist())) == 20
    assert len(set(sample.y.tolist())) > 1
    assert torch.equal(sample.y, sample.x.view(-1).long() // 10)  # examples keep their labels
    assert sample.normalize is split.normalize and sample.augment is split.augment
    assert torch.equal(split.sample(20).x, sample.x) and not torch.equal(split.sample(20, seed=1).x, sample.x)
    assert split.sample(100) is split and split.sample(500) is split
    with pytest.raises(InvalidInputError, match="n >= 1"):
        split.sample(0)


def test_split_is_the_abstract_interface() -> None:
    assert isinstance(_split(), Split)
    with pytest.raises(TypeError):
        Split()  # type: ignore[abstract]


def test_task_data_checks_class_counts() -> None:
    ok = TaskData(_split(), _split(), _split(), 3, (2,), "toy")
    assert ok.num_classes == 3
    with pytest.raises(InvalidInputError, match="val split has 4 classes"):
        TaskData(_split(), _split(num_classes=4), _split(), 3, (2,), "toy")


def _all_crops(image: torch.Tensor, padding: int) -> list[torch.Tensor]:
    padded = torch.nn.functional.pad(image, (padding,) * 4)
    h, w = image.shape[-2:]
    crops = []
    for top in range(2 * padding + 1):
        for left in range(2 * padding + 1):
            crop = padded[:, top : top + h, left : left + w]
            crops += [crop, crop.flip(-1)]
    return crops


def test_random_crop_flip_gives_padded_crops_seeded() -> None:
    x = torch.randint(1, 256, (16, 3, 6, 5), dtype=torch.uint8)
    aug = RandomCropFlip(padding=2)
    out = aug(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, aug(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, aug(x, torch.Generator().manual_seed(1)))
    for image, crop in zip(x, out, strict=True):
        assert any(torch.equal(crop, c) for c in _all_crops(image, 2))
    # With 16 images some crops must be shifted (zeros appear) and some flipped.
    assert (out == 0).any()
    flipped = [any(torch.equal(o, c) for c in _all_crops(i, 2)[1::2]) for i, o in zip(x, out, strict=True)]
    assert 0 < sum(flipped) < 16


def test_random_crop_flip_without_padding_only_flips() -> None:
    x = torch.rand(8, 1, 4, 4)
    out = RandomCropFlip(padding=0)(x, torch.Generator().manual_seed(5))
    for image, crop in zip(x, out, strict=True):
        assert torch.equal(crop, image) or torch.equal(crop, image.flip(-1))


def test_augment_rejects_non_image_batches() -> None:
    with pytest.raises(InvalidInputError):
        RandomCropFlip()(torch.zeros(2, 3), None)
    with pytest.raises(InvalidInputError):
        RandomCropFlip(padding=-1)


def test_channel_normalize_maps_pixels_and_pickles() -> None:
    norm = ChannelNormalize((0.5, 0.25), (0.5, 0.25))
    x = torch.tensor([0, 255], dtype=torch.uint8).view(1, 2, 1, 1).expand(1, 2, 1, 2)
    out = norm(x)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([-1.0, 3.0]))
    clone = pickle.loads(pickle.dumps(norm))
    torch.testing.assert_close(clone(x), out)
    with pytest.raises(InvalidInputError):
        ChannelNormalize((0.5,), (0.0,))
