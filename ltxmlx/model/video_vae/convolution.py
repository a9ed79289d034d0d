"""Causal 3D convolution, channels-last: time padding by repeating edge frames, spatial
padding zeros or reflect (as the official CausalConv3d)."""

from __future__ import annotations

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ShapeError


def reflect_pad_hw(x: mx.array, pad: int) -> mx.array:
    """Reflect-pad H and W (axes 2, 3) of (B, F, H, W, C) by `pad` (edge not repeated)."""
    if pad == 0:
        return x
    h, w = x.shape[2], x.shape[3]
    if h <= pad or w <= pad:
        raise ShapeError(f"reflect padding by {pad} needs H and W > {pad}, got H={h}, W={w}")
    top = x[:, :, pad:0:-1]
    bottom = x[:, :, -2 : -pad - 2 : -1]
    x = mx.concatenate([top, x, bottom], axis=2)
    left = x[:, :, :, pad:0:-1]
    right = x[:, :, :, -2 : -pad - 2 : -1]
    return mx.concatenate([left, x, right], axis=3)


def repeat_frames(x: mx.array, front: int, back: int) -> mx.array:
    """Pad time (axis 1) with `front` copies of the first frame and `back` of the last."""
    parts = []
    if front:
        parts.append(mx.repeat(x[:, :1], front, axis=1))
    parts.append(x)
    if back:
        parts.append(mx.repeat(x[:, -1:], back, axis=1))
    return mx.concatenate(parts, axis=1) if len(parts) > 1 else x


class CausalConv3d(nn.Module):
    """Conv3d (kernel k, `padding_mode` spatially, none in time) after time padding:
    causal: k-1 copies of frame 0 in front; non-causal: (k-1)/2 copies of the first and last.

    Input (B, F, H, W, Cin) -> (B, F', H', W', Cout). Weights `conv.weight` (Cout, k, k, k, Cin).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding_mode: str = "zeros"):
        super().__init__()
        self.kernel_size = kernel_size
        self.padding_mode = padding_mode
        pad = kernel_size // 2
        # Zero padding is fused into the conv call; reflect is done by slicing.
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel_size, padding=(0, pad, pad) if padding_mode == "zeros" else 0
        )

    def __call__(self, x: mx.array, causal: bool) -> mx.array:
        k = self.kernel_size
        x = repeat_frames(x, k - 1, 0) if causal else repeat_frames(x, (k - 1) // 2, (k - 1) // 2)
        if self.padding_mode == "reflect":
            x = reflect_pad_hw(x, k // 2)
        return self.conv(x)
