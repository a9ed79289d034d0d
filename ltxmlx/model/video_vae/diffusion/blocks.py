"""Transformer blocks of the diffusion decoder: deterministic NA blocks (stages 1-4) and the
AdaLN-modulated diffusion blocks of stage 5."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
from mlx import nn

from ltxmlx.model.video_vae.diffusion.layers import NORM_EPS, NUM_MODULATION_CHUNKS, NeighborhoodAttention3D, SwiGLU

# The reference decode (its default "chunked" mode) runs stage-5 attention on 4 slabs along W,
# each widened by kernel_w // 2 neighbours; at the true W borders the widening replicates the
# edge column. This changes the W-border windows, so the split is part of the numerics.
STAGE5_W_CHUNKS = 4


class NABlock(nn.Module):
    """Pre-norm block: `x + attn(norm1(x))`, then `x + mlp(norm2(x))`."""

    def __init__(self, dim: int, kernel: tuple[int, int, int], head_dim: int):
        super().__init__()
        self.norm1 = nn.RMSNorm(dim, eps=NORM_EPS)
        self.attn = NeighborhoodAttention3D(dim, kernel, head_dim)
        self.norm2 = nn.RMSNorm(dim, eps=NORM_EPS)
        self.mlp = SwiGLU(dim)

    def __call__(self, x: mx.array) -> mx.array:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _repeat(x: mx.array, index: int, count: int) -> mx.array:
    """`count` copies of W column `index` of x (B, T, H, W, C)."""
    col = x[:, :, :, index : index + 1]
    return mx.broadcast_to(col, (*col.shape[:3], count, col.shape[4]))


def _w_slabs(x: mx.array, chunks: int, halo: int):
    """Yield (slab, core_start, core_len) as the reference's W-chunked residual builds them."""
    b, t, h, w, c = x.shape
    chunk = -(-w // chunks)
    extent = chunk + 2 * halo
    prev_end, prev_len = 0, 0
    for i in range(chunks):
        start, end = i * chunk, min(w, (i + 1) * chunk)
        core = end - start
        if core <= 0:
            continue  # an empty slab adds nothing
        if i == 0:
            left = _repeat(x, start, halo)
        else:
            take = min(halo, prev_len)
            zeros = mx.zeros((b, t, h, halo - take, c), dtype=x.dtype)
            left = mx.concatenate([zeros, x[:, :, :, prev_end - take : prev_end]], axis=3)
        right = x[:, :, :, end : min(w, end + halo)] if i + 1 < chunks else x[:, :, :, end:end]
        missing = extent - (halo + core + right.shape[3])
        parts = [left, x[:, :, :, start:end], right]
        if missing > 0:
            parts.append(_repeat(x, end - 1, missing))
        yield mx.concatenate(parts, axis=3), start, core
        prev_end, prev_len = end, core


class DiffusionNABlock(nn.Module):
    """Stage-5 block: add the projected context, then AdaLN-modulated attention and MLP residuals.

    Modulation = shared AdaLN output + this block's `scale_shift_table`; only the scale/shift slots
    are used (the static gates are folded into `attn.proj`, `mlp.w_down` and `context_proj` at load).
    """

    def __init__(self, dim: int, kernel: tuple[int, int, int], context_channels: int, head_dim: int):
        super().__init__()
        self.context_proj = nn.Linear(context_channels, dim)
        self.scale_shift_table = mx.zeros((NUM_MODULATION_CHUNKS, dim))
        self.norm1 = nn.RMSNorm(dim, eps=NORM_EPS)
        self.attn = NeighborhoodAttention3D(dim, kernel, head_dim)
        self.norm2 = nn.RMSNorm(dim, eps=NORM_EPS)
        self.mlp = SwiGLU(dim)
        self.w_chunks = STAGE5_W_CHUNKS

    def _attention(self, x: mx.array, scale: mx.array, shift: mx.array) -> mx.array:
        halo = self.attn.kernel[2] // 2
        b = x.shape[0]
        # Slabs are cut from x before the norm, as in the reference (its zero fill becomes `shift`);
        # all have the same width, so they run as one batch with their own W positions.
        slabs = list(_w_slabs(x, self.w_chunks, halo))
        n = len(slabs)
        positions = np.repeat(np.stack([np.arange(s.shape[3]) + (start - halo) for s, start, _ in slabs]), b, axis=0)
        batch = slabs[0][0] if n == 1 else mx.concatenate([s for s, _, _ in slabs], axis=0)
        tile = (n, 1, 1, 1, 1)
        y = self.norm1(batch) * (1.0 + mx.tile(scale, tile)) + mx.tile(shift, tile)
        out = self.attn(y, positions)
        cores = [out[i * b : (i + 1) * b, :, :, halo : halo + core] for i, (_, _, core) in enumerate(slabs)]
        return cores[0] if n == 1 else mx.concatenate(cores, axis=3)

    def __call__(self, x: mx.array, context: mx.array, modulation: list[mx.array]) -> mx.array:
        """x (B, T, H, W, dim), context (B, T, H, W, context_channels), modulation: 7 x (B, 1, 1, 1, dim)."""
        table = self.scale_shift_table.astype(x.dtype)
        scale_msa, shift_msa, _, scale_mlp, shift_mlp = (modulation[i] + table[i] for i in range(5))
        x = x + self.context_proj(context)
        x = x + self._attention(x, scale_msa, shift_msa)
        return x + self.mlp(self.norm2(x) * (1.0 + scale_mlp) + shift_mlp)
