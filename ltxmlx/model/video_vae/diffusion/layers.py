"""Layers of the diffusion decoder's NA transformer; all act on channels-last (B, T, H, W, C)."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
from mlx import nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.video_vae.diffusion.neighborhood import apply_rope, default_rope_split, na3d
from ltxmlx.model.video_vae.ops import depth_to_space

NORM_EPS = 1e-6
NUM_MODULATION_CHUNKS = 7  # scale/shift/gate msa, scale/shift/gate mlp, gate ctx (gates are folded at load)


class LinearPixelShuffleUpsample(nn.Module):
    """`proj` widens channels, then depth-to-space by `stride`; with a time stride of 2 the first
    output frame duplicates the causal origin and is dropped (1 + 2(F-1) frames from F)."""

    def __init__(self, in_channels: int, stride: tuple[int, int, int], reduction: int):
        super().__init__()
        self.stride = tuple(stride)
        self.proj = nn.Linear(in_channels, math.prod(stride) * in_channels // reduction)

    def __call__(self, x: mx.array, drop_leading_frame: bool = True) -> mx.array:
        x = depth_to_space(self.proj(x), self.stride)
        return x[:, 1:] if self.stride[0] == 2 and drop_leading_frame else x


class AdaLNZero(nn.Module):
    """Timestep embedding -> 7 per-channel modulation vectors, each (B, 1, 1, 1, dim)."""

    def __init__(self, dim: int, t_emb_dim: int):
        super().__init__()
        self.proj = nn.Linear(t_emb_dim, NUM_MODULATION_CHUNKS * dim)

    def __call__(self, t_emb: mx.array) -> list[mx.array]:
        h = self.proj(nn.silu(t_emb))
        return [c[:, None, None, None, :] for c in mx.split(h, NUM_MODULATION_CHUNKS, axis=-1)]


class SwiGLU(nn.Module):
    """`w_down(silu(w_gate(x)) * w_up(x))`; hidden = 4*dim rounded up to 16."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0):
        super().__init__()
        hidden = (int(dim * mlp_ratio) + 15) // 16 * 16
        self.w_up = nn.Linear(dim, hidden, bias=False)
        self.w_gate = nn.Linear(dim, hidden, bias=False)
        self.w_down = nn.Linear(hidden, dim, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.w_down(nn.silu(self.w_gate(x)) * self.w_up(x))


class NeighborhoodAttention3D(nn.Module):
    """Fused `qkv` projection, per-head RMS-normed q/k, absolute 3-D RoPE, neighborhood attention,
    output `proj`. The checkpoint's fused `qkv` Linear is kept as one module (q | k | v rows)."""

    def __init__(self, dim: int, kernel: tuple[int, int, int], head_dim: int):
        super().__init__()
        if dim % head_dim:
            raise ShapeError(f"NeighborhoodAttention3D: dim {dim} is not a multiple of head_dim {head_dim}")
        self.dim, self.head_dim, self.heads = dim, head_dim, dim // head_dim
        self.kernel = tuple(kernel)
        self.rope_split = default_rope_split(head_dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.q_norm = nn.RMSNorm(head_dim, eps=NORM_EPS)
        self.k_norm = nn.RMSNorm(head_dim, eps=NORM_EPS)

    def __call__(self, x: mx.array, w_positions: np.ndarray | None = None) -> mx.array:
        """x (B, T, H, W, dim) -> (B, T, H, W, dim). Every axis must be at least the kernel."""
        b, t, h, w, _ = x.shape
        if t < self.kernel[0] or h < self.kernel[1] or w < self.kernel[2]:
            raise ShapeError(
                f"neighborhood attention needs a volume of at least the kernel {self.kernel}, got (T, H, W) = {(t, h, w)}"
            )
        q, k, v = mx.split(self.qkv(x).reshape(b, t, h, w, 3 * self.heads, self.head_dim), 3, axis=4)
        q = apply_rope(self.q_norm(q) * self.head_dim**-0.5, self.rope_split, w_positions)
        k = apply_rope(self.k_norm(k), self.rope_split, w_positions)
        out = na3d(q, k, v.astype(q.dtype), self.kernel)
        return self.proj(out.reshape(b, t, h, w, self.dim))
