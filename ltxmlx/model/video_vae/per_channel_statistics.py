"""Per-channel latent statistics: the dataset mean/std that map raw VAE latents to the
normalized latents the transformer and the latent upsamplers work in."""

from __future__ import annotations

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ShapeError

MEAN_KEY = "mean-of-means"
STD_KEY = "std-of-means"


class PerChannelStatistics(nn.Module):
    """Buffers `mean-of-means` and `std-of-means`, each (channels,), stored under their
    checkpoint names (hyphenated, hence item access rather than attributes).

    `normalize(x) = (x - mean) / std` and `un_normalize(x) = x * std + mean` act on the LAST
    axis of a channels-last tensor (..., channels), e.g. (B, F, H, W, C).
    """

    def __init__(self, channels: int):
        super().__init__()
        if channels < 1:
            raise ShapeError(f"PerChannelStatistics: expected channels >= 1, got {channels}")
        self.channels = channels
        # Identity defaults, so an unloaded module is harmless rather than garbage.
        self[MEAN_KEY] = mx.zeros((channels,))
        self[STD_KEY] = mx.ones((channels,))

    def _check(self, x: mx.array) -> None:
        if x.ndim < 1 or x.shape[-1] != self.channels:
            raise ShapeError(
                f"PerChannelStatistics: expected last axis of size {self.channels} (channels-last), "
                f"got shape {tuple(x.shape)}"
            )

    def normalize(self, x: mx.array) -> mx.array:
        """Raw latent (..., C) -> normalized latent (..., C), in x's dtype."""
        self._check(x)
        mean = self[MEAN_KEY].astype(x.dtype)
        std = self[STD_KEY].astype(x.dtype)
        return (x - mean) / std

    def un_normalize(self, x: mx.array) -> mx.array:
        """Normalized latent (..., C) -> raw latent (..., C), in x's dtype."""
        self._check(x)
        mean = self[MEAN_KEY].astype(x.dtype)
        std = self[STD_KEY].astype(x.dtype)
        return x * std + mean
