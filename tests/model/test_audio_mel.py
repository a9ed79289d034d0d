"""Waveform -> log-mel and resampling, the audio-to-video input path."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.errors import ShapeError
from ltxmlx.model.audio_vae.mel import LogMelSpectrogram, slaney_mel_filterbank
from ltxmlx.model.audio_vae.processing import resample

SR, N_FFT, HOP, MELS = 16000, 1024, 160, 64


def _sine(freq: float, rate: int, samples: int, channels: int = 2) -> np.ndarray:
    t = np.arange(samples) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * freq * t + c) for c in range(channels)])[None].astype(np.float32)


@pytest.mark.parametrize("samples", [600, 4000, 16000])
def test_mel_has_100_frames_per_second_stereo(samples):
    mel = LogMelSpectrogram(SR, N_FFT, HOP, MELS)(mx.array(_sine(440, SR, samples)))
    assert mel.shape == (1, 2, 1 + samples // HOP, MELS)


def test_sine_energy_lands_in_the_mel_bin_around_its_frequency():
    fb = slaney_mel_filterbank(SR, N_FFT, MELS, 0.0, SR / 2)
    freqs = np.linspace(0, SR // 2, N_FFT // 2 + 1)
    mel = np.array(LogMelSpectrogram(SR, N_FFT, HOP, MELS)(mx.array(_sine(2000, SR, 8000))))
    peak = int(np.argmax(mel[0, 0, 20]))
    assert fb[np.argmin(np.abs(freqs - 2000)), peak] > 0  # the peak filter covers 2 kHz
    assert mel[0, 0, 20].min() < mel[0, 0, 20, peak] - 5  # far bins are orders of magnitude quieter


def test_slaney_filters_have_unit_area():
    """Slaney normalisation scales each triangle to area 1 in Hz; checked where filters span many bins."""
    fb = slaney_mel_filterbank(SR, N_FFT, MELS, 0.0, SR / 2)
    area = fb.sum(axis=0) * (SR / N_FFT)
    assert fb.shape == (N_FFT // 2 + 1, MELS)
    assert np.allclose(area[30:-1], 1.0, atol=0.02)


def test_silence_is_clamped_to_log_1e5():
    mel = LogMelSpectrogram(SR, N_FFT, HOP, MELS)(mx.zeros((1, 2, 2000)))
    assert np.allclose(np.array(mel), math.log(1e-5))


def test_too_short_waveform_is_refused():
    with pytest.raises(ShapeError, match="samples"):
        LogMelSpectrogram(SR, N_FFT, HOP, MELS)(mx.zeros((1, 2, 400)))


@pytest.mark.parametrize("orig", [48000, 44100, 22050, 8000])
def test_resampling_keeps_a_tone_and_gives_ceil_length(orig):
    samples = orig // 10
    x = resample(mx.array(_sine(440, orig, samples)), orig, SR)
    expected_len = math.ceil(samples * SR / orig)
    assert x.shape == (1, 2, expected_len)
    want = _sine(440, SR, expected_len)
    inner = slice(64, expected_len - 64)  # edges see the zero padding
    assert np.abs(np.array(x)[..., inner] - want[..., inner]).max() < 2e-3


def test_resampling_to_the_same_rate_is_identity():
    x = mx.array(_sine(440, SR, 1000))
    assert resample(x, SR, SR) is x
