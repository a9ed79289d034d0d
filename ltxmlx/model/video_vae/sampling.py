"""Space-to-depth downsampling (encoder) and depth-to-space upsampling (decoder), channels-last."""

from __future__ import annotations

import math

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ConfigError
from ltxmlx.model.video_vae.convolution import CausalConv3d
from ltxmlx.model.video_vae.ops import depth_to_space, space_to_depth
from ltxmlx.model.video_vae.temporal_context import TemporalContext


class SpaceToDepthDownsample(nn.Module):
    """conv (Cin -> Cout/prod(stride)) then space-to-depth, plus a parameter-free residual: the
    space-to-depth of the input averaged over groups of Cin*prod(stride)/Cout channels.

    (B, F, H, W, Cin) -> (B, F/st, H/sh, W/sw, Cout); with time stride 2 frame 0 is duplicated in
    front first, so F = 1 + 8k style counts map to 1 + 4k.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int, int], padding_mode: str):
        super().__init__()
        n = math.prod(stride)
        if (in_channels * n) % out_channels or out_channels % n:
            raise ConfigError(
                "vae.encoder_blocks",
                f"{in_channels}->{out_channels} stride {stride}",
                f"channels with {out_channels} dividing {in_channels}*{n} and divisible by {n}",
            )
        self.stride = stride
        self.group_size = in_channels * n // out_channels
        self.conv = CausalConv3d(in_channels, out_channels // n, 3, padding_mode)

    def __call__(self, x: mx.array, causal: bool = True) -> mx.array:
        if self.stride[0] == 2:
            x = mx.concatenate([x[:, :1], x], axis=1)
        skip = space_to_depth(x, self.stride)
        b, f, h, w, c = skip.shape
        skip = skip.reshape(b, f, h, w, c // self.group_size, self.group_size).mean(axis=-1)
        return space_to_depth(self.conv(x, causal), self.stride) + skip


class DepthToSpaceUpsample(nn.Module):
    """conv (C -> prod(stride)*C/reduction) then depth-to-space; with time stride 2 the first output
    frame is dropped (F -> 2F - 1). `residual` adds the depth-to-space of the input, tiled along
    channels prod(stride)/reduction times.

    (B, F, H, W, C) -> (B, F*st - (st-1), H*sh, W*sw, C/reduction).
    """

    def __init__(
        self, in_channels: int, stride: tuple[int, int, int], reduction: int, residual: bool, padding_mode: str
    ):
        super().__init__()
        n = math.prod(stride)
        if (n * in_channels) % reduction or (residual and (in_channels % n or n % reduction)):
            raise ConfigError(
                "vae.decoder_blocks",
                f"{in_channels} channels, stride {stride}, multiplier {reduction}",
                "channel counts divisible by the stride volume and the multiplier",
            )
        self.stride = stride
        self.residual = residual
        self.repeats = n // reduction
        self.conv = CausalConv3d(in_channels, n * in_channels // reduction, 3, padding_mode)

    def _expand(self, y: mx.array, x: mx.array) -> mx.array:
        """Conv output y and the matching input frames x -> depth-to-space (+ residual)."""
        y = depth_to_space(y, self.stride)
        if self.residual:
            skip = depth_to_space(x, self.stride)
            # Channel k of the skip is input channel k mod C (torch .repeat tiles, not interleaves).
            y = y + (mx.tile(skip, (1, 1, 1, 1, self.repeats)) if self.repeats > 1 else skip)
        return y

    def __call__(self, x: mx.array, causal: bool) -> mx.array:
        y = self._expand(self.conv(x, causal), x)
        return y[:, 1:] if self.stride[0] == 2 else y

    def stream(self, x: mx.array | None, causal: bool, ctx: TemporalContext) -> mx.array | None:
        """One chunk of a streamed video (see `CausalConv3d.stream`): only the video's first output
        frame is dropped, in the chunk that produces it."""
        y = self.conv.stream(x, causal, ctx)
        skip = ctx.align(self, x, 0 if y is None else y.shape[1]) if self.residual else None
        if y is None:
            return None
        y = self._expand(y, skip)
        if self.stride[0] == 2 and ctx.start(self, "first frame"):
            y = y[:, 1:]
        return y if y.shape[1] else None
