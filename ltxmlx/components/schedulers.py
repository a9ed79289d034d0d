"""Sigma schedules: the LTX-2 shifted/stretched schedule and the fixed distilled tables.

The official scheduler computes in float32 with PyTorch's op semantics (a Python scalar divided by a
tensor is a reciprocal followed by a multiply); we reproduce those roundings with numpy float32 so that
the schedules match the official ones bit for bit, not only within a tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import mlx.core as mx
import numpy as np

BASE_SHIFT_ANCHOR = 1024
MAX_SHIFT_ANCHOR = 4096

# Distilled checkpoints were trained for exactly these sigmas (stage 1: 8 steps, stage 2: 3 steps).
DISTILLED_SIGMA_VALUES = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
STAGE_2_DISTILLED_SIGMA_VALUES = (0.909375, 0.725, 0.421875, 0.0)

_F32 = np.float32


def _linspace_f32(start: float, end: float, n: int) -> np.ndarray:
    """torch.linspace in float32: symmetric fill from both ends (first half from start, rest from end)."""
    if n == 1:
        return np.array([start], dtype=_F32)
    step = _F32((_F32(end) - _F32(start)) / _F32(n - 1))
    idx = np.arange(n)
    out = np.empty(n, dtype=_F32)
    half = n // 2
    out[:half] = _F32(start) + step * idx[:half].astype(_F32)
    out[half:] = _F32(end) - step * (n - idx[half:] - 1).astype(_F32)
    return out


def _recip_mul(scalar: float, x: np.ndarray) -> np.ndarray:
    """`scalar / tensor` as PyTorch evaluates it: reciprocal(tensor) * scalar, in float32."""
    with np.errstate(divide="ignore"):
        return (_F32(1.0) / x) * _F32(scalar)


def ltx2_sigmas(
    steps: int,
    tokens: int = MAX_SHIFT_ANCHOR,
    max_shift: float = 2.05,
    base_shift: float = 0.95,
    stretch: bool = True,
    terminal: float = 0.1,
) -> np.ndarray:
    """The LTX-2 schedule as a float32 numpy array of length steps + 1 (last value 0)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if stretch and not 0.0 <= terminal < 1.0:
        raise ValueError(f"terminal must be in [0, 1), got {terminal}")
    sigmas = _linspace_f32(1.0, 0.0, steps + 1)
    slope = (max_shift - base_shift) / (MAX_SHIFT_ANCHOR - BASE_SHIFT_ANCHOR)
    shift = tokens * slope + (base_shift - slope * BASE_SHIFT_ANCHOR)
    e = math.exp(shift)
    nonzero = sigmas != 0
    odds = _recip_mul(1.0, sigmas) - _F32(1.0)
    shifted = _recip_mul(e, _F32(e) + odds)
    sigmas = np.where(nonzero, shifted, _F32(0.0)).astype(_F32)
    if stretch:
        one_minus_z = _F32(1.0) - sigmas[nonzero]
        scale = _F32(one_minus_z[-1] / _F32(1.0 - terminal))
        sigmas[nonzero] = _F32(1.0) - one_minus_z / scale
    return sigmas


class LTX2Scheduler:
    """Default LTX-2 scheduler (token-count dependent shift, stretched to `terminal`).

    The official pipelines never pass a latent, so the shift uses the 4096-token anchor (2.05).
    """

    def execute(
        self,
        steps: int,
        latent: Any | None = None,
        max_shift: float = 2.05,
        base_shift: float = 0.95,
        stretch: bool = True,
        terminal: float = 0.1,
        default_number_of_tokens: int = MAX_SHIFT_ANCHOR,
        **_kwargs: Any,
    ) -> mx.array:
        """Sigmas (steps + 1,) float32, from ~1 down to 0.

        latent: optional unpatchified latent (B, C, F, H, W) (or anything with `.shape`); its
        F*H*W token count sets the shift.
        """
        tokens = math.prod(latent.shape[2:]) if latent is not None else default_number_of_tokens
        return mx.array(ltx2_sigmas(steps, tokens, max_shift, base_shift, stretch, terminal))


class FixedSigmas:
    """A scheduler that returns a fixed table (the distilled schedules); `steps` must match it."""

    def __init__(self, values: tuple[float, ...]):
        if len(values) < 2 or values[-1] != 0.0:
            raise ValueError(f"a sigma table needs >= 2 values ending in 0.0, got {values}")
        self.values = tuple(values)

    def execute(self, steps: int | None = None, **_kwargs: Any) -> mx.array:
        if steps is not None and steps != len(self.values) - 1:
            raise ValueError(f"this fixed schedule has {len(self.values) - 1} steps, got steps={steps}")
        return mx.array(np.asarray(self.values, dtype=_F32))


def distilled_sigmas() -> mx.array:
    """Stage-1 sigmas of distilled checkpoints (9 values, 8 steps)."""
    return mx.array(np.asarray(DISTILLED_SIGMA_VALUES, dtype=_F32))


def stage2_distilled_sigmas() -> mx.array:
    """Stage-2 (refinement) sigmas (4 values, 3 steps); the first one is also the re-noise scale."""
    return mx.array(np.asarray(STAGE_2_DISTILLED_SIGMA_VALUES, dtype=_F32))
