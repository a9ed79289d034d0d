"""Residual block of the latent upsampler: conv-GN-SiLU-conv-GN, then SiLU(x + residual)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.model.upsampler.config import NORM_GROUPS


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm(32) grouping channels as PyTorch does; mx.fast.layer_norm keeps bf16 stats in float32."""
    return nn.GroupNorm(NORM_GROUPS, channels, eps=1e-5, pytorch_compatible=True)


class ResBlock(nn.Module):
    """Shape-preserving block on channels-last (B, F, H, W, C) with Conv3d k3 p1."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv3d(channels, channels, kernel_size=3, padding=1)
        self.norm1 = group_norm(channels)
        self.conv2 = nn.Conv3d(channels, channels, kernel_size=3, padding=1)
        self.norm2 = group_norm(channels)

    def __call__(self, x: mx.array) -> mx.array:
        y = nn.silu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return nn.silu(y + x)
