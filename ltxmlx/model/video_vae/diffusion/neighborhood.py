"""3-D neighborhood attention (NATTEN `na3d` semantics) and the decoder's absolute 3-D RoPE.

Each query attends to the `kernel` keys around it on every axis; near a border the window is
shifted inward (clamped), never padded, so every query sees exactly `prod(kernel)` keys when the
volume is at least the kernel. Queries are cut into tiles; tiles whose windows have the same
geometry run as one masked SDPA batch, so the work stays proportional to the window volume.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltxmlx.errors import ShapeError

# Query tile per axis (T, H, W) and the budget of attention scores per SDPA call.
DEFAULT_TILE = (8, 16, 16)
SCORE_BUDGET = 2**27


def window_starts(length: int, kernel: int) -> np.ndarray:
    """First key index of each query's window along one axis (clamped inside [0, length))."""
    kernel = min(kernel, length)
    return np.clip(np.arange(length) - kernel // 2, 0, length - kernel)


@dataclass(frozen=True)
class _Run:
    """Consecutive query tiles of one axis that share their window geometry."""

    q_start: int  # first query of the run
    count: int  # tiles in the run
    q_len: int  # queries per tile
    k_starts: tuple[int, ...]  # first key of each tile's key range
    mask: np.ndarray  # (q_len, k_len) bool: query i sees key j of its tile's range

    @property
    def k_len(self) -> int:
        return self.mask.shape[1]


@functools.lru_cache(maxsize=256)
def _axis_runs(length: int, kernel: int, tile: int) -> tuple[_Run, ...]:
    kernel = min(kernel, length)
    starts = window_starts(length, kernel)
    tiles = []
    for q0 in range(0, length, tile):
        q1 = min(q0 + tile, length)
        k0, k1 = int(starts[q0]), int(starts[q1 - 1]) + kernel
        rel = starts[q0:q1, None] - k0
        j = np.arange(k1 - k0)[None, :]
        tiles.append((q0, q1 - q0, k0, (j >= rel) & (j < rel + kernel)))
    runs: list[_Run] = []
    for q0, q_len, k0, mask in tiles:
        last = runs[-1] if runs else None
        if last is not None and last.q_len == q_len and last.mask.shape == mask.shape and np.array_equal(last.mask, mask):
            runs[-1] = _Run(last.q_start, last.count + 1, q_len, (*last.k_starts, k0), last.mask)
        else:
            runs.append(_Run(q0, 1, q_len, (k0,), mask))
    return tuple(runs)


def _gather_keys(x: mx.array, axis: int, run: _Run) -> mx.array:
    """Key ranges of the run's tiles along `axis`, stacked: that axis becomes count * k_len."""
    starts = run.k_starts
    if all(b - a == run.k_len for a, b in zip(starts, starts[1:])):
        # Adjacent, non-overlapping ranges: one slice.
        index = [slice(None)] * x.ndim
        index[axis] = slice(starts[0], starts[0] + run.count * run.k_len)
        return x[tuple(index)]
    idx = (np.asarray(starts)[:, None] + np.arange(run.k_len)[None, :]).reshape(-1)
    return mx.take(x, mx.array(idx.astype(np.int32)), axis=axis)


def _to_tokens(x: mx.array, counts: tuple[int, int, int], sizes: tuple[int, int, int]) -> mx.array:
    """(B, nt*st, nh*sh, nw*sw, heads, d) -> (B*nt*nh*nw, heads, st*sh*sw, d)."""
    b, heads, d = x.shape[0], x.shape[4], x.shape[5]
    (nt, nh, nw), (st, sh, sw) = counts, sizes
    x = x.reshape(b, nt, st, nh, sh, nw, sw, heads, d).transpose(0, 1, 3, 5, 7, 2, 4, 6, 8)
    return x.reshape(b * nt * nh * nw, heads, st * sh * sw, d)


def _attend_block(q, k, v, runs: tuple[_Run, _Run, _Run], budget: int) -> mx.array:
    """Attention of one (T-run, H-run, W-run) block of query tiles; returns (B, T', H', W', heads, d)."""
    b, heads, d = q.shape[0], q.shape[4], q.shape[5]
    rt, rh, rw = runs
    q = q[:, rt.q_start : rt.q_start + rt.count * rt.q_len,
          rh.q_start : rh.q_start + rh.count * rh.q_len,
          rw.q_start : rw.q_start + rw.count * rw.q_len]
    for axis, run in ((2, rh), (3, rw)):
        k, v = _gather_keys(k, axis, run), _gather_keys(v, axis, run)
    mask = (
        rt.mask[:, None, None, :, None, None] & rh.mask[None, :, None, None, :, None] & rw.mask[None, None, :, None, None, :]
    ).reshape(rt.q_len * rh.q_len * rw.q_len, rt.k_len * rh.k_len * rw.k_len)
    mask = mx.array(mask)
    # Tiles per SDPA call so that the (tiles, heads, Nq, Nk) scores stay within the budget.
    per_tile = heads * mask.size
    chunk = max(1, budget // per_tile)
    step = max(1, chunk // max(1, b * rh.count * rw.count))
    outs = []
    for t0 in range(0, rt.count, step):
        sub = _Run(rt.q_start + t0 * rt.q_len, min(step, rt.count - t0), rt.q_len, rt.k_starts[t0 : t0 + step], rt.mask)
        qs = q[:, t0 * rt.q_len : (t0 + sub.count) * rt.q_len]
        ks, vs = _gather_keys(k, 1, sub), _gather_keys(v, 1, sub)
        counts = (sub.count, rh.count, rw.count)
        qt = _to_tokens(qs, counts, (rt.q_len, rh.q_len, rw.q_len))
        kt = _to_tokens(ks, counts, (rt.k_len, rh.k_len, rw.k_len))
        vt = _to_tokens(vs, counts, (rt.k_len, rh.k_len, rw.k_len))
        parts = [
            mx.fast.scaled_dot_product_attention(qt[i : i + chunk], kt[i : i + chunk], vt[i : i + chunk], scale=1.0, mask=mask)
            for i in range(0, qt.shape[0], chunk)
        ]
        o = parts[0] if len(parts) == 1 else mx.concatenate(parts, axis=0)
        o = o.reshape(b, sub.count, rh.count, rw.count, heads, rt.q_len, rh.q_len, rw.q_len, d)
        o = o.transpose(0, 1, 5, 2, 6, 3, 7, 4, 8)
        outs.append(o.reshape(b, sub.count * rt.q_len, rh.count * rh.q_len, rw.count * rw.q_len, heads, d))
    return outs[0] if len(outs) == 1 else mx.concatenate(outs, axis=1)


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
    dims = q.shape[1:4]
    runs = [_axis_runs(n, kk, min(tt, n)) for n, kk, tt in zip(dims, kernel, tile)]
    planes = []
    for rt in runs[0]:
        rows = []
        for rh in runs[1]:
            cols = [_attend_block(q, k, v, (rt, rh, rw), budget) for rw in runs[2]]
            rows.append(cols[0] if len(cols) == 1 else mx.concatenate(cols, axis=3))
        planes.append(rows[0] if len(rows) == 1 else mx.concatenate(rows, axis=2))
    return planes[0] if len(planes) == 1 else mx.concatenate(planes, axis=1)


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
    angle = positions.astype(np.float32)[:, None] * _inv_freqs(dim, base)[None, :]
    shape = [1, 1, 1, 1, 1, dim // 2]
    shape[axis] = len(positions)
    cos = mx.array(np.cos(angle).reshape(shape))
    sin = mx.array(np.sin(angle).reshape(shape))
    pairs = x.astype(mx.float32).reshape(*x.shape[:-1], dim // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    out = mx.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
    return out.reshape(x.shape).astype(x.dtype)


def apply_rope(x: mx.array, split: tuple[int, int, int], w_positions: np.ndarray | None = None, base: float = 10000.0):
    """Absolute 3-D RoPE on (B, T, H, W, heads, head_dim): T and H positions count from 0,
    W positions are `w_positions` (default 0..W-1)."""
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
