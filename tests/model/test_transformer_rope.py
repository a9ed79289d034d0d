"""Split RoPE: host float64 frequency grid, per-token tables, rotation."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.errors import ShapeError
from ltxmlx.model.transformer.rope import apply_split_rope, freq_grid, positions_to_fractions, split_rope_tables


def test_freq_grid_is_cached_float32_and_matches_float64_formula():
    grid = freq_grid(10000.0, 4096, 3)
    assert grid is freq_grid(10000.0, 4096, 3)
    assert grid.dtype == mx.float32 and grid.shape == (682,)
    ref = 10000.0 ** np.linspace(0, 1, 682) * math.pi / 2
    np.testing.assert_allclose(np.array(grid), ref, rtol=1e-7)


def test_tables_are_frequency_major_axis_minor_and_front_padded():
    # inner 32, 3 axes -> 5 frequencies x 3 axes = 15 angles, 1 padding slot, 2 heads of 8.
    positions = mx.array(np.array([[[[0, 2], [2, 4]], [[0, 64], [64, 128]], [[32, 96], [0, 32]]]], np.float32))
    max_pos = (20.0, 2048.0, 2048.0)
    frac = positions_to_fractions(positions, max_pos)
    grid = freq_grid(10000.0, 32, 3)
    cos, sin = split_rope_tables(frac, grid, 32, 2)
    assert cos.shape == sin.shape == (1, 2, 2, 8)  # (B, T, heads, half/heads), token-major
    flat_cos = np.array(cos.reshape(1, 2, 16))
    flat_sin = np.array(sin.reshape(1, 2, 16))
    assert (flat_cos[..., 0] == 1).all() and (flat_sin[..., 0] == 0).all()
    # Angles reach ~1.5e4 rad, so the reference repeats the float32 arithmetic before cos/sin.
    mid = np.array([[1, 3], [32, 96], [64, 16]], np.float32) / np.array(max_pos, np.float32)[:, None]  # (axes, T)
    angles = np.array(grid)[None, :, None] * (mid.T[:, None, :] * np.float32(2) - np.float32(1))  # (T, F, axes)
    angles = angles.astype(np.float64)
    np.testing.assert_allclose(flat_cos[0, :, 1:], np.cos(angles.reshape(2, 15)), atol=2e-5)
    np.testing.assert_allclose(flat_sin[0, :, 1:], np.sin(angles.reshape(2, 15)), atol=2e-5)


def test_rotation_is_identity_at_zero_angle_and_preserves_norm():
    x = mx.random.normal((2, 3, 5, 8), key=mx.random.key(0))
    ones, zeros = mx.ones((2, 3, 5, 4)), mx.zeros((2, 3, 5, 4))
    np.testing.assert_allclose(np.array(apply_split_rope(x, ones, zeros)), np.array(x))
    theta = mx.random.uniform(shape=(2, 3, 5, 4), key=mx.random.key(1)) * 6
    y = apply_split_rope(x, mx.cos(theta), mx.sin(theta))
    np.testing.assert_allclose(np.linalg.norm(np.array(y), axis=-1), np.linalg.norm(np.array(x), axis=-1), rtol=1e-5)
    # First half pairs with second half: x1' = x1 cos - x2 sin.
    expected = np.array(x[..., :4] * mx.cos(theta) - x[..., 4:] * mx.sin(theta))
    np.testing.assert_allclose(np.array(y[..., :4]), expected, atol=1e-6)


def test_bad_shapes_are_refused():
    with pytest.raises(ShapeError, match="positions"):
        positions_to_fractions(mx.zeros((1, 2, 4, 2)), (20.0, 2048.0, 2048.0))
    with pytest.raises(ShapeError, match="RoPE"):
        split_rope_tables(mx.zeros((1, 3, 4)), freq_grid(10000.0, 32, 3), 32, 3)
    with pytest.raises(ShapeError, match="RoPE"):
        apply_split_rope(mx.zeros((1, 2, 4, 8)), mx.zeros((1, 2, 4, 3)), mx.zeros((1, 2, 4, 3)))
