"""Reading PCM wav files with the standard library, and band-limited resampling."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from bnn_errors import CorruptDataError

__all__ = ["read_wav", "resample"]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A wav file as float32 mono samples in [-1, 1] and its sample rate.

    Uncompressed PCM of 8, 16, 24 or 32 bits is read; several channels are averaged to mono.

    Raises:
        CorruptDataError: the file is not a PCM wav file, is truncated, or holds no samples.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            n_frames = wav.getnframes()
            raw = wav.readframes(n_frames)
    except (wave.Error, EOFError, OSError, ValueError) as exc:
        raise CorruptDataError(f"cannot read wav file {path}: {exc}") from exc
    if channels < 1 or rate <= 0:
        raise CorruptDataError(f"wav file {path} has {channels} channels at {rate} Hz")
    frame_bytes = channels * width
    if not raw or len(raw) % frame_bytes or len(raw) // frame_bytes != n_frames:
        raise CorruptDataError(
            f"wav file {path} is truncated or empty: {len(raw)} bytes for {n_frames} frames of {frame_bytes} bytes"
        )
    samples = _pcm_to_float(raw, width, path)
    return samples.reshape(-1, channels).mean(axis=1, dtype=np.float32), rate


def _pcm_to_float(raw: bytes, width: int, path: Path) -> np.ndarray:
    if width == 1:
        # 8-bit wav is unsigned with 128 as silence; wider PCM is signed little-endian.
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float32) / float(1 << 23)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    raise CorruptDataError(f"wav file {path} has an unsupported sample width of {width} bytes")


def resample(
    signal: Tensor, orig_rate: int, new_rate: int, *, zero_crossings: int = 6, rolloff: float = 0.99
) -> Tensor:
    """Resample a 1-D signal by a Hann-windowed sinc low-pass filter (band-limited, alias-free).

    The rational factor ``new_rate / orig_rate`` is reduced by the gcd; one kernel per output phase is applied
    as a strided convolution. Output length is ``ceil(len * new_rate / orig_rate)``.

    Args:
        signal: 1-D float tensor.
        orig_rate: its sample rate in Hz.
        new_rate: the wanted sample rate in Hz.
        zero_crossings: half-width of the sinc in zero crossings of the lower rate (longer: sharper cut-off).
        rolloff: cut-off as a fraction of the lower Nyquist frequency, below 1 to leave a transition band.
    """
    if orig_rate == new_rate:
        return signal
    g = math.gcd(orig_rate, new_rate)
    up, down = new_rate // g, orig_rate // g
    cutoff = min(up, down) * rolloff
    width = math.ceil(zero_crossings * down / cutoff)
    # Input taps relative to each output sample, in units of the input period; one row per output phase.
    taps = torch.arange(-width, width + down, dtype=torch.float64) / down
    phase = -torch.arange(up, dtype=torch.float64)[:, None] / up
    t = ((phase + taps) * cutoff).clamp(-zero_crossings, zero_crossings)
    window = torch.cos(t * math.pi / zero_crossings / 2) ** 2
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t * math.pi) / (t * math.pi))
    kernels = (sinc * window * cutoff / down).to(signal.dtype)[:, None, :]
    length = signal.shape[-1]
    padded = F.pad(signal.reshape(1, 1, length), (width, width + down))
    out = F.conv1d(padded, kernels, stride=down)  # (1, up, steps)
    out = out.transpose(1, 2).reshape(-1)
    return out[: math.ceil(up * length / down)]
