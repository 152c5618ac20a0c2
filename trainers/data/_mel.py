"""Log-mel spectrogram features for spoken digits, written with torch.stft and a triangular mel filterbank."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from bnn_errors import InvalidInputError

__all__ = ["MelSettings", "fit_length", "hz_to_mel", "log_mel", "mel_filterbank", "mel_to_hz"]


@dataclass(frozen=True)
class MelSettings:
    """How a recording becomes a log-mel image.

    The defaults turn 1 s at 8 kHz into 40 mel bands x 32 frames. The 64 ms window (``n_fft=512``) gives
    15.6 Hz frequency bins, so even the narrowest (lowest) of 40 mel bands below 4 kHz spans two or more bins;
    with a 256-sample window the lowest bands would each see a single bin. The hop of 256 (50 % overlap) with
    centred frames gives ``1 + 8000 // 256 = 32`` frames.
    """

    sample_rate: int = 8000
    duration_s: float = 1.0
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 40
    f_min: float = 0.0
    f_max: float | None = None
    top_db: float = 80.0

    def __post_init__(self) -> None:
        f_max = self.sample_rate / 2 if self.f_max is None else self.f_max
        if self.sample_rate <= 0 or self.duration_s <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise InvalidInputError(f"mel settings must be positive: {self}")
        if self.n_fft < 2 or not 0 <= self.f_min < f_max <= self.sample_rate / 2:
            raise InvalidInputError(f"need n_fft >= 2 and 0 <= f_min < f_max <= sample_rate / 2: {self}")

    @property
    def num_samples(self) -> int:
        """Samples per clip after padding or cropping."""
        return round(self.sample_rate * self.duration_s)

    @property
    def num_frames(self) -> int:
        """Frames per clip (centred STFT frames)."""
        return 1 + self.num_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """(n_mels, num_frames) of one clip's features."""
        return self.n_mels, self.num_frames

    def as_dict(self) -> dict[str, object]:
        """The settings as a plain dict (for cache keys)."""
        return dataclasses.asdict(self)


def hz_to_mel(f: Tensor) -> Tensor:
    """Frequency in Hz to the HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: Tensor) -> Tensor:
    """HTK mel to Hz (inverse of :func:`hz_to_mel`)."""
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(settings: MelSettings) -> Tensor:
    """Triangular filters, evenly spaced on the mel scale, as an ``(n_mels, n_fft // 2 + 1)`` matrix.

    Each filter rises from its left edge to its centre and falls to its right edge, evaluated at the FFT bin
    frequencies; the filters are not area-normalized because features are standardized per feature later.
    """
    f_max = settings.sample_rate / 2 if settings.f_max is None else settings.f_max
    bins = torch.linspace(0.0, settings.sample_rate / 2, settings.n_fft // 2 + 1, dtype=torch.float64)
    edges_mel = torch.linspace(
        float(hz_to_mel(torch.tensor(settings.f_min, dtype=torch.float64))),
        float(hz_to_mel(torch.tensor(f_max, dtype=torch.float64))),
        settings.n_mels + 2,
        dtype=torch.float64,
    )
    edges = mel_to_hz(edges_mel)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).to(torch.float32)


def fit_length(signal: Tensor, num_samples: int) -> Tensor:
    """Centre ``signal`` in a window of ``num_samples``: zero-padded on both sides, or its middle cropped."""
    n = signal.shape[-1]
    if n >= num_samples:
        start = (n - num_samples) // 2
        return signal[..., start : start + num_samples]
    before = (num_samples - n) // 2
    return torch.nn.functional.pad(signal, (before, num_samples - n - before))


def log_mel(clips: Tensor, settings: MelSettings, *, chunk: int = 512) -> Tensor:
    """Log-mel power in dB of equal-length clips: ``(batch, num_samples)`` -> ``(batch, n_mels, num_frames)``.

    Each clip's dB values are floored at ``top_db`` below its own maximum, so silence (the zero padding) maps
    to a finite level instead of log(0). Clips are processed ``chunk`` at a time to bound the STFT's memory.
    """
    if clips.ndim != 2 or clips.shape[1] != settings.num_samples:
        raise InvalidInputError(f"clips must be (batch, {settings.num_samples}), got {tuple(clips.shape)}")
    window = torch.hann_window(settings.n_fft, periodic=True, dtype=clips.dtype, device=clips.device)
    filters = mel_filterbank(settings).to(clips.device)
    out = []
    for start in range(0, clips.shape[0], chunk):
        spec = torch.stft(
            clips[start : start + chunk],
            n_fft=settings.n_fft,
            hop_length=settings.hop_length,
            window=window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        mel = torch.matmul(filters, spec.abs().square())
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        floor = db.amax(dim=(1, 2), keepdim=True) - settings.top_db
        out.append(torch.maximum(db, floor))
    if not out:
        return clips.new_zeros((0, *settings.shape))
    return torch.cat(out)
