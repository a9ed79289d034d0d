"""Channels-last pixel shuffles: move channel sub-blocks into the frame or spatial axes.

The channel split order matches PyTorch's `(c p1 p2)` layout (the factor index varies fastest),
which is how the upsampler convolutions' output channels are laid out in the checkpoints.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError


def _split_channels(x: mx.array, factor: int, what: str) -> int:
    """Channels left after folding `factor` of them into the upsampled axes; checked, not truncated."""
    c = x.shape[-1]
    if c % factor:
        raise ShapeError(f"{what}: expected channels divisible by {factor}, got {c} (shape {tuple(x.shape)})")
    return c // factor


def pixel_shuffle_2d(x: mx.array, factor: int) -> mx.array:
    """(N, H, W, C*f*f) -> (N, H*f, W*f, C)."""
    if x.ndim != 4:
        raise ShapeError(f"pixel_shuffle_2d: expected (N, H, W, C), got shape {tuple(x.shape)}")
    n, h, w, _ = x.shape
    c = _split_channels(x, factor * factor, "pixel_shuffle_2d")
    x = x.reshape(n, h, w, c, factor, factor)
    x = x.transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, h * factor, w * factor, c)


def pixel_shuffle_time(x: mx.array, factor: int) -> mx.array:
    """(B, F, H, W, C*f) -> (B, F*f, H, W, C); output frame k*f + i comes from sub-block i of frame k."""
    if x.ndim != 5:
        raise ShapeError(f"pixel_shuffle_time: expected (B, F, H, W, C), got shape {tuple(x.shape)}")
    b, f, h, w, _ = x.shape
    c = _split_channels(x, factor, "pixel_shuffle_time")
    x = x.reshape(b, f, h, w, c, factor)
    x = x.transpose(0, 1, 5, 2, 3, 4)
    return x.reshape(b, f * factor, h, w, c)


class PixelShuffle2D(nn.Module):
    """Spatial pixel shuffle by `factor` on (N, H, W, C*factor**2); no parameters."""

    def __init__(self, factor: int = 2):
        super().__init__()
        self.factor = factor

    def __call__(self, x: mx.array) -> mx.array:
        return pixel_shuffle_2d(x, self.factor)


class PixelShuffleTime(nn.Module):
    """Temporal pixel shuffle by `factor` on (B, F, H, W, C*factor); no parameters."""

    def __init__(self, factor: int = 2):
        super().__init__()
        self.factor = factor

    def __call__(self, x: mx.array) -> mx.array:
        return pixel_shuffle_time(x, self.factor)
