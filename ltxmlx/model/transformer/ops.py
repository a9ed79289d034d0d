"""Fused elementwise pieces of the block (AdaLN modulation, gated residuals).

Each is one compiled kernel; the math runs in float32 and casts back to the activation dtype
so bf16 activations stay bf16 without losing precision in the modulation.
"""

from __future__ import annotations

import functools
import math

import mlx.core as mx

_F32 = mx.float32
_GELU_C = math.sqrt(2.0 / math.pi)


@functools.lru_cache(maxsize=8)
def _ones(dim: int, dtype: mx.Dtype) -> mx.array:
    return mx.ones((dim,), dtype=dtype)


def rms(x: mx.array, eps: float) -> mx.array:
    """Weight-less RMS norm over the last axis."""
    # An explicit unit weight (cached per width and dtype) selects the faster fused kernel on CUDA.
    return mx.fast.rms_norm(x, _ones(x.shape[-1], x.dtype), eps)


@mx.compile
def gelu_tanh(x: mx.array) -> mx.array:
    """tanh-approximated GELU computed in float32 (as torch does for bf16), cast back to x's dtype.

    The cube is a product, not a power: ``x**3`` lowers to a generic pow on the GPU.
    """
    xf = x.astype(_F32)
    inner = _GELU_C * (xf + 0.044715 * (xf * xf * xf))
    return (0.5 * xf * (1.0 + mx.tanh(inner))).astype(x.dtype)


@mx.compile
def modulate(xn: mx.array, scale: mx.array, scale_bias: mx.array, shift: mx.array, shift_bias: mx.array) -> mx.array:
    """``xn * (1 + (scale + scale_bias)) + (shift + shift_bias)`` in float32, cast to xn's dtype."""
    s = scale.astype(_F32) + scale_bias.astype(_F32)
    h = shift.astype(_F32) + shift_bias.astype(_F32)
    return (xn.astype(_F32) * (1 + s) + h).astype(xn.dtype)


@mx.compile
def gated_residual(x: mx.array, y: mx.array, gate: mx.array, gate_bias: mx.array) -> mx.array:
    """``x + y * (gate + gate_bias)`` in float32, cast to x's dtype."""
    g = gate.astype(_F32) + gate_bias.astype(_F32)
    return (x.astype(_F32) + y.astype(_F32) * g).astype(x.dtype)


def ada_row(modulation: mx.array, table: mx.array, row: int) -> tuple[mx.array, mx.array]:
    """Row ``row`` of a (B, T, n*D) modulation and of its (n, D) table, as a (view, bias) pair."""
    d = table.shape[-1]
    return modulation[..., row * d : (row + 1) * d], table[row]
