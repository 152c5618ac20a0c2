"""The audio task: wav reading, resampling, log-mel features, splits and the feature cache, on real files."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from bnn_errors import CorruptDataError, DataNotFoundError, InvalidInputError
from trainers.data import _audio as audio_module
from trainers.data import find_data_root, load_audio
from trainers.data._audio import speaker_split
from trainers.data._mel import MelSettings, fit_length, log_mel, mel_filterbank
from trainers.data._wav import read_wav, resample

pytestmark = pytest.mark.usefixtures("data_env")
REPO = Path(__file__).resolve().parents[2]


# --- wav reading and resampling -----------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "tolerance"), [(1, 2 / 100), (2, 1e-4), (3, 1e-6), (4, 1e-6)])
def test_read_wav_widths(tmp_path: Path, write_wav: Callable[..., Path], width: int, tolerance: float) -> None:
    samples = np.sin(np.linspace(0, 20, 400)).astype(np.float32) * 0.9
    path = write_wav(tmp_path / "x.wav", samples, 16000, width=width)
    got, rate = read_wav(path)
    assert rate == 16000 and got.dtype == np.float32 and got.shape == samples.shape
    np.testing.assert_allclose(got, samples, atol=tolerance)


def test_read_wav_averages_stereo(tmp_path: Path, write_wav: Callable[..., Path]) -> None:
    left = np.full(100, 0.5, dtype=np.float32)
    path = write_wav(tmp_path / "s.wav", np.stack([left, -0.25 * np.ones(100)], axis=1), 8000)
    got, _ = read_wav(path)
    np.testing.assert_allclose(got, 0.125, atol=1e-4)


def test_read_wav_rejects_garbage_and_truncation(tmp_path: Path, write_wav: Callable[..., Path]) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(os.urandom(300))
    with pytest.raises(CorruptDataError, match=r"garbage\.wav"):
        read_wav(garbage)
    good = write_wav(tmp_path / "good.wav", np.zeros(1000, dtype=np.float32), 8000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:-501])
    with pytest.raises(CorruptDataError, match=r"truncated\.wav"):
        read_wav(truncated)
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(CorruptDataError, match="empty"):
        read_wav(empty)


def _peak_hz(signal: torch.Tensor, rate: int) -> float:
    spectrum = torch.fft.rfft(signal * torch.hann_window(len(signal))).abs()
    return float(spectrum.argmax()) * rate / len(signal)


def test_resample_keeps_the_tone_and_removes_what_would_alias() -> None:
    t = torch.arange(48000) / 48000
    low = torch.sin(2 * math.pi * 440 * t)
    out = resample(low, 48000, 8000)
    assert out.shape == (8000,)
    assert abs(_peak_hz(out, 8000) - 440) < 2
    assert abs(out[100:-100].abs().max().item() - 1.0) < 0.02
    # 5 kHz lies above the new Nyquist frequency (4 kHz); without a low-pass it would alias to 3 kHz.
    high = resample(torch.sin(2 * math.pi * 5000 * t), 48000, 8000)
    assert high[100:-100].pow(2).mean().sqrt() < 0.01
    odd = resample(torch.sin(2 * math.pi * 300 * torch.arange(4410) / 44100), 44100, 8000)
    assert odd.shape == (math.ceil(4410 * 8000 / 44100),)
    assert abs(_peak_hz(odd, 8000) - 300) < 10


def test_mel_filterbank_covers_the_band_in_order() -> None:
    settings = MelSettings()
    fb = mel_filterbank(settings)
    assert fb.shape == (40, settings.n_fft // 2 + 1)
    assert (fb.sum(dim=1) > 0).all(), "every band must see at least one FFT bin"
    peaks = fb.argmax(dim=1)
    assert (peaks[1:] > peaks[:-1]).all()
    assert fb.max() <= 1.0 and fb.min() >= 0.0


def test_log_mel_puts_a_tone_in_its_band_and_shapes_one_second() -> None:
    settings = MelSettings()
    assert settings.shape == (40, 32)
    t = torch.arange(settings.num_samples) / settings.sample_rate
    clips = torch.stack([torch.sin(2 * math.pi * f * t) for f in (250.0, 1000.0, 3000.0)])
    feats = log_mel(clips, settings)
    assert feats.shape == (3, 40, 32)
    bands = feats[:, :, 16].argmax(dim=1)
    assert bands[0] < bands[1] < bands[2]
    fb = mel_filterbank(settings)
    bin_of = [round(f * settings.n_fft / settings.sample_rate) for f in (250.0, 1000.0, 3000.0)]
    assert bands.tolist() == [int(fb[:, b].argmax()) for b in bin_of]
    assert torch.isfinite(log_mel(torch.zeros(1, settings.num_samples), settings)).all()


def test_fit_length_centres_pad_and_crop() -> None:
    assert fit_length(torch.tensor([1.0, 2.0]), 5).tolist() == [0.0, 1.0, 2.0, 0.0, 0.0]
    assert fit_length(torch.arange(7.0), 3).tolist() == [2.0, 3.0, 4.0]


# --- load_audio on generated recordings ---------------------------------------------------------------------


def test_takes_split_sizes_labels_and_features(fsdd_root: Path) -> None:
    data = load_audio(fsdd_root)
    # 3 digits x 3 speakers: takes 0, 1 -> test; 5 -> validation; 10, 11, 12 -> train.
    assert (len(data.train), len(data.val), len(data.test)) == (27, 9, 18)
    assert data.num_classes == 10 and data.input_shape == (1280,)
    assert data.description == "FSDD 8 kHz, 27/9/18 by take, 40x32 log-mel"
    x, y = next(data.train.batches(100, shuffle=False, generator=None))
    assert x.shape == (27, 1280) and x.dtype == torch.float32
    assert sorted(y.tolist()) == sorted([0, 1, 2] * 9)
    # Standardized with the train split's statistics; spreads under 1 dB are floored at 1 dB.
    table = audio_module._features(fsdd_root / "fsdd" / "recordings", MelSettings())
    raw = table["features"].flatten(1)[table["takes"] >= 10]
    std, mean = torch.std_mean(raw, dim=0, unbiased=False)
    torch.testing.assert_close(x, (raw - mean) / std.clamp_min(1.0))
    varying = std >= 1.0
    assert varying.sum() > 100
    torch.testing.assert_close(x[:, varying].mean(dim=0), torch.zeros(int(varying.sum())), atol=1e-4, rtol=0)
    torch.testing.assert_close(x[:, varying].std(dim=0, unbiased=False), torch.ones(int(varying.sum())))


def test_features_tell_digits_apart(fsdd_root: Path) -> None:
    data = load_audio(fsdd_root)
    x, y = next(data.train.batches(100, shuffle=False, generator=None))
    xt, yt = next(data.test.batches(100, shuffle=False, generator=None))
    # Tones differ in pitch, and train and test takes in length: compare the spectra averaged over time.
    profile, profile_t = x.view(-1, 40, 32).mean(dim=2), xt.view(-1, 40, 32).mean(dim=2)
    centroids = torch.stack([profile[y == d].mean(dim=0) for d in range(3)])
    nearest = torch.cdist(profile_t, centroids).argmin(dim=1)
    assert (nearest == yt).float().mean() == 1.0


def test_speaker_split_is_disjoint_and_documented() -> None:
    fsdd = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    assert speaker_split(fsdd * 3) == (["george", "jackson", "lucas", "nicolas"], ["theo"], ["yweweler"])
    train, val, test = speaker_split([f"{i:02d}" for i in range(1, 61)])
    assert (len(train), len(val), len(test)) == (48, 6, 6)
    assert not set(train) & set(val) and not set(val) & set(test) and not set(train) & set(test)
    with pytest.raises(InvalidInputError, match="3 speakers"):
        speaker_split(["a", "b", "a"])


def test_load_audio_speaker_split(fsdd_root: Path) -> None:
    data = load_audio(fsdd_root, split="speakers")
    # ann -> train, bob -> validation, cat -> test; each speaker has 3 digits x 6 takes.
    assert (len(data.train), len(data.val), len(data.test)) == (18, 18, 18)
    assert "by speaker" in data.description


def test_max_train_is_a_seeded_subset(fsdd_root: Path) -> None:
    full = load_audio(fsdd_root)
    small = load_audio(fsdd_root, max_train=5)
    again = load_audio(fsdd_root, max_train=5)
    assert len(small.train) == 5 and len(small.val) == len(full.val)
    xs = next(small.train.batches(5, shuffle=False, generator=None))[0]
    assert torch.equal(xs, next(again.train.batches(5, shuffle=False, generator=None))[0])
    with pytest.raises(InvalidInputError, match="max_train"):
        load_audio(fsdd_root, max_train=0)


def test_second_load_hits_the_cache(fsdd_root: Path, data_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    computed: list[int] = []
    real = audio_module._compute_features

    def counting(files: list[Path], *args: object) -> dict[str, object]:
        computed.append(len(files))
        return real(files, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(audio_module, "_compute_features", counting)
    first = load_audio(fsdd_root)
    cached = sorted((data_env / "audio").iterdir())
    assert computed == [54] and len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    second = load_audio(fsdd_root, split="speakers")
    assert computed == [54], "the second load must not recompute"
    assert sorted((data_env / "audio").iterdir()) == cached and cached[0].stat().st_mtime_ns == stamp
    assert first.input_shape == second.input_shape


def test_changed_file_misses_the_cache(
    fsdd_root: Path,
    data_env: Path,
    write_wav: Callable[..., Path],
    make_tone: Callable[[int, int, int], np.ndarray],
) -> None:
    before = load_audio(fsdd_root)
    x_before = next(before.test.batches(100, shuffle=False, generator=None))[0]
    path = fsdd_root / "fsdd" / "recordings" / "0_ann_0.wav"
    write_wav(path, make_tone(2, 7, 8000), 8000)  # digit 0's first test take now sounds like a 2
    after = load_audio(fsdd_root)
    x_after = next(after.test.batches(100, shuffle=False, generator=None))[0]
    assert len(list((data_env / "audio").iterdir())) == 2
    assert not torch.equal(x_before, x_after)


def test_corrupt_wav_is_skipped_with_a_warning(fsdd_root: Path) -> None:
    bad = fsdd_root / "fsdd" / "recordings" / "1_bob_11.wav"
    bad.write_bytes(b"RIFF" + os.urandom(200))
    (fsdd_root / "fsdd" / "recordings" / "notes.wav").write_bytes(b"")
    for _ in range(2):  # computed, then from the cache: both warn
        with pytest.warns(RuntimeWarning, match=r"2 of 55 wav files .* skipped: 1_bob_11.wav"):
            data = load_audio(fsdd_root)
        assert len(data.train) == 26
        assert data.description.endswith("skipped 2 unreadable files")


def test_all_files_corrupt_is_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "root" / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    (folder / "0_a_0.wav").write_bytes(b"not a wav")
    with pytest.raises(CorruptDataError, match="none of the 1 wav files"):
        load_audio(tmp_path / "root")


def test_directory_without_recordings(tmp_path: Path) -> None:
    folder = tmp_path / "root" / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    (folder / "README.txt").write_text("no audio here")
    with pytest.raises(DataNotFoundError, match=str(folder)):
        load_audio(tmp_path / "root")


def test_bad_arguments(fsdd_root: Path) -> None:
    with pytest.raises(InvalidInputError, match="dataset"):
        load_audio(fsdd_root, dataset="timit")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="split"):
        load_audio(fsdd_root, split="random")  # type: ignore[arg-type]
    with pytest.raises(DataNotFoundError, match="audiomnist/data"):
        load_audio(fsdd_root, dataset="audiomnist")


def test_audiomnist_48khz_is_resampled_to_match_8khz(
    tmp_path: Path, make_recordings: Callable[..., list[Path]]
) -> None:
    takes, digits = (0, 5, 10, 11), (0, 1, 2)
    am_root = tmp_path / "am"
    make_recordings(
        am_root / "audiomnist" / "data",
        digits=digits,
        speakers=("01", "02", "03"),
        takes=takes,
        rate=48000,
        subfolder=lambda speaker: speaker,
    )
    make_recordings(tmp_path / "ref" / "fsdd" / "recordings", digits=digits, speakers=("01",), takes=takes)
    data = load_audio(am_root)
    assert data.description.startswith("AudioMNIST 48 kHz -> 8 kHz, 18/9/9")
    settings = MelSettings()
    resampled = audio_module._features(am_root / "audiomnist" / "data" / "01", settings)["features"]
    native = audio_module._features(tmp_path / "ref" / "fsdd" / "recordings", settings)["features"]
    assert resampled.shape == native.shape == (12, 40, 32)
    loud = native > native.amax(dim=(1, 2), keepdim=True) - 30
    assert (resampled - native)[loud].abs().max() < 1.0, "within 1 dB where the tone is"
    assert torch.equal(resampled.mean(dim=2).argmax(dim=1), native.mean(dim=2).argmax(dim=1))


def test_auto_prefers_fsdd_within_a_root(fsdd_root: Path, make_recordings: Callable[..., list[Path]]) -> None:
    make_recordings(fsdd_root / "audiomnist" / "data" / "01", speakers=("01",), takes=(0, 5, 10), rate=48000)
    assert load_audio(fsdd_root).description.startswith("FSDD")
    assert load_audio(fsdd_root, dataset="audiomnist").description.startswith("AudioMNIST")


# --- the real FSDD ------------------------------------------------------------------------------------------


def test_real_fsdd(data_env: Path) -> None:
    root = find_data_root(REPO.parent / "shared" / "data", marker="fsdd/recordings")
    start = time.perf_counter()
    data = load_audio(root)
    first = time.perf_counter() - start
    start = time.perf_counter()
    load_audio(root)
    second = time.perf_counter() - start
    print(f"real FSDD: first load {first:.2f} s, cached load {second:.3f} s")
    assert (len(data.train), len(data.val), len(data.test)) == (2400, 300, 300)
    assert data.description == "FSDD 8 kHz, 2400/300/300 by take, 40x32 log-mel"
    y = next(data.train.batches(5000, shuffle=False, generator=None))[1]
    assert torch.bincount(y, minlength=10).tolist() == [240] * 10
    assert first < 20 and second < 2

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the real data set has no file to skip
        by_speaker = load_audio(root, split="speakers")
    assert (len(by_speaker.train), len(by_speaker.val), len(by_speaker.test)) == (2000, 500, 500)
    speakers = {p.name.split("_")[1] for p in (root / "fsdd" / "recordings").glob("*.wav")}
    train, val, test = speaker_split(sorted(speakers))
    assert (train, val, test) == (["george", "jackson", "lucas", "nicolas"], ["theo"], ["yweweler"])
