"""The large-image task: an ImageNet-style folder read lazily, decoding each batch with PIL."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from bnn_errors import CorruptDataError, DataNotFoundError, InvalidInputError
from trainers.data._augment import IMAGENET_MEAN, IMAGENET_STD, ChannelNormalize
from trainers.data._locate import find_data_root
from trainers.data._splits import Split, TaskData, check_batch_size, permutation, resolve_device

__all__ = ["ImageFolderSplit", "load_imagenet"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Random-resized-crop as in the usual ImageNet recipe: area share, aspect range, tries before the centre
# fallback.
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
CROP_TRIES = 10
# Evaluation resizes the short side to image_size / 0.875 (256 for 224) and takes the centre.
EVAL_CROP_SHARE = 0.875
SUBSET_SEED = 0


def load_imagenet(
    data_dir: str | os.PathLike[str] | None = None, *, max_train: int | None = None, image_size: int = 224
) -> TaskData:
    """ImageNet from ``<root>/imagenet/train/<class>/*`` and ``<root>/imagenet/val/<class>/*`` (JPEG or PNG).

    Classes are the sorted folder names of ``train/``. Images are decoded per batch (nothing is held in
    memory): training batches get a random-resized crop (area 8-100 %, aspect 3/4-4/3) and a horizontal flip,
    evaluation batches a resize of the short side to ``image_size / 0.875`` and a centre crop; all use the
    ImageNet mean/std. ``val/`` doubles as the test split unless ``<root>/imagenet/test/<class>/*`` exists
    (ImageNet's own test labels are not public; tuning then selects on the same images it reports).
    ``max_train`` keeps the first ``max_train`` of a permutation of the training files seeded with 0.

    Raises:
        DataNotFoundError: no data root holds ``imagenet/train``, ``val/`` is missing, or a split has no
            images.
        CorruptDataError: ``val/`` or ``test/`` has a class folder that ``train/`` lacks; an image that cannot
            be decoded raises it later, from :meth:`ImageFolderSplit.batches`, naming the file.
        InvalidInputError: ``max_train`` below 1 or ``image_size`` below 8.
    """
    if max_train is not None and (isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1):
        raise InvalidInputError(f"max_train must be None or a positive int, got {max_train!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise InvalidInputError(f"image_size must be an int >= 8, got {image_size!r}")
    folder = find_data_root(data_dir, marker="imagenet/train") / "imagenet"
    classes = sorted(p.name for p in (folder / "train").iterdir() if p.is_dir())
    if not (folder / "val").is_dir():
        raise DataNotFoundError(f"{folder / 'val'} is missing: ImageNet needs val/<class>/* next to train/")
    train_files, train_y = _list_images(folder / "train", classes)
    if max_train is not None:
        keep = torch.randperm(len(train_files), generator=torch.Generator().manual_seed(SUBSET_SEED))[:max_train]
        keep = keep.sort().values
        train_files, train_y = [train_files[i] for i in keep.tolist()], train_y[keep]
    val_files, val_y = _list_images(folder / "val", classes)
    train = ImageFolderSplit(train_files, train_y, len(classes), image_size)
    val = ImageFolderSplit(val_files, val_y, len(classes), image_size)
    test = val
    if (folder / "test").is_dir():
        test_files, test_y = _list_images(folder / "test", classes)
        test = ImageFolderSplit(test_files, test_y, len(classes), image_size)
    test_note = "" if test is not val else " (val as test)"
    return TaskData(
        train=train,
        val=val,
        test=test,
        num_classes=len(classes),
        input_shape=(3, image_size, image_size),
        description=(
            f"ImageNet folder, {len(classes)} classes, {len(train)}/{len(val)}/{len(test)}{test_note}, "
            f"3x{image_size}x{image_size}, random-resized crop + flip"
        ),
    )


def _list_images(folder: Path, classes: list[str]) -> tuple[list[Path], Tensor]:
    """Image files of ``folder/<class>/`` sorted by (class, name), with their labels."""
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    unknown = sorted(set(present) - set(classes))
    if unknown:
        raise CorruptDataError(f"{folder} has class folders that train/ lacks: {unknown[:5]}")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        if not (folder / name).is_dir():
            continue
        found = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        files.extend(found)
        labels.extend([label] * len(found))
    if not files:
        raise DataNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}/<class>/")
    return files, torch.tensor(labels, dtype=torch.int64)


class ImageFolderSplit(Split):
    """A split of image files decoded with PIL batch by batch, on a small thread pool (PIL releases the GIL).

    The random crop and flip parameters are drawn from the batch's generator in the calling thread, before
    decoding, so a seeded generator reproduces the batches whatever the thread scheduling.

    Args:
        files: the image files, in the split's fixed order.
        labels: one label per file in ``[0, num_classes)``.
        num_classes: the number of classes.
        image_size: the side of the square crops.
        workers: decoding threads (default: up to 8, at most the CPU count).
    """

    def __init__(
        self, files: list[Path], labels: Tensor, num_classes: int, image_size: int, workers: int | None = None
    ) -> None:
        if len(files) != labels.numel():
            raise InvalidInputError(f"{len(files)} files but {labels.numel()} labels")
        self.files = files
        self.labels = labels.to(torch.int64)
        self._num_classes = num_classes
        self.image_size = image_size
        self.workers = workers if workers is not None else max(1, min(8, os.cpu_count() or 1))
        self.normalize = ChannelNormalize(IMAGENET_MEAN, IMAGENET_STD)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def num_classes(self) -> int:
        return self._num_classes

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool,
        generator: torch.Generator | None,
        device: torch.device | str = "cpu",
        train: bool = False,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of decoded ``(x, y)`` batches on ``device``; the last partial batch is kept.

        Raises:
            InvalidInputError: ``batch_size`` is below 1.
            CorruptDataError: an image cannot be decoded (names the file).
        """
        check_batch_size(batch_size)
        dev = resolve_device(device)
        n = len(self)
        order = permutation(n, generator).cpu() if shuffle else torch.arange(n)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                if train:
                    rng_device = generator.device if generator is not None else torch.device("cpu")
                    draws = torch.rand(len(idx), 4 * CROP_TRIES + 1, generator=generator, device=rng_device)
                    rows: list[np.ndarray | None] = list(draws.cpu().double().numpy())
                else:
                    rows = [None] * len(idx)
                paths = [self.files[i] for i in idx.tolist()]
                images = list(pool.map(self._load, paths, rows))
                x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(dev)
                yield self.normalize(x), self.labels[idx].to(dev)

    def _load(self, path: Path, draws: np.ndarray | None) -> np.ndarray:
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise CorruptDataError(f"cannot decode image {path}: {exc}") from exc
        size = self.image_size
        if draws is None:
            short = round(size / EVAL_CROP_SHARE)
            w, h = rgb.size
            scale = short / min(w, h)
            rgb = rgb.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR)
            w, h = rgb.size
            left, top = (w - size) // 2, (h - size) // 2
            return np.asarray(rgb.crop((left, top, left + size, top + size)))
        box = _random_resized_box(rgb.size, draws[:-1])
        out = rgb.resize((size, size), Image.Resampling.BILINEAR, box=box)
        if draws[-1] < 0.5:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return np.asarray(out)


def _random_resized_box(size: tuple[int, int], draws: np.ndarray) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) crop of the random-resized-crop recipe, from 4 uniforms per try."""
    width, height = size
    area = width * height
    log_lo, log_hi = math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])
    for t in range(CROP_TRIES):
        u_area, u_ratio, u_top, u_left = draws[4 * t : 4 * t + 4]
        target = area * (CROP_SCALE[0] + (CROP_SCALE[1] - CROP_SCALE[0]) * u_area)
        ratio = math.exp(log_lo + (log_hi - log_lo) * u_ratio)
        w = round(math.sqrt(target * ratio))
        h = round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            top = min(int(u_top * (height - h + 1)), height - h)
            left = min(int(u_left * (width - w + 1)), width - w)
            return left, top, left + w, top + h
    # No try fitted (an extreme aspect ratio): the largest centred crop with an allowed aspect ratio.
    aspect = width / height
    if aspect < CROP_RATIO[0]:
        w, h = width, round(width / CROP_RATIO[0])
    elif aspect > CROP_RATIO[1]:
        w, h = round(height * CROP_RATIO[1]), height
    else:
        w, h = width, height
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h
