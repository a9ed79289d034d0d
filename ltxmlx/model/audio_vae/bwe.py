"""22B vocoder: BigVGAN-v2 at 16 kHz + bandwidth extension (BWE) to 48 kHz.

waveform_16k = vocoder(mel); mel' = causal log-mel of it (bases from the checkpoint);
out = clamp(bwe_generator(mel') + hann_sinc_upsample(waveform_16k), -1, 1). Everything runs in
float32 whatever the weights' dtype: bf16 accumulation through ~100 convolutions audibly degrades it.
"""

from __future__ import annotations

from typing import NamedTuple

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ConfigError
from ltxmlx.model.audio_vae.antialias import HannSincUpsampler
from ltxmlx.model.audio_vae.config import VocoderConfig
from ltxmlx.model.audio_vae.mel import LOG_CLAMP
from ltxmlx.model.audio_vae.vocoder import Vocoder, mel_to_channels_last


class STFTBasis(nn.Module):
    """`forward_basis`: (2 * n_freqs, n_fft, 1) windowed DFT rows (real then imaginary), a conv1d weight.

    `inverse_basis` (same shape) is part of the checkpoint's module but unused: no inverse STFT is taken.
    """

    def __init__(self, n_fft: int):
        super().__init__()
        self.forward_basis = mx.zeros((2 * (n_fft // 2 + 1), n_fft, 1))
        self.inverse_basis = mx.zeros((2 * (n_fft // 2 + 1), n_fft, 1))


class MelSTFT(nn.Module):
    """Causal log-mel: left pad n_fft - hop (no lookahead), strided DFT conv, magnitude, mel_basis, log."""

    def __init__(self, n_fft: int, hop_length: int, n_mels: int):
        super().__init__()
        self.stft_fn = STFTBasis(n_fft)
        self.mel_basis = mx.zeros((n_mels, n_fft // 2 + 1))
        self.n_fft, self.hop_length = n_fft, hop_length

    def __call__(self, y: mx.array) -> mx.array:
        """y (N, S) -> log-mel (N, frames, n_mels), frames = S // hop for S a multiple of hop."""
        x = mx.pad(y, [(0, 0), (self.n_fft - self.hop_length, 0)])[:, :, None]
        spec = mx.conv1d(x, self.stft_fn.forward_basis.astype(y.dtype), stride=self.hop_length)
        n = spec.shape[-1] // 2
        re, im = spec[..., :n], spec[..., n:]
        magnitude = mx.sqrt(re * re + im * im)
        mel = magnitude @ self.mel_basis.astype(y.dtype).T
        return mx.log(mx.maximum(mel, LOG_CLAMP))


class BWEStages(NamedTuple):
    """Intermediates of one pass, public layouts: (B, 2, S) waveforms, mel (B, 2, frames, n_mels)."""

    vocoder_16k: mx.array
    mel: mx.array
    residual: mx.array
    skip: mx.array
    output: mx.array


class VocoderWithBWE(nn.Module):
    """Stereo log-mel (B, 2, T, 64) -> waveform (B, 2, T * hop * ratio) at the BWE output rate."""

    def __init__(self, config: VocoderConfig):
        super().__init__()
        if config.bwe is None:
            raise ConfigError("vocoder.bwe", None, "a 'bwe' section for the bandwidth-extension vocoder")
        self.config = config
        bwe = config.bwe
        self.vocoder = Vocoder(config.generator)
        self.bwe_generator = Vocoder(bwe.generator)
        self.mel_stft = MelSTFT(bwe.n_fft, bwe.hop_length, bwe.num_mels)
        self._resampler = HannSincUpsampler(bwe.ratio)

    @property
    def output_sampling_rate(self) -> int:
        return self.config.bwe.output_sampling_rate

    def stages(self, mel: mx.array) -> BWEStages:
        """The full pass with its intermediates (the output is float32)."""
        bwe = self.config.bwe
        x = self.vocoder.generate(mel_to_channels_last(mel).astype(mx.float32))  # (B, S, 2)
        b, length, c = x.shape
        out_len = length * bwe.output_sampling_rate // bwe.input_sampling_rate
        # Pad to a whole number of hops so the mel has exactly length / hop frames.
        x = mx.pad(x, [(0, 0), (0, -length % bwe.hop_length), (0, 0)])
        flat = x.transpose(0, 2, 1).reshape(b * c, x.shape[1])
        low_mel = self.mel_stft(flat)
        low_mel = low_mel.reshape(b, c, low_mel.shape[1], low_mel.shape[2])  # (B, 2, frames, n_mels)
        residual = self.bwe_generator.generate(mel_to_channels_last(low_mel))
        skip = self._resampler(x)
        out = mx.clip(residual + skip, -1.0, 1.0)[:, :out_len]
        return BWEStages(
            vocoder_16k=x[:, :length].transpose(0, 2, 1),
            mel=low_mel,
            residual=residual.transpose(0, 2, 1),
            skip=skip.transpose(0, 2, 1),
            output=out.transpose(0, 2, 1),
        )

    def __call__(self, mel: mx.array) -> mx.array:
        """mel (B, 2, T, 64) -> waveform (B, 2, S) in the input's dtype."""
        return self.stages(mel).output.astype(mel.dtype)
