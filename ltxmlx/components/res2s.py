"""The res_2s sampler's arithmetic: exponential-integrator RK coefficients, the SDE step that mixes
in fresh noise, and the standardised noise it draws.

res_2s advances from sigma to sigma_next in log-sigma space (step h = log(sigma / sigma_next)): a
first x0 estimate at sigma, an intermediate point at sqrt(sigma * sigma_next) (c2 = 1/2), a second
x0 estimate there, and the combination x + h (b1 eps1 + b2 eps2). Both the intermediate and the
final point are re-noised by `sde_step` (eta 1/2 by default). Scalars stay Python floats (double).
"""

from __future__ import annotations

import math

import mlx.core as mx

TERMINAL_SIGMA = 0.0011  # a final 0 in the schedule becomes [0.0011, 0]: the last step lands here
C2 = 0.5
BONG_MAX_ITER = 100


def phi(j: int, neg_h: float) -> float:
    """phi_j(z) = (e^z - sum_{k<j} z^k / k!) / z^j at z = -h; 1/j! at z = 0."""
    if abs(neg_h) < 1e-10:
        return 1.0 / math.factorial(j)
    remainder = sum(neg_h**k / math.factorial(k) for k in range(j))
    return (math.exp(neg_h) - remainder) / neg_h**j


def res2s_coefficients(h: float, c2: float = C2) -> tuple[float, float, float]:
    """(a21, b1, b2) of the two-stage exponential RK step of size h."""
    a21 = c2 * phi(1, -h * c2)
    b2 = phi(2, -h) / c2
    return a21, phi(1, -h) - b2, b2


def with_terminal_sigma(sigmas: tuple[float, ...]) -> tuple[float, ...]:
    """The schedule the loop walks: a final 0 replaced by [TERMINAL_SIGMA, 0]."""
    return (*sigmas[:-1], TERMINAL_SIGMA, 0.0) if sigmas[-1] == 0.0 else tuple(sigmas)


def sde_step(sample: mx.array, denoised: mx.array, sigma: float, sigma_next: float, noise: mx.array,
             eta: float = 0.5) -> mx.array:
    """Move `sample` (at sigma) toward `denoised` (the deterministic target at sigma_next), then add
    noise so the result has noise level sigma_next: variance preserving with sigma_up = eta * sigma_next."""
    sigma_up = min(sigma_next * eta, sigma_next * 0.9999)
    if sigma_up == 0 or sigma_next == 0:
        return denoised
    residual = math.sqrt(max(sigma_next**2 - sigma_up**2, 0.0))
    alpha_ratio = (1.0 - sigma_next) + residual
    sigma_down = residual / alpha_ratio
    eps = (sample - denoised) / (sigma - sigma_next)
    denoised_next = sample - sigma * eps
    return alpha_ratio * (denoised_next + sigma_down * eps) + sigma_up * noise


def standardized_noise(raw: mx.array) -> mx.array:
    """(B, T, C) normal draws standardised over the whole tensor, then per item over (T, C)
    (unbiased std, as torch's), the noise res_2s injects."""

    def standardize(x: mx.array, axes) -> mx.array:
        n = 1
        for a in (axes if axes is not None else range(x.ndim)):
            n *= x.shape[a]
        mean = mx.mean(x, axis=axes, keepdims=axes is not None)
        var = mx.sum((x - mean) ** 2, axis=axes, keepdims=axes is not None) / (n - 1)
        return (x - mean) / mx.sqrt(var)

    return standardize(standardize(raw, None), (-2, -1))
