"""1D transformer connector: text features -> the diffusion transformer's text context.

Pads (already moved to the end of each row) are replaced by learnable registers tiled over the
sequence by absolute position, after which every position is attended; 1D split RoPE over the
position index; pre-norm blocks (weightless RMS norm, self-attention, feed-forward) and a final norm.
"""

from __future__ import annotations

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.transformer.attention import Attention
from ltxmlx.model.transformer.feed_forward import FeedForward
from ltxmlx.model.transformer.rope import freq_grid, split_rope_tables

_NORM_EPS = 1e-6


def _rms(x: mx.array) -> mx.array:
    return mx.fast.rms_norm(x, None, _NORM_EPS)


class BasicTransformerBlock1D(nn.Module):
    """`attn1` (self-attention, optionally gated) and `ff`, each after a weightless RMS norm."""

    def __init__(self, dim: int, heads: int, dim_head: int, gated: bool):
        super().__init__()
        self.attn1 = Attention(dim, None, heads, dim_head, gated=gated, norm_eps=_NORM_EPS)
        self.ff = FeedForward(dim)

    def __call__(self, x: mx.array, pe: tuple[mx.array, mx.array]) -> mx.array:
        x = x + self.attn1(_rms(x), pe=pe)
        return x + self.ff(_rms(x))


class Embeddings1DConnector(nn.Module):
    """Keys: `learnable_registers` (R, D), `transformer_1d_blocks.N.{attn1,ff}.*`."""

    def __init__(
        self,
        heads: int,
        dim_head: int,
        num_layers: int,
        max_pos: int,
        theta: float,
        num_registers: int,
        gated: bool,
    ):
        super().__init__()
        self.heads, self.inner_dim = heads, heads * dim_head
        self.max_pos, self.theta = max_pos, theta
        self.learnable_registers = mx.zeros((num_registers, self.inner_dim))
        self.transformer_1d_blocks = [
            BasicTransformerBlock1D(self.inner_dim, heads, dim_head, gated) for _ in range(num_layers)
        ]

    def rope_tables(self, batch: int, length: int) -> tuple[mx.array, mx.array]:
        """(cos, sin), each (B, T, heads, dim_head/2): positions 0..T-1 over max_pos, no midpoints."""
        fractions = (mx.arange(length, dtype=mx.float32) / self.max_pos)[None, None, :]
        fractions = mx.broadcast_to(fractions, (batch, 1, length))
        return split_rope_tables(fractions, freq_grid(self.theta, self.inner_dim, 1), self.inner_dim, self.heads)

    def __call__(self, x: mx.array, valid: mx.array) -> mx.array:
        """x: (B, T, D) features with valid tokens first; valid: (B, T) bool -> (B, T, D).

        T must be a multiple of the register count (128): registers tile by absolute index.
        """
        b, t, d = x.shape
        registers = self.learnable_registers.shape[0]
        if d != self.inner_dim:
            raise ShapeError(f"connector: expected features (B, T, {self.inner_dim}), got {tuple(x.shape)}")
        if t % registers:
            raise ShapeError(f"connector: text length {t} must be a multiple of the {registers} learnable registers")
        if valid.shape != (b, t):
            raise ShapeError(f"connector: expected a ({b}, {t}) mask, got {tuple(valid.shape)}")
        tiled = mx.tile(self.learnable_registers, (t // registers, 1)).astype(x.dtype)
        x = mx.where(valid[:, :, None], x, tiled[None])
        pe = self.rope_tables(b, t)
        for block in self.transformer_1d_blocks:
            x = block(x, pe)
        return _rms(x)
