"""Where the data sets live: the lookup order for data roots and the on-disk cache directory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bnn_errors import DataNotFoundError

__all__ = ["DATA_ENV", "CACHE_ENV", "cache_dir", "candidate_roots", "find_data_root", "find_first_marker"]

DATA_ENV = "BNN_TUNE_DATA"
CACHE_ENV = "BNN_TUNE_CACHE"

# What to download for each marker, so that a missing data set's error tells the user how to fix it.
_DOWNLOAD_HINTS: dict[str, str] = {
    "fsdd/recordings": (
        "FSDD: download https://github.com/Jakobovski/free-spoken-digit-dataset and copy its recordings/ "
        "folder (the *.wav files) to <root>/fsdd/recordings"
    ),
    "audiomnist/data": (
        "AudioMNIST: download https://github.com/soerenab/AudioMNIST and copy its data/ folder "
        "(data/01 ... data/60) to <root>/audiomnist/data"
    ),
    "cifar10-jpg.tar.gz": (
        "CIFAR-10: put the JPEG archive (train/<class>/*.jpg, test/<class>/*.jpg) at "
        "<root>/cifar10-jpg.tar.gz, or the python version from https://www.cs.toronto.edu/~kriz/cifar.html "
        "unpacked as <root>/cifar-10-batches-py"
    ),
    "imagenet/train": (
        "ImageNet: download ILSVRC-2012 from https://image-net.org and arrange it as "
        "<root>/imagenet/train/<class>/*.JPEG and <root>/imagenet/val/<class>/*.JPEG"
    ),
}
_DOWNLOAD_HINTS["cifar-10-batches-py"] = _DOWNLOAD_HINTS["cifar10-jpg.tar.gz"]
_DOWNLOAD_HINTS["cifar10/train"] = _DOWNLOAD_HINTS["cifar10-jpg.tar.gz"]


def candidate_roots(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """The data roots to look in, in lookup order, each with where it came from (for error messages).

    A ``data_dir`` given explicitly is the only root: a mistyped path must be an error, never a quiet fall back to
    whatever data another root holds.
    """
    if data_dir is not None:
        return [(Path(data_dir).expanduser(), "data_dir argument")]
    roots: list[tuple[Path, str]] = []
    env = os.environ.get(DATA_ENV)
    if env:
        roots.append((Path(env).expanduser(), f"${DATA_ENV}"))
    cwd = Path.cwd()
    roots.append((cwd / "data", "./data"))
    roots.append((cwd.parent / "shared" / "data", "../shared/data"))
    return roots


def find_first_marker(
    data_dir: str | os.PathLike[str] | None, markers: Sequence[str], *, what: str
) -> tuple[Path, str]:
    """The first (root, marker) in lookup order for which ``root / marker`` exists.

    Within one root the markers are tried in the given order, so an earlier root always wins.

    Raises:
        DataNotFoundError: no root holds any marker; the message lists every place looked at and what to
            download.
    """
    roots = candidate_roots(data_dir)
    for root, _ in roots:
        for marker in markers:
            if (root / marker).exists():
                return root, marker
    looked = "\n".join(f"  - {root / marker}  ({source})" for root, source in roots for marker in markers)
    hints = dict.fromkeys(_DOWNLOAD_HINTS.get(m, f"put the data at <root>/{m}") for m in markers)
    raise DataNotFoundError(
        f"{what} not found. Looked at:\n{looked}\n"
        f"Pass data_dir=<root>, set ${DATA_ENV}=<root>, or use ./data as <root>. "
        + " ".join(f"{hint}." for hint in hints)
    )


def find_data_root(data_dir: str | os.PathLike[str] | None = None, *, marker: str) -> Path:
    """The first data root under which ``marker`` (e.g. ``"fsdd/recordings"``) exists.

    Lookup order: the ``data_dir`` argument alone where it is given; else ``$BNN_TUNE_DATA``, then ``./data``, then
    ``../shared/data`` (the last two relative to the current working directory).

    Raises:
        DataNotFoundError: no root holds ``marker``; the message lists the places looked at and what to
            download.
    """
    root, _ = find_first_marker(data_dir, [marker], what=f"data for {marker!r}")
    return root


def cache_dir() -> Path:
    """The directory for decoded data and computed features: ``$BNN_TUNE_CACHE`` or ``~/.cache/bnn-tune``.

    It is created on demand. The default lies outside any checkout, so the repository never holds cached data.
    """
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "bnn-tune"
    path.mkdir(parents=True, exist_ok=True)
    return path
