"""Latent upsampler (spatial x2 or temporal x2) and the stats-wrapped `upsample_video`.

Mirrors ltx_core/model/upsampler/model.py. Public inputs and outputs are VAE latents
(B, C, F, H, W); everything inside runs channels-last (B, F, H, W, C).
"""

from __future__ import annotations

from typing import Protocol

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.upsampler.config import LatentUpsamplerConfig
from ltxmlx.model.upsampler.pixel_shuffle import PixelShuffle2D, PixelShuffleTime
from ltxmlx.model.upsampler.res_block import ResBlock, group_norm


class LatentUpsampler(nn.Module):
    """initial_conv -> GN -> SiLU -> res_blocks -> upsampler -> post_upsample_res_blocks -> final_conv.

    Spatial: per-frame Conv2d(mid -> 4*mid) + pixel shuffle x2, (B, C, F, H, W) -> (B, C, F, 2H, 2W).
    Temporal: Conv3d(mid -> 2*mid) + pixel shuffle x2 in time, then the first frame is dropped
    because latent frame 0 stands for a single pixel frame: (B, C, F, H, W) -> (B, C, 2F-1, H, W).
    """

    def __init__(self, config: LatentUpsamplerConfig):
        super().__init__()
        self.config = config
        cin, mid, n = config.in_channels, config.mid_channels, config.num_blocks_per_stage
        self.initial_conv = nn.Conv3d(cin, mid, kernel_size=3, padding=1)
        self.initial_norm = group_norm(mid)
        self.res_blocks = [ResBlock(mid) for _ in range(n)]
        # A list so that the checkpoint's `upsampler.0.*` keys name the convolution.
        if config.spatial_upsample:
            self.upsampler = [nn.Conv2d(mid, 4 * mid, kernel_size=3, padding=1), PixelShuffle2D(2)]
        else:
            self.upsampler = [nn.Conv3d(mid, 2 * mid, kernel_size=3, padding=1), PixelShuffleTime(2)]
        self.post_upsample_res_blocks = [ResBlock(mid) for _ in range(n)]
        self.final_conv = nn.Conv3d(mid, cin, kernel_size=3, padding=1)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """(B, C, F, H, W) of the output for an input of `shape`; raises ShapeError on a bad input."""
        if len(shape) != 5:
            raise ShapeError(f"LatentUpsampler: expected a latent (B, C, F, H, W), got shape {tuple(shape)}")
        b, c, f, h, w = shape
        if c != self.config.in_channels:
            raise ShapeError(
                f"LatentUpsampler: expected {self.config.in_channels} latent channels, got {c} (shape {tuple(shape)})"
            )
        if min(b, f, h, w) < 1:
            raise ShapeError(f"LatentUpsampler: expected non-empty B, F, H, W, got shape {tuple(shape)}")
        if self.config.spatial_upsample:
            return b, c, f, 2 * h, 2 * w
        return b, c, 2 * f - 1, h, w

    def __call__(self, latent: mx.array) -> mx.array:
        """(B, C, F, H, W) -> (B, C, F, 2H, 2W) (spatial) or (B, C, 2F-1, H, W) (temporal)."""
        self.output_shape(tuple(latent.shape))
        x = latent.transpose(0, 2, 3, 4, 1)  # the one channels-last boundary
        x = self.forward_channels_last(x)
        return x.transpose(0, 4, 1, 2, 3)

    def forward_channels_last(self, x: mx.array) -> mx.array:
        """(B, F, H, W, C) -> upsampled (B, F', H', W', C); callers validate the shape."""
        x = nn.silu(self.initial_norm(self.initial_conv(x)))
        for block in self.res_blocks:
            x = block(x)
        conv, shuffle = self.upsampler
        if self.config.spatial_upsample:
            # The 2D convolution sees each frame alone: fold frames into the batch.
            b, f, h, w, c = x.shape
            x = shuffle(conv(x.reshape(b * f, h, w, c)))
            x = x.reshape(b, f, 2 * h, 2 * w, c)
        else:
            x = shuffle(conv(x))[:, 1:]
        for block in self.post_upsample_res_blocks:
            x = block(x)
        return self.final_conv(x)


class LatentStatistics(Protocol):
    """Per-channel statistics of the video VAE acting on channels-last (..., C) latents."""

    def normalize(self, x: mx.array) -> mx.array: ...

    def un_normalize(self, x: mx.array) -> mx.array: ...


def upsample_video(latent: mx.array, upsampler: LatentUpsampler, stats: LatentStatistics) -> mx.array:
    """Upsample a normalized video latent (B, C, F, H, W) as the two-stage pipelines do between stages.

    The upsampler was trained on raw VAE latents, so the latent is un-normalized with the video
    VAE's per-channel statistics first and normalized again afterwards. Output shape as
    `LatentUpsampler.__call__`.
    """
    upsampler.output_shape(tuple(latent.shape))
    x = stats.un_normalize(latent.transpose(0, 2, 3, 4, 1))  # the one channels-last boundary
    x = stats.normalize(upsampler.forward_channels_last(x))
    return x.transpose(0, 4, 1, 2, 3)
