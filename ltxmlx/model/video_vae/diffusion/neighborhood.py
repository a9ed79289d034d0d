"""3-D neighborhood attention (NATTEN `na3d` semantics) and the decoder's absolute 3-D RoPE.

Each query attends to the `kernel` keys around it on every axis; near a border the window is
shifted inward (clamped), never padded, so every query sees exactly `prod(kernel)` keys when the
volume is at least the kernel. Queries are cut into equal tiles, each attending the key range that
covers its windows under a per-tile mask; tiles run as batched masked SDPA calls within a score budget.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltxmlx.errors import ShapeError

# Query tile per axis (T, H, W) and the budget of attention scores (elements) per SDPA call.
DEFAULT_TILE = (4, 8, 8)
SCORE_BUDGET = 2**28


def window_starts(length: int, kernel: int) -> np.ndarray:
    """First key index of each query's window along one axis (clamped inside [0, length))."""
    kernel = min(kernel, length)
    return np.clip(np.arange(length) - kernel // 2, 0, length - kernel)


@dataclass(frozen=True)
class _AxisPlan:
    """One axis cut into `count` query tiles of `size` (the last padded by repeating the last query);
    tile j attends keys `keys[j]` (`span` consecutive indices) under `mask[j]` (size, span)."""

    count: int
    size: int
    span: int
    queries: np.ndarray  # (count * size,) query index per padded position
    keys: np.ndarray  # (count, span)
    mask: np.ndarray  # (count, size, span) bool


@functools.lru_cache(maxsize=256)
def _axis_plan(length: int, kernel: int, tile: int) -> _AxisPlan:
    kernel = min(kernel, length)
    size = min(tile, length)
    count = -(-length // size)
    span = min(length, size + kernel - 1)
    starts = window_starts(length, kernel)
    queries = np.minimum(np.arange(count * size), length - 1)
    first = np.minimum(starts[queries[::size]], length - span)
    keys = first[:, None] + np.arange(span)[None, :]
    q_starts = starts[queries].reshape(count, size)[:, :, None]
    mask = (keys[:, None, :] >= q_starts) & (keys[:, None, :] < q_starts + kernel)
    return _AxisPlan(count, size, span, queries, keys, mask)


def _take(x: mx.array, axis: int, index: np.ndarray) -> mx.array:
    if len(index) == x.shape[axis] and np.array_equal(index, np.arange(len(index))):
        return x
    return mx.take(x, mx.array(index.astype(np.int32)), axis=axis)


def _tiles(x: mx.array, counts: tuple[int, int, int], sizes: tuple[int, int, int]) -> mx.array:
    """(B, ct*st, ch*sh, cw*sw, heads, d) -> (ct*ch*cw, B*heads, st*sh*sw, d): one SDPA batch row per
    tile, the batch folded into the heads so a per-tile mask broadcasts over it."""
    b, heads, d = x.shape[0], x.shape[4], x.shape[5]
    (ct, ch, cw), (st, sh, sw) = counts, sizes
    x = x.reshape(b, ct, st, ch, sh, cw, sw, heads, d).transpose(1, 3, 5, 0, 7, 2, 4, 6, 8)
    return x.reshape(ct * ch * cw, b * heads, st * sh * sw, d)


def na3d(
    q: mx.array,
    k: mx.array,
    v: mx.array,
    kernel: tuple[int, int, int],
    tile: tuple[int, int, int] = DEFAULT_TILE,
    budget: int = SCORE_BUDGET,
) -> mx.array:
    """Neighborhood attention over (B, T, H, W, heads, head_dim) tensors; q must be pre-scaled.

    Windows larger than an axis are cut to that axis, as in the reference fallback.
    """
    if q.ndim != 6 or k.shape != q.shape or v.shape != q.shape:
        raise ShapeError(f"na3d: expected equal (B, T, H, W, heads, d) q/k/v, got {q.shape}, {k.shape}, {v.shape}")
    b, t, h, w, heads, d = q.shape
    pt, ph, pw = (_axis_plan(n, kk, tt) for n, kk, tt in zip((t, h, w), kernel, tile))
    for axis, plan in ((1, pt), (2, ph), (3, pw)):
        q = _take(q, axis, plan.queries)
    k, v = _take(k, 3, pw.keys.reshape(-1)), _take(v, 3, pw.keys.reshape(-1))
    sizes_q, sizes_k = (pt.size, ph.size, pw.size), (pt.span, ph.span, pw.span)
    per_tile = b * heads * pt.size * ph.size * pw.size * pt.span * ph.span * pw.span
    per_call = max(1, budget // per_tile)
    ch = max(1, min(ph.count, per_call // pw.count))
    ct = max(1, min(pt.count, per_call // (pw.count * ch)))
    mask_w = mx.array(pw.mask)[None, None, :, None, None, :, None, None, :]
    rows = []
    for t0 in range(0, pt.count, ct):
        nt = min(ct, pt.count - t0)
        k_t = _take(k, 1, pt.keys[t0 : t0 + nt].reshape(-1))
        v_t = _take(v, 1, pt.keys[t0 : t0 + nt].reshape(-1))
        mask_t = mx.array(pt.mask[t0 : t0 + nt])[:, None, None, :, None, None, :, None, None]
        cols = []
        for h0 in range(0, ph.count, ch):
            nh = min(ch, ph.count - h0)
            counts = (nt, nh, pw.count)
            h_keys = ph.keys[h0 : h0 + nh].reshape(-1)
            qs = q[:, t0 * pt.size : (t0 + nt) * pt.size, h0 * ph.size : (h0 + nh) * ph.size]
            ks, vs = _take(k_t, 2, h_keys), _take(v_t, 2, h_keys)
            mask_h = mx.array(ph.mask[h0 : h0 + nh])[None, :, None, None, :, None, None, :, None]
            mask = (mask_t & mask_h & mask_w).reshape(nt * nh * pw.count, 1, math.prod(sizes_q), math.prod(sizes_k))
            o = mx.fast.scaled_dot_product_attention(
                _tiles(qs, counts, sizes_q), _tiles(ks, counts, sizes_k), _tiles(vs, counts, sizes_k),
                scale=1.0, mask=mask,
            )
            o = o.reshape(nt, nh, pw.count, b, heads, *sizes_q, d).transpose(3, 0, 5, 1, 6, 2, 7, 4, 8)
            cols.append(o.reshape(b, nt * pt.size, nh * ph.size, pw.count * pw.size, heads, d))
        rows.append(cols[0] if len(cols) == 1 else mx.concatenate(cols, axis=2))
    out = rows[0] if len(rows) == 1 else mx.concatenate(rows, axis=1)
    return out[:, :t, :h, :w]


def default_rope_split(head_dim: int) -> tuple[int, int, int]:
    """Channels of each head given to the (T, H, W) rotations."""
    if head_dim % 8:
        raise ShapeError(f"3-D RoPE: head_dim must be a multiple of 8, got {head_dim}")
    d_t = (head_dim // 4) // 2 * 2
    d_hw = (head_dim - d_t) // 2
    if d_hw % 2:
        d_t -= 2
        d_hw = (head_dim - d_t) // 2
    return d_t, d_hw, d_hw


@functools.lru_cache(maxsize=64)
def _inv_freqs(dim: int, base: float) -> np.ndarray:
    return (1.0 / np.power(float(base), np.arange(0, dim, 2, dtype=np.float64) / dim)).astype(np.float32)


def _rotate(x: mx.array, positions: np.ndarray, axis: int, base: float) -> mx.array:
    """Rotate channel pairs (2i, 2i+1) of x (B, T, H, W, heads, D) by position * inv_freq along `axis`."""
    dim = x.shape[-1]
    angle = positions.astype(np.float32)[..., None] * _inv_freqs(dim, base)
    shape = [1, 1, 1, 1, 1, dim // 2]
    shape[axis] = positions.shape[-1]
    if positions.ndim == 2:  # one row of positions per batch entry
        shape[0] = positions.shape[0]
    cos = mx.array(np.cos(angle).reshape(shape))
    sin = mx.array(np.sin(angle).reshape(shape))
    pairs = x.astype(mx.float32).reshape(*x.shape[:-1], dim // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    out = mx.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
    return out.reshape(x.shape).astype(x.dtype)


def apply_rope(x: mx.array, split: tuple[int, int, int], w_positions: np.ndarray | None = None, base: float = 10000.0):
    """Absolute 3-D RoPE on (B, T, H, W, heads, head_dim): T and H positions count from 0,
    W positions are `w_positions`: (W,) or one row per batch entry (B, W); default 0..W-1."""
    _, t, h, w = x.shape[:4]
    d_t, d_h, _ = split
    w_pos = np.arange(w) if w_positions is None else w_positions
    return mx.concatenate(
        [
            _rotate(x[..., :d_t], np.arange(t), 1, base),
            _rotate(x[..., d_t : d_t + d_h], np.arange(h), 2, base),
            _rotate(x[..., d_t + d_h :], np.asarray(w_pos), 3, base),
        ],
        axis=-1,
    )
