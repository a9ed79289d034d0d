"""Split rotary position embedding (LTX ``rope_type: split``).

The frequency grid is a per-config constant computed once on the host in float64 (the official
``frequencies_precision: float64``) and cast to float32; per-token angles are computed on the
device in float32, once per forward, and shared by every block.
"""

from __future__ import annotations

import functools
import math

import mlx.core as mx
import numpy as np

from ltxmlx.errors import ShapeError


@functools.lru_cache(maxsize=16)
def freq_grid(theta: float, inner_dim: int, n_axes: int) -> mx.array:
    """Frequencies ``theta ** linspace(0, 1, F) * pi/2`` with ``F = inner_dim // (2*n_axes)``.

    Returns a float32 array of shape (F,). Cached per (theta, inner_dim, n_axes).
    """
    count = inner_dim // (2 * n_axes)
    if count < 1:
        raise ShapeError(f"RoPE: inner_dim {inner_dim} too small for {n_axes} axes (need >= {2 * n_axes})")
    grid = np.power(np.float64(theta), np.linspace(0.0, 1.0, count, dtype=np.float64)) * math.pi / 2
    return mx.array(grid.astype(np.float32))


def positions_to_fractions(positions: mx.array, max_pos: tuple[float, ...]) -> mx.array:
    """Midpoints of [start, end) bounds divided by ``max_pos``.

    positions: (B, n_axes, T, 2) -> (B, n_axes, T) float32.
    """
    if positions.ndim != 4 or positions.shape[-1] != 2 or positions.shape[1] != len(max_pos):
        raise ShapeError(f"positions: expected (B, {len(max_pos)}, T, 2), got {tuple(positions.shape)}")
    positions = positions.astype(mx.float32)
    middle = (positions[..., 0] + positions[..., 1]) / 2.0
    scale = mx.array(max_pos, dtype=mx.float32)[None, :, None]
    return middle / scale


def split_rope_tables(fractions: mx.array, grid: mx.array, inner_dim: int, heads: int) -> tuple[mx.array, mx.array]:
    """Per-token cos/sin tables.

    fractions: (B, n_axes, T) float32 positions already divided by max_pos (midpoints).
    grid: (F,) from :func:`freq_grid`.
    Returns (cos, sin), each (B, T, heads, inner_dim // heads // 2) float32, token-major like the
    projected q/k, so the rotation reads contiguous rows. Angles are laid out frequency-major,
    axis-minor and front-padded with the identity rotation to inner_dim // 2.
    """
    if fractions.ndim != 3:
        raise ShapeError(f"RoPE fractions: expected (B, n_axes, T), got {tuple(fractions.shape)}")
    b, n_axes, t = fractions.shape
    half = inner_dim // 2
    used = grid.shape[0] * n_axes
    if inner_dim % 2 or half % heads or used > half:
        raise ShapeError(
            f"RoPE: inner_dim {inner_dim} must be even, inner_dim/2 divisible by heads {heads} and "
            f">= {used} angles ({grid.shape[0]} frequencies x {n_axes} axes)"
        )
    signed = fractions.astype(mx.float32).transpose(0, 2, 1) * 2 - 1  # (B, T, axes)
    angles = (grid[:, None] * signed[:, :, None, :]).reshape(b, t, used)  # (B, T, F*axes)
    cos, sin = mx.cos(angles), mx.sin(angles)
    pad = half - used
    if pad:
        cos = mx.concatenate([mx.ones((b, t, pad), dtype=cos.dtype), cos], axis=-1)
        sin = mx.concatenate([mx.zeros((b, t, pad), dtype=sin.dtype), sin], axis=-1)
    return cos.reshape(b, t, heads, half // heads), sin.reshape(b, t, heads, half // heads)


@mx.compile
def _rotate(x: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
    # One fused pass, no concatenate: view each head as (2, Dh/2) halves and pair it with its
    # half-swapped view (a reversed-stride slice, no copy); the sign row negates sin for x1.
    halves = x.reshape(*x.shape[:-1], 2, x.shape[-1] // 2)
    swapped = halves[..., ::-1, :]
    sign = mx.array([[-1.0], [1.0]], dtype=sin.dtype)
    out = halves * cos[..., None, :] + swapped * (sin[..., None, :] * sign)
    return out.reshape(x.shape).astype(x.dtype)


def apply_split_rope(x: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
    """Rotate the two halves of each head: ``[x1*cos - x2*sin, x2*cos + x1*sin]``.

    x: (B, T, H, Dh); cos, sin: (B or 1, T, H, Dh/2). Returns x's shape and dtype.
    """
    if cos.shape != sin.shape or x.ndim != 4 or cos.ndim != 4 or cos.shape[1:] != (*x.shape[1:3], x.shape[3] // 2):
        raise ShapeError(
            f"RoPE: expected x (B, T, H, Dh) with cos/sin (B, T, H, Dh/2), got x {tuple(x.shape)}, "
            f"cos {tuple(cos.shape)}, sin {tuple(sin.shape)}"
        )
    return _rotate(x, cos, sin)
