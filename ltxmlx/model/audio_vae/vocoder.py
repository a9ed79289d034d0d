"""Mel -> waveform generators: HiFi-GAN (19B, ResBlock1 + LeakyReLU) and BigVGAN-v2 (22B, AMPBlock1 + SnakeBeta).

Public layout: stereo log-mel (B, 2, T, 64) -> waveform (B, 2, hop * T); channels-last inside.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.audio_vae.antialias import Activation1d
from ltxmlx.model.audio_vae.config import VOCODER_MEL_BINS, GeneratorConfig
from ltxmlx.model.audio_vae.conv1d import Conv1d, ConvTranspose1d

LRELU_SLOPE = 0.1
# nn.LeakyReLU() default slope, used after the last HiFi-GAN stage.
FINAL_LRELU_SLOPE = 0.01


class ResBlock1(nn.Module):
    """Three (LeakyReLU -> dilated conv -> LeakyReLU -> conv) residual steps, dilations e.g. 1, 3, 5."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = [Conv1d(channels, channels, kernel_size, d) for d in dilations]
        self.convs2 = [Conv1d(channels, channels, kernel_size, 1) for _ in dilations]

    def __call__(self, x: mx.array) -> mx.array:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(nn.leaky_relu(c1(nn.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class AMPBlock1(nn.Module):
    """ResBlock1 with every LeakyReLU replaced by an anti-aliased SnakeBeta (`acts1`, `acts2`)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = [Conv1d(channels, channels, kernel_size, d) for d in dilations]
        self.convs2 = [Conv1d(channels, channels, kernel_size, 1) for _ in dilations]
        self.acts1 = [Activation1d(channels) for _ in dilations]
        self.acts2 = [Activation1d(channels) for _ in dilations]

    def __call__(self, x: mx.array) -> mx.array:
        for c1, c2, a1, a2 in zip(self.convs1, self.convs2, self.acts1, self.acts2):
            x = x + c2(a2(c1(a1(x))))
        return x


def mel_to_channels_last(mel: mx.array) -> mx.array:
    """(B, 2, T, 64) stereo mel -> (B, T, 128), channel = stereo * 64 + bin as the official conv_pre expects."""
    if mel.ndim != 4 or mel.shape[1] != 2 or mel.shape[3] != VOCODER_MEL_BINS:
        raise ShapeError(f"vocoder input: expected stereo mel (B, 2, T, {VOCODER_MEL_BINS}), got {tuple(mel.shape)}")
    if mel.shape[2] < 1:
        raise ShapeError(f"vocoder input: expected at least one mel frame, got {tuple(mel.shape)}")
    b, _, t, f = mel.shape
    return mel.transpose(0, 2, 1, 3).reshape(b, t, 2 * f)


class Vocoder(nn.Module):
    """conv_pre -> per rate [ (LeakyReLU) -> ConvTranspose -> mean of resblocks ] -> act_post -> conv_post."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        ch = config.upsample_initial_channel
        self.conv_pre = Conv1d(2 * VOCODER_MEL_BINS, ch, 7)
        self.ups = [
            ConvTranspose1d(ch // 2**i, ch // 2 ** (i + 1), k, s)
            for i, (s, k) in enumerate(zip(config.upsample_rates, config.upsample_kernel_sizes))
        ]
        block = AMPBlock1 if config.amp else ResBlock1
        self.resblocks = [
            block(ch // 2 ** (i + 1), k, d)
            for i in range(len(config.upsample_rates))
            for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes)
        ]
        final = ch // 2 ** len(config.upsample_rates)
        if config.amp:
            self.act_post = Activation1d(final)
        self.conv_post = Conv1d(final, 2, 7, bias=config.use_bias_at_final)

    @property
    def output_sampling_rate(self) -> int:
        return self.config.output_sampling_rate

    def generate(self, x: mx.array) -> mx.array:
        """Channels-last core: (B, T, 128) -> (B, hop * T, 2)."""
        cfg = self.config
        n = len(cfg.resblock_kernel_sizes)
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            if not cfg.amp:
                x = nn.leaky_relu(x, LRELU_SLOPE)
            x = up(x)
            outs = [self.resblocks[j](x) for j in range(i * n, (i + 1) * n)]
            x = sum(outs[1:], outs[0]) / n
        x = self.act_post(x) if cfg.amp else nn.leaky_relu(x, FINAL_LRELU_SLOPE)
        x = self.conv_post(x)
        if cfg.apply_final_activation:
            x = mx.tanh(x) if cfg.use_tanh_at_final else mx.clip(x, -1.0, 1.0)
        return x

    def __call__(self, mel: mx.array) -> mx.array:
        """mel (B, 2, T, 64) -> waveform (B, 2, hop * T) at `output_sampling_rate`."""
        return self.generate(mel_to_channels_last(mel)).transpose(0, 2, 1)
