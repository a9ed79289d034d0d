"""Residual blocks of the video VAE (pixel norm variant, channels-last)."""

from __future__ import annotations

import mlx.core as mx
from mlx import nn

from ltxmlx.model.video_vae.convolution import CausalConv3d
from ltxmlx.model.video_vae.ops import pixel_norm
from ltxmlx.model.video_vae.temporal_context import TemporalContext


def _act(x: mx.array | None) -> mx.array | None:
    return None if x is None else nn.silu(pixel_norm(x))


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

    def stream(self, x: mx.array | None, causal: bool, ctx: TemporalContext) -> mx.array | None:
        """One chunk of a streamed video (see `CausalConv3d.stream`); the skip input waits in `ctx`
        until the convolutions have produced the frames it is added to."""
        h = self.conv2.stream(_act(self.conv1.stream(_act(x), causal, ctx)), causal, ctx)
        skip = ctx.align(self, x, 0 if h is None else h.shape[1])
        return None if h is None else skip + h


class UNetMidBlock3D(nn.Module):
    """`num_layers` ResnetBlock3D in sequence (the `res_x` block); keys `res_blocks.<i>.*`."""

    def __init__(self, channels: int, num_layers: int, padding_mode: str):
        super().__init__()
        self.res_blocks = [ResnetBlock3D(channels, padding_mode) for _ in range(num_layers)]

    def __call__(self, x: mx.array, causal: bool) -> mx.array:
        for block in self.res_blocks:
            x = block(x, causal)
        return x

    def stream(self, x: mx.array | None, causal: bool, ctx: TemporalContext) -> mx.array | None:
        for block in self.res_blocks:
            x = block.stream(x, causal, ctx)
        return x
