"""Diffusion steppers: Euler and ancestral Euler (float32), and the pieces of the res_2s second-order sampler.

Steppers take the whole sigma schedule and a step index, like the official ones, so a loop can swap
them behind `DiffusionStep`. Sigmas are read as Python floats (the official code does `.item()`).
"""

from __future__ import annotations

import math

import mlx.core as mx

from ltxmlx.errors import ShapeError


def _sigma(sigmas: mx.array | list[float], i: int) -> float:
    return float(sigmas[i].item()) if isinstance(sigmas, mx.array) else float(sigmas[i])


def to_denoised(sample: mx.array, velocity: mx.array, timesteps: mx.array | float) -> mx.array:
    """x0 = sample - velocity * timesteps, in float32, cast back to sample's dtype.

    timesteps: per-token sigma*mask (B, T, 1) or a scalar sigma.
    """
    t = timesteps.astype(mx.float32) if isinstance(timesteps, mx.array) else timesteps
    return (sample.astype(mx.float32) - velocity.astype(mx.float32) * t).astype(sample.dtype)


class EulerStep:
    """x_next = x + (x - x0) / sigma * (sigma_next - sigma), computed in float32."""

    stochastic = False

    def step(self, sample: mx.array, denoised: mx.array, sigmas: mx.array, step_index: int,
             noise: mx.array | None = None) -> mx.array:
        """sample, denoised: (B, T, C); returns (B, T, C) in sample's dtype (noise is unused)."""
        if sample.shape != denoised.shape:
            raise ShapeError(f"Euler step: denoised shape {tuple(denoised.shape)} != sample {tuple(sample.shape)}")
        sigma, sigma_next = _sigma(sigmas, step_index), _sigma(sigmas, step_index + 1)
        if sigma == 0:
            raise ValueError("Euler step at sigma 0: the schedule's last value is an end point, not a step")
        # Both sigmas are float32 values; their difference is taken in float32 as the official code does.
        dt = mx.array(sigma_next, dtype=mx.float32) - mx.array(sigma, dtype=mx.float32)
        x = sample.astype(mx.float32)
        velocity = (x - denoised.astype(mx.float32)) / sigma
        return (x + velocity * dt).astype(sample.dtype)


class EulerAncestralStep:
    """Ancestral (SDE) Euler for rectified flow (alpha = 1 - sigma), as the official 2.5 distilled stage 1.

    Steps deterministically to sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * eta), then
    renoises back up to sigma_next, rescaling the signal by alpha_next / alpha_down. eta = 0 is Euler.
    At a terminal sigma_next of 0 it returns the x0 prediction. All math in float32.
    """

    stochastic = True

    def __init__(self, eta: float = 1.0, s_noise: float = 1.0):
        self.eta, self.s_noise = eta, s_noise

    def step(self, sample: mx.array, denoised: mx.array, sigmas: mx.array, step_index: int,
             noise: mx.array | None = None) -> mx.array:
        if sample.shape != denoised.shape:
            raise ShapeError(f"ancestral step: denoised shape {tuple(denoised.shape)} != sample {tuple(sample.shape)}")
        f32 = mx.float32
        sigma = mx.array(_sigma(sigmas, step_index), dtype=f32)
        sigma_next = mx.array(_sigma(sigmas, step_index + 1), dtype=f32)
        if _sigma(sigmas, step_index + 1) == 0:
            return denoised.astype(sample.dtype)
        if self.eta > 0 and noise is None:
            raise ValueError("the ancestral step needs a noise tensor when eta > 0")
        sigma_down = sigma_next * (1.0 + (sigma_next / sigma - 1.0) * self.eta)
        ratio = sigma_down / sigma
        x = ratio * sample.astype(f32) + (1.0 - ratio) * denoised.astype(f32)
        if noise is not None:
            a_next, a_down = 1.0 - sigma_next, 1.0 - sigma_down
            coeff = mx.sqrt(mx.maximum(sigma_next**2 - sigma_down**2 * a_next**2 / a_down**2, 0.0))
            x = (a_next / a_down) * x + noise.astype(f32) * self.s_noise * coeff
        return x.astype(sample.dtype)


# Samplers by config name; a stochastic one draws fresh noise at every non-terminal step.
STEPPERS = {"euler": EulerStep, "euler_ancestral": EulerAncestralStep}


def phi(j: int, neg_h: float) -> float:
    """phi_j(z) = (e^z - sum_{k<j} z^k/k!) / z^j, with the limit 1/j! near z = 0."""
    if abs(neg_h) < 1e-10:
        return 1.0 / math.factorial(j)
    remainder = sum(neg_h**k / math.factorial(k) for k in range(j))
    return (math.exp(neg_h) - remainder) / neg_h**j


def res2s_coefficients(h: float, c2: float = 0.5) -> tuple[float, float, float]:
    """(a21, b1, b2) of the res_2s Runge-Kutta step for log-step h = log(sigma / sigma_next)."""
    a21 = c2 * phi(1, -h * c2)
    b2 = phi(2, -h) / c2
    b1 = phi(1, -h) - b2
    return a21, b1, b2


def res2s_schedule(sigmas: list[float]) -> tuple[list[float], list[float]]:
    """The res_2s loop's sigmas (a final 0 becomes [0.0011, 0], finished by one last x0 evaluation)
    and the log step sizes h_i = -log(sigma_{i+1} / sigma_i)."""
    s = list(sigmas)
    if s[-1] == 0:
        s = s[:-1] + [0.0011, 0.0]
    hs = [-math.log(s[i + 1] / s[i]) if s[i + 1] > 0 else math.inf for i in range(len(s) - 1)]
    return s, hs


def sde_coefficients(sigma_next: float, eta: float) -> tuple[float, float, float]:
    """(alpha_ratio, sigma_down, sigma_up) for variance-preserving noise injection with sigma_up = eta*sigma_next."""
    sigma_up = min(sigma_next * eta, sigma_next * 0.9999)
    residual = math.sqrt(max(sigma_next**2 - sigma_up**2, 0.0))
    alpha_ratio = (1.0 - sigma_next) + residual
    sigma_down = residual / alpha_ratio if alpha_ratio != 0 else sigma_next
    return alpha_ratio, sigma_down, sigma_up


class Res2sStep:
    """The SDE step of res_2s: re-derive eps from (sample, denoised) and re-noise to sigma_next."""

    def step(self, sample: mx.array, denoised: mx.array, sigmas: mx.array | list[float], step_index: int,
             noise: mx.array, eta: float = 0.5) -> mx.array:
        sigma, sigma_next = _sigma(sigmas, step_index), _sigma(sigmas, step_index + 1)
        alpha_ratio, sigma_down, sigma_up = sde_coefficients(sigma_next, eta)
        if sigma_up == 0 or sigma_next == 0:
            return denoised
        x, d = sample.astype(mx.float32), denoised.astype(mx.float32)
        eps_next = (x - d) / (sigma - sigma_next)
        denoised_next = x - sigma * eps_next
        out = alpha_ratio * (denoised_next + sigma_down * eps_next) + sigma_up * noise.astype(mx.float32)
        return out.astype(denoised.dtype)


def res2s_noise(key: mx.array, shape: tuple[int, ...]) -> mx.array:
    """res_2s injection noise: globally standardised, then standardised per channel over the last two axes."""
    n = mx.random.normal(shape, dtype=mx.float32, key=key)
    n = (n - n.mean()) / mx.std(n, ddof=1)
    mean = n.mean(axis=(-2, -1), keepdims=True)
    return (n - mean) / mx.std(n, axis=(-2, -1), keepdims=True, ddof=1)
