"""Building blocks of the audio VAE, channels-last (B, T, F, C): T = time (the causal axis), F = mel.

Convolutions are causal along time: padded with k-1 zeros in front, symmetric along mel.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

PIXEL_NORM_EPS = 1e-6


def pixel_norm(x: mx.array, eps: float = PIXEL_NORM_EPS) -> mx.array:
    """RMS norm over channels (last axis), computed in float32 so bf16 runs stay stable."""
    xf = x.astype(mx.float32)
    out = xf * mx.rsqrt(mx.mean(xf * xf, axis=-1, keepdims=True) + eps)
    return out.astype(x.dtype)


class CausalConv2d(nn.Module):
    """3x3 (or 1x1) conv, causal along time. Key layout: `<name>.conv.{weight,bias}`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=0)
        self.pad_t = kernel_size - 1
        self.pad_f = ((kernel_size - 1) // 2, kernel_size - 1 - (kernel_size - 1) // 2)

    def __call__(self, x: mx.array) -> mx.array:
        if self.pad_t or any(self.pad_f):
            x = mx.pad(x, [(0, 0), (self.pad_t, 0), self.pad_f, (0, 0)])
        return self.conv(x)


class ResnetBlock(nn.Module):
    """PixelNorm -> SiLU -> conv -> PixelNorm -> SiLU -> conv, plus a 1x1 shortcut when widths differ."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = CausalConv2d(in_channels, out_channels, 3)
        self.conv2 = CausalConv2d(out_channels, out_channels, 3)
        if in_channels != out_channels:
            self.nin_shortcut = CausalConv2d(in_channels, out_channels, 1)

    def __call__(self, x: mx.array) -> mx.array:
        h = self.conv1(nn.silu(pixel_norm(x)))
        h = self.conv2(nn.silu(pixel_norm(h)))
        if "nin_shortcut" in self:
            x = self.nin_shortcut(x)
        return x + h


class Upsample(nn.Module):
    """Nearest x2 in time and mel, causal conv, then drop the first time row (length 2n-1 -> 1 + 2(n-1))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = CausalConv2d(channels, channels, 3)

    def __call__(self, x: mx.array) -> mx.array:
        x = mx.repeat(mx.repeat(x, 2, axis=1), 2, axis=2)
        # The first two outputs only see input frame 0; dropping one undoes the encoder's causal padding.
        return self.conv(x)[:, 1:]


class Downsample(nn.Module):
    """Stride-2 3x3 conv; pads 2 frames in front (causal) and one mel bin at the end."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def __call__(self, x: mx.array) -> mx.array:
        return self.conv(mx.pad(x, [(0, 0), (2, 0), (0, 1), (0, 0)]))


class MidBlock(nn.Module):
    """Two ResNet blocks (the official mid attention is disabled in every released config)."""

    def __init__(self, channels: int):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.block_2 = ResnetBlock(channels, channels)

    def __call__(self, x: mx.array) -> mx.array:
        return self.block_2(self.block_1(x))


class Level(nn.Module):
    """One resolution level: `block` list of ResNet blocks, optional `upsample` / `downsample`."""

    def __init__(self, blocks: list[ResnetBlock]):
        super().__init__()
        self.block = blocks


class PerChannelStatistics(nn.Module):
    """Latent normalisation over the last axis of (z * mel)-wide tokens.

    The checkpoint names are `mean-of-means` / `std-of-means`; the loader renames the hyphens.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.mean_of_means = mx.zeros((channels,))
        self.std_of_means = mx.ones((channels,))

    def normalize(self, tokens: mx.array) -> mx.array:
        return (tokens - self.mean_of_means.astype(tokens.dtype)) / self.std_of_means.astype(tokens.dtype)

    def un_normalize(self, tokens: mx.array) -> mx.array:
        return tokens * self.std_of_means.astype(tokens.dtype) + self.mean_of_means.astype(tokens.dtype)


def tokens_from_latent(latent: mx.array) -> mx.array:
    """(B, T, F, z) channels-last latent -> (B, T, z*F) tokens in the official 'b c t f -> b t (c f)' order."""
    b, t, f, c = latent.shape
    return latent.transpose(0, 1, 3, 2).reshape(b, t, c * f)


def latent_from_tokens(tokens: mx.array, channels: int, mel_bins: int) -> mx.array:
    """Inverse of `tokens_from_latent`."""
    b, t, _ = tokens.shape
    return tokens.reshape(b, t, channels, mel_bins).transpose(0, 1, 3, 2)
