"""The fused anti-aliased SnakeBeta: its index math, and (on CUDA) the kernel, against the composed ops."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.model.audio_vae import snake_kernel
from ltxmlx.model.audio_vae.antialias import Activation1d
from ltxmlx.model.audio_vae.snake_kernel import DOWN_PAD, RATIO, TAPS, UP_CROP, UP_PAD


def _activation(channels: int, seed: int) -> Activation1d:
    """Asymmetric random filters, so a flipped or shifted tap shows."""
    rng = np.random.default_rng(seed)
    act = Activation1d(channels)
    act.upsample.filter = mx.array(rng.normal(size=(1, TAPS, 1)).astype(np.float32) * 0.3)
    act.downsample.lowpass.filter = mx.array(rng.normal(size=(1, TAPS, 1)).astype(np.float32) * 0.3)
    act.act.alpha = mx.array(rng.normal(size=(channels,)).astype(np.float32) * 0.5)
    act.act.beta = mx.array(rng.normal(size=(channels,)).astype(np.float32) * 0.5)
    return act


def _kernel_math(x, up, down, alpha, beta):
    """The kernel's per-sample formula (module docstring) in numpy, float64."""
    _, t_len, _ = x.shape
    t = np.arange(t_len)
    a, inv_b = np.exp(alpha), 1.0 / (np.exp(beta) + 1e-9)
    out = 0.0
    for k in range(TAPS):
        n = np.clip(2 * t + k - DOWN_PAD, 0, 2 * t_len - 1)
        m = n + UP_CROP
        u = 0.0
        for j in range(TAPS):
            hit = (m - j) % RATIO == 0  # this tap lands on an input sample
            i = np.clip((m - j) // RATIO - UP_PAD, 0, t_len - 1)
            u = u + np.where(hit[:, None], up[j] * x[:, i, :], 0.0)
        u = RATIO * u
        out = out + down[k] * (u + inv_b * np.sin(u * a) ** 2)
    return out


@pytest.mark.parametrize("length", [1, 2, 7, 40])
def test_kernel_index_math_equals_composed_activation(length):
    act = _activation(5, seed=length)
    x = mx.random.normal((2, length, 5), key=mx.random.key(length))
    want = np.array(act.composed(x))
    got = _kernel_math(np.array(x, dtype=np.float64), np.array(act.upsample.filter).ravel(),
                       np.array(act.downsample.lowpass.filter).ravel(), np.array(act.act.alpha), np.array(act.act.beta))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_composed_ops_run_off_cuda():
    # The CPU backend (and Metal) never take the kernel path.
    with mx.stream(mx.cpu):
        assert not snake_kernel.available(mx.zeros((1, 4, 3)))


@pytest.mark.skipif(not mx.cuda.is_available(), reason="the fused kernel runs on the CUDA backend only")
@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 257, 16), (1, 3001, 96)])
def test_cuda_kernel_equals_composed_activation(shape):
    act = _activation(shape[-1], seed=shape[1])
    x = mx.random.normal(shape, key=mx.random.key(7))
    with mx.stream(mx.cpu):  # the reference in full float32 (GPU convolutions may round inputs to TF32)
        want = np.array(act.composed(x))
    with mx.stream(mx.gpu):
        assert snake_kernel.available(x)
        np.testing.assert_allclose(np.array(act(x)), want, rtol=1e-5, atol=2e-5)
