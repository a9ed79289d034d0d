"""Causal 3D convolution, channels-last: time padding by repeating edge frames, spatial
padding zeros or reflect (as the official CausalConv3d)."""

from __future__ import annotations

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.video_vae.temporal_context import TemporalContext, join_frames


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

    def time_padding(self, causal: bool) -> tuple[int, int]:
        """Repeated first / last frames in front of / after the video."""
        k = self.kernel_size
        return (k - 1, 0) if causal else ((k - 1) // 2, (k - 1) // 2)

    def _convolve(self, x: mx.array) -> mx.array:
        if self.padding_mode == "reflect":
            x = reflect_pad_hw(x, self.kernel_size // 2)
        return self.conv(x)

    def __call__(self, x: mx.array, causal: bool) -> mx.array:
        return self._convolve(repeat_frames(x, *self.time_padding(causal)))

    def stream(self, x: mx.array | None, causal: bool, ctx: TemporalContext) -> mx.array | None:
        """One chunk of a streamed video: the output frames that the frames seen so far determine, in
        order; over all chunks they concatenate to `self(video, causal)` exactly. Carries the last
        k-1 (time-padded) input frames in `ctx`."""
        front, back = self.time_padding(causal)
        frames = self._with_context(x, front, ctx)
        if frames is None:
            return None
        if ctx.last and back:
            frames = repeat_frames(frames, 0, back)
        keep = self.kernel_size - 1
        ctx.carry(self, "input", frames[:, max(0, frames.shape[1] - keep) :] if keep else None)
        if frames.shape[1] < self.kernel_size:
            return None
        return self._convolve(frames)

    def _with_context(self, x: mx.array | None, front: int, ctx: TemporalContext) -> mx.array | None:
        """Carried input frames followed by the chunk; the video's first frame repeated in front."""
        carried = ctx.carried(self, "input")
        if carried is None and x is not None and ctx.start(self, "input"):
            carried = repeat_frames(x[:, :1], front - 1, 0) if front else None
        return join_frames(carried, x)
