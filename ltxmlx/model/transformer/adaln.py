"""Timestep embeddings and AdaLN-single (PixArt-alpha) modulation generators."""

from __future__ import annotations

import functools
import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

SINUSOID_CHANNELS = 256


@functools.lru_cache(maxsize=4)
def _sinusoid_freqs(half: int, max_period: float) -> mx.array:
    # Exponent in float32 as the reference, exp in float64 then rounded: timesteps reach 1000, so
    # a one-ulp error in a frequency would shift the angle by ~1e-4 rad.
    exponent = (np.float32(-math.log(max_period)) * np.arange(half, dtype=np.float32)) / np.float32(half)
    return mx.array(np.exp(exponent.astype(np.float64)).astype(np.float32))


def timestep_sinusoid(t: mx.array, channels: int = SINUSOID_CHANNELS, max_period: float = 10000.0) -> mx.array:
    """(N,) timesteps -> (N, channels) float32 ``[cos(t*f), sin(t*f)]``, f_i = exp(-ln(P)*i/(channels/2))."""
    args = t.astype(mx.float32)[:, None] * _sinusoid_freqs(channels // 2, max_period)[None, :]
    return mx.concatenate([mx.cos(args), mx.sin(args)], axis=-1)


class TimestepEmbedding(nn.Module):
    """``linear_2(silu(linear_1(x)))``."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def __call__(self, x: mx.array) -> mx.array:
        return self.linear_2(nn.silu(self.linear_1(x)))


class PixArtAlphaCombinedTimestepSizeEmbeddings(nn.Module):
    """Sinusoid(256) of the timestep, then ``timestep_embedder`` to ``dim``."""

    def __init__(self, dim: int):
        super().__init__()
        self.timestep_embedder = TimestepEmbedding(SINUSOID_CHANNELS, dim)

    def __call__(self, t: mx.array) -> mx.array:
        dtype = self.timestep_embedder.linear_1.weight.dtype
        return self.timestep_embedder(timestep_sinusoid(t).astype(dtype))


class AdaLayerNormSingle(nn.Module):
    """Timestep -> (modulation (N, coefficient*dim), embedded timestep (N, dim))."""

    def __init__(self, dim: int, coefficient: int):
        super().__init__()
        self.emb = PixArtAlphaCombinedTimestepSizeEmbeddings(dim)
        self.linear = nn.Linear(dim, coefficient * dim)

    def __call__(self, t: mx.array) -> tuple[mx.array, mx.array]:
        """t: (N,) already multiplied by the timestep scale (e.g. sigma*1000)."""
        embedded = self.emb(t)
        return self.linear(nn.silu(embedded)), embedded
