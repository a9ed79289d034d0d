"""Waveform preparation for the audio encoder: resampling to the VAE rate, then log-mel.

Resampling is windowed-sinc interpolation with a Hann window (6 zero crossings, rolloff 0.99), the
kernel torchaudio's default `resample` uses, computed in float64 on the host once per rate pair.
"""

from __future__ import annotations

import math
from functools import lru_cache

import mlx.core as mx
import numpy as np

from ltxmlx.errors import LtxmlxError, ShapeError
from ltxmlx.model.audio_vae.config import AudioVAEConfig
from ltxmlx.model.audio_vae.mel import LogMelSpectrogram

ZERO_CROSSINGS = 6
ROLLOFF = 0.99


@lru_cache(maxsize=16)
def sinc_resample_kernel(orig: int, new: int) -> tuple[np.ndarray, int]:
    """(new, 2 * width + orig) polyphase kernels for reduced rates orig -> new, and the padding width."""
    base = min(orig, new) * ROLLOFF
    width = math.ceil(ZERO_CROSSINGS * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float64)[None, :] / orig
    t = (-np.arange(new, dtype=np.float64)[:, None] / new + idx) * base
    t = np.clip(t, -ZERO_CROSSINGS, ZERO_CROSSINGS)
    window = np.cos(t * math.pi / ZERO_CROSSINGS / 2) ** 2
    t = t * math.pi
    safe = np.where(t == 0, 1.0, t)
    kernels = np.where(t == 0, 1.0, np.sin(safe) / safe) * window * (base / orig)
    return kernels, width


def resample(waveform: mx.array, orig_rate: int, new_rate: int) -> mx.array:
    """(..., S) at orig_rate -> (..., ceil(S * new / orig)) at new_rate. No-op when the rates match."""
    if orig_rate <= 0 or new_rate <= 0:
        raise LtxmlxError(f"sampling rates must be positive, got {orig_rate} -> {new_rate}")
    if orig_rate == new_rate:
        return waveform
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    kernels, width = sinc_resample_kernel(orig, new)
    lead, length = waveform.shape[:-1], waveform.shape[-1]
    x = waveform.reshape(-1, length)
    x = mx.pad(x, [(0, 0), (width, width + orig)])[:, :, None]
    w = mx.array(kernels.astype(np.float32))[:, :, None].astype(x.dtype)
    y = mx.conv1d(x, w, stride=orig)  # (N, frames, new): phase-major interleave
    y = y.reshape(y.shape[0], -1)[:, : math.ceil(new * length / orig)]
    return y.reshape(*lead, y.shape[-1])


class AudioProcessor:
    """Callable: waveform (B, C, S) at `sampling_rate` -> log-mel (B, C, 1 + S' // hop, mel_bins), float32.

    S' is the length after resampling to the VAE's rate.
    """

    def __init__(self, config: AudioVAEConfig):
        self.config = config
        self.sample_rate = config.sample_rate
        self.mel = LogMelSpectrogram(config.sample_rate, config.n_fft, config.hop_length, config.mel_bins)

    def resample(self, waveform: mx.array, sampling_rate: int) -> mx.array:
        return resample(waveform, int(sampling_rate), self.sample_rate)

    def __call__(self, waveform: mx.array, sampling_rate: int) -> mx.array:
        if waveform.ndim != 3 or waveform.shape[1] != self.config.in_channels:
            raise ShapeError(
                f"waveform: expected (B, {self.config.in_channels}, samples), got {tuple(waveform.shape)}")
        return self.mel(self.resample(waveform, sampling_rate))
