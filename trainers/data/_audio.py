"""The audio task: spoken digits (FSDD or AudioMNIST) as standardized log-mel vectors."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from bnn_errors import CorruptDataError, DataNotFoundError, InvalidInputError
from trainers.data._cache import cache_key, cache_path, load_cached, save_cached, scan_files
from trainers.data._locate import find_first_marker
from trainers.data._mel import MelSettings, fit_length, log_mel
from trainers.data._splits import TaskData, TensorSplit
from trainers.data._wav import read_wav, resample

__all__ = ["AudioDataset", "AudioSplitRule", "load_audio", "speaker_split", "take_folds"]

AudioDataset = Literal["auto", "fsdd", "audiomnist"]
AudioSplitRule = Literal["takes", "speakers"]

NUM_DIGITS = 10
# Takes 0-4 of every speaker's digit are the test split, whatever the validation split.
_TEST_TAKES = 5

# Seed of the permutation that ``max_train`` takes its first examples from, fixed so quick runs are
# comparable.
SUBSET_SEED = 0


@dataclass(frozen=True)
class _Source:
    name: str
    marker: str


_SOURCES = {
    "fsdd": _Source("FSDD", "fsdd/recordings"),
    "audiomnist": _Source("AudioMNIST", "audiomnist/data"),
}
_RECORDING = re.compile(r"^(?P<digit>\d)_(?P<speaker>[^_]+)_(?P<take>\d+)\.wav$", re.IGNORECASE)


def load_audio(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    dataset: AudioDataset = "auto",
    split: AudioSplitRule = "takes",
    max_train: int | None = None,
    folds: int = 1,
    fold: int = 0,
) -> TaskData:
    """Spoken digits 0-9 as log-mel vectors: FSDD (8 kHz) or AudioMNIST (48 kHz, resampled to 8 kHz).

    Files are ``{digit}_{speaker}_{take}.wav`` under ``<root>/fsdd/recordings`` or
    ``<root>/audiomnist/data/NN``; the root is found as :func:`find_data_root` does. ``dataset="auto"`` takes
    the first of the two found in lookup order (FSDD first within one root). Each clip is centred in 1 s
    (zero-padded or centre-cropped) and turned into 40 mel bands x 32 frames of log power (see
    :class:`MelSettings`), flattened to a vector and standardized with the train split's per-feature mean and
    standard deviation.

    Features are computed once and cached under :func:`cache_dir` with a key that hashes the feature settings
    and the sorted file list (names, sizes, mtimes): a changed, added or removed file recomputes them.

    Splits: ``"takes"`` puts takes 0-4 in test, 5-9 in validation and 10 and up in train (FSDD:
    300/300/2400). ``"speakers"`` is speaker-disjoint (see :func:`speaker_split`; FSDD: train george, jackson,
    lucas, nicolas; validation theo; test yweweler). ``max_train`` keeps the first ``max_train`` of a
    permutation of the train split seeded with 0 (for quick runs); validation and test stay whole.

    k-fold cross-validation (``folds`` > 1, the takes split only): the test takes 0-4 stay fixed, and the other
    takes are dealt round-robin, in take order, into ``folds`` folds; fold ``fold`` is the validation split and the
    rest train. A take is in one fold whole, so every recording of a speaker's digit with that take is validated
    together and never trained on in the same run (FSDD, 5 folds: 9 takes, 540 recordings, per fold).

    Unreadable files are skipped, not fatal: a wav that cannot be decoded, or a ``.wav`` whose name does not
    follow the pattern, is left out with a ``RuntimeWarning`` giving the count and the first names (on every
    load, cached or not), and the description records the count. One bad file in 30,000 should not stop a
    tuning run; the warning and the description keep the loss visible.

    Raises:
        DataNotFoundError: no data root holds the data set, or its directory holds no wav files.
        CorruptDataError: no file in the directory could be read.
        InvalidInputError: an unknown ``dataset`` or ``split``, ``max_train`` below 1, fewer than 3 speakers
            for the speaker split, ``folds`` below 1 or above the non-test takes, ``fold`` outside
            [0, folds), folds with the speaker split, or an empty train split.
    """
    if dataset != "auto" and dataset not in _SOURCES:
        raise InvalidInputError(f"dataset must be one of 'auto', 'fsdd', 'audiomnist', got {dataset!r}")
    if split not in ("takes", "speakers"):
        raise InvalidInputError(f"split must be 'takes' or 'speakers', got {split!r}")
    _check_max_train(max_train)
    _check_folds(folds, fold, split)
    keys = list(_SOURCES) if dataset == "auto" else [dataset]
    root, marker = find_first_marker(data_dir, [_SOURCES[k].marker for k in keys], what="spoken-digit recordings")
    source = next(s for s in _SOURCES.values() if s.marker == marker)
    settings = MelSettings()
    table = _features(root / marker, settings)
    skipped: list[list[str]] = table["skipped"]
    if skipped:
        shown = ", ".join(f"{name} ({why})" for name, why in skipped[:3])
        total = len(skipped) + len(table["digits"])
        warnings.warn(
            f"{len(skipped)} of {total} wav files in {root / marker} skipped: {shown}",
            RuntimeWarning,
            stacklevel=2,
        )

    takes: Tensor = table["takes"]
    speakers = [table["speaker_names"][i] for i in table["speaker_ids"].tolist()]
    if split == "takes" and folds > 1:
        train_idx, val_idx, test_idx = take_folds(takes, folds, fold)
    elif split == "takes":
        test_idx = torch.nonzero(takes < 5).flatten()
        val_idx = torch.nonzero((takes >= 5) & (takes < 10)).flatten()
        train_idx = torch.nonzero(takes >= 10).flatten()
    else:
        train_idx, val_idx, test_idx = _indices_by_speaker(speakers)
    if train_idx.numel() == 0:
        raise InvalidInputError(f"the {split!r} split of {root / marker} leaves no training recordings")
    if max_train is not None:
        train_idx = _subset(train_idx, max_train)

    x = table["features"].flatten(1)
    y = table["digits"]
    # Floor the spread at 1 dB: a feature (nearly) constant over train carries no information, and dividing by
    # its tiny spread would blow up small deviations in validation and test. Real FSDD features vary by 9 dB
    # or more, so the floor never binds there.
    std, mean = torch.std_mean(x[train_idx], dim=0, unbiased=False)
    x = (x - mean) / std.clamp_min(1.0)

    def make(idx: Tensor) -> TensorSplit:
        return TensorSplit(x[idx].contiguous(), y[idx].contiguous(), NUM_DIGITS)

    rates = sorted(set(table["rates"].tolist()))
    rate_text = "/".join(f"{r / 1000:g}" for r in rates) + " kHz"
    if rates != [settings.sample_rate]:
        rate_text += f" -> {settings.sample_rate / 1000:g} kHz"
    by = "by take" if split == "takes" else "by speaker"
    if folds > 1:
        by += f", fold {fold} of {folds}"
    note = f", skipped {len(skipped)} unreadable files" if skipped else ""
    return TaskData(
        train=make(train_idx),
        val=make(val_idx),
        test=make(test_idx),
        num_classes=NUM_DIGITS,
        input_shape=(x.shape[1],),
        description=(
            f"{source.name} {rate_text}, {train_idx.numel()}/{val_idx.numel()}/{test_idx.numel()} {by}, "
            f"{settings.n_mels}x{settings.num_frames} log-mel{note}"
        ),
    )


def speaker_split(speakers: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Speaker-disjoint (train, validation, test) speakers: deterministic, from the sorted speaker names.

    ``k = max(1, round(n / 10))`` speakers are held out for each of test and validation: the last ``k`` names
    in sorted order are test, the ``k`` before them validation, the rest train (FSDD's 6 speakers: 4/1/1;
    AudioMNIST's 60: 48/6/6).

    Raises:
        InvalidInputError: fewer than 3 distinct speakers.
    """
    names = sorted(set(speakers))
    if len(names) < 3:
        raise InvalidInputError(f"a speaker split needs at least 3 speakers, got {names}")
    k = max(1, round(len(names) / 10))
    return names[: -2 * k], names[-2 * k : -k], names[-k:]


def _indices_by_speaker(speakers: list[str]) -> tuple[Tensor, Tensor, Tensor]:
    groups = speaker_split(speakers)
    out = []
    for group in groups:
        members = set(group)
        out.append(torch.tensor([i for i, s in enumerate(speakers) if s in members], dtype=torch.int64))
    return out[0], out[1], out[2]


def take_folds(takes: Tensor, folds: int, fold: int) -> tuple[Tensor, Tensor, Tensor]:
    """Indices (train, validation, test) of fold ``fold`` of ``folds``: test takes 0-4, the others dealt by take.

    Raises:
        InvalidInputError: fewer non-test takes than folds.
    """
    test_idx = torch.nonzero(takes < _TEST_TAKES).flatten()
    others = sorted(set(takes[takes >= _TEST_TAKES].tolist()))
    if len(others) < folds:
        raise InvalidInputError(f"folds must be at most the {len(others)} non-test takes, got {folds}")
    val_takes = torch.tensor(others[fold::folds], dtype=takes.dtype)
    in_val = torch.isin(takes, val_takes)
    val_idx = torch.nonzero(in_val).flatten()
    train_idx = torch.nonzero(~in_val & (takes >= _TEST_TAKES)).flatten()
    return train_idx, val_idx, test_idx


def _check_folds(folds: int, fold: int, split: str) -> None:
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise InvalidInputError(f"folds must be an integer >= 1, got {folds!r}")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise InvalidInputError(f"fold must be in [0, {folds - 1}], got {fold!r}")
    if folds > 1 and split != "takes":
        raise InvalidInputError(f"folds apply to the 'takes' split only, not {split!r}")


def _check_max_train(max_train: int | None) -> None:
    if max_train is not None and (isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1):
        raise InvalidInputError(f"max_train must be None or a positive int, got {max_train!r}")


def _subset(indices: Tensor, n: int) -> Tensor:
    order = torch.randperm(indices.numel(), generator=torch.Generator().manual_seed(SUBSET_SEED))
    return indices[order[:n].sort().values]


def _features(folder: Path, settings: MelSettings) -> dict[str, Any]:
    """The cached feature table of every recording under ``folder``, computed on a cache miss."""
    rows = scan_files(folder, (".wav",))
    if not rows:
        raise DataNotFoundError(f"no wav recordings ({{digit}}_{{speaker}}_{{take}}.wav) in {folder}")
    key = cache_key("audio-features", settings.as_dict(), rows)
    path = cache_path("audio", key)
    table = load_cached(path)
    if table is None:
        table = _compute_features([folder / name for name, _, _ in rows], folder, settings)
        save_cached(path, table)
    return table


def _compute_features(files: list[Path], folder: Path, settings: MelSettings) -> dict[str, Any]:
    clips: list[Tensor] = []
    digits: list[int] = []
    takes: list[int] = []
    rates: list[int] = []
    speakers: list[str] = []
    skipped: list[list[str]] = []
    for path in files:
        match = _RECORDING.match(path.name)
        if match is None:
            skipped.append([path.name, "name is not {digit}_{speaker}_{take}.wav"])
            continue
        try:
            samples, rate = read_wav(path)
        except CorruptDataError as exc:
            skipped.append([path.name, str(exc.__cause__ or exc)])
            continue
        signal = resample(torch.from_numpy(samples), rate, settings.sample_rate)
        clips.append(fit_length(signal, settings.num_samples))
        digits.append(int(match["digit"]))
        speakers.append(match["speaker"])
        takes.append(int(match["take"]))
        rates.append(rate)
    if not clips:
        raise CorruptDataError(f"none of the {len(files)} wav files in {folder} could be read; first: {skipped[0]}")
    speaker_names = sorted(set(speakers))
    # Speakers as ids into a short list: thousands of strings make the cached file slow to unpickle.
    speaker_id = {name: i for i, name in enumerate(speaker_names)}
    return {
        "features": log_mel(torch.stack(clips), settings),
        "digits": torch.tensor(digits, dtype=torch.int64),
        "takes": torch.tensor(takes, dtype=torch.int64),
        "rates": torch.tensor(rates, dtype=torch.int64),
        "speaker_ids": torch.tensor([speaker_id[s] for s in speakers], dtype=torch.int64),
        "speaker_names": speaker_names,
        "skipped": skipped,
    }
