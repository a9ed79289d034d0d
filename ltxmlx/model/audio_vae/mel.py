"""Waveform -> stereo log-mel, as the audio VAE encoder was trained on.

Magnitude STFT (periodic Hann window, centred frames with reflect padding), slaney-scale and
slaney-normalised mel filterbank from 0 Hz to sr/2, then log(clamp(mel, 1e-5)). The window, DFT
basis and filterbank are computed once on the host in float64; the STFT runs as a strided conv.
"""

from __future__ import annotations

from functools import lru_cache

import mlx.core as mx
import numpy as np

from ltxmlx.errors import ShapeError

LOG_CLAMP = 1e-5

# Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * _F_SP
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, hz)


@lru_cache(maxsize=8)
def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular filters, each scaled to unit area (slaney norm)."""
    all_freqs = np.linspace(0.0, sample_rate // 2, n_fft // 2 + 1)
    f_pts = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    return fb * (2.0 / (f_pts[2:] - f_pts[:-2]))[None, :]


@lru_cache(maxsize=8)
def hann_dft_basis(n_fft: int) -> np.ndarray:
    """(2 * (n_fft // 2 + 1), n_fft) rows: periodic-Hann-windowed cos then -sin of each rfft bin."""
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)
    k = np.arange(n_fft // 2 + 1)
    phase = 2.0 * np.pi * np.outer(k, n) / n_fft
    return np.concatenate([np.cos(phase), -np.sin(phase)], axis=0) * window[None, :]


class LogMelSpectrogram:
    """Callable: waveform (B, C, S) at `sample_rate` -> log-mel (B, C, 1 + S // hop, n_mels), float32."""

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, n_mels: int):
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.n_freqs = n_fft // 2 + 1
        # conv1d weight layout (out, k, in)
        self._basis = mx.array(hann_dft_basis(n_fft)[:, :, None].astype(np.float32))
        fb = slaney_mel_filterbank(sample_rate, n_fft, n_mels, 0.0, sample_rate / 2.0)
        self._filterbank = mx.array(fb.astype(np.float32))

    def frames(self, samples: int) -> int:
        return 1 + samples // self.hop_length

    def __call__(self, waveform: mx.array) -> mx.array:
        if waveform.ndim != 3:
            raise ShapeError(f"waveform: expected (B, channels, samples), got {tuple(waveform.shape)}")
        b, c, s = waveform.shape
        half = self.n_fft // 2
        if s <= half:
            raise ShapeError(f"waveform: expected more than {half} samples for reflect padding, got {s}")
        x = waveform.astype(mx.float32).reshape(b * c, s)
        # Centred frames: reflect (mirror without repeating the edge sample) by n_fft // 2 on both sides.
        x = mx.concatenate([x[:, 1 : half + 1][:, ::-1], x, x[:, s - 1 - half : s - 1][:, ::-1]], axis=1)
        spec = mx.conv1d(x[:, :, None], self._basis, stride=self.hop_length)  # (BC, frames, 2 * n_freqs)
        re, im = spec[..., : self.n_freqs], spec[..., self.n_freqs :]
        magnitude = mx.sqrt(re * re + im * im)
        mel = mx.log(mx.maximum(magnitude @ self._filterbank, LOG_CLAMP))
        return mel.reshape(b, c, mel.shape[1], self.n_mels)
