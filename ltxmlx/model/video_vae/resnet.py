"""Residual blocks of the video VAE (pixel norm variant, channels-last)."""

from __future__ import annotations

import mlx.core as mx
from mlx import nn

from ltxmlx.model.video_vae.convolution import CausalConv3d
from ltxmlx.model.video_vae.ops import pixel_norm


class ResnetBlock3D(nn.Module):
    """x + conv2(silu(norm(conv1(silu(norm(x)))))) with equal in/out channels: (B, F, H, W, C) -> same."""

    def __init__(self, channels: int, padding_mode: str):
        super().__init__()
        self.conv1 = CausalConv3d(channels, channels, 3, padding_mode)
        self.conv2 = CausalConv3d(channels, channels, 3, padding_mode)

    def __call__(self, x: mx.array, causal: bool) -> mx.array:
        h = self.conv1(nn.silu(pixel_norm(x)), causal)
        h = self.conv2(nn.silu(pixel_norm(h)), causal)
        return x + h


class UNetMidBlock3D(nn.Module):
    """`num_layers` ResnetBlock3D in sequence (the `res_x` block); keys `res_blocks.<i>.*`."""

    def __init__(self, channels: int, num_layers: int, padding_mode: str):
        super().__init__()
        self.res_blocks = [ResnetBlock3D(channels, padding_mode) for _ in range(num_layers)]

    def __call__(self, x: mx.array, causal: bool) -> mx.array:
        for block in self.res_blocks:
            x = block(x, causal)
        return x
