"""Per-token timesteps from the denoise mask, and re-imposing clean tokens on x0 predictions."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.errors import ShapeError


def timesteps_from_mask(denoise_mask: mx.array, sigma: float | mx.array) -> mx.array:
    """Per-token timesteps (B, T, 1) = denoise_mask * sigma; sigma a scalar or (B,) per item."""
    if isinstance(sigma, mx.array) and sigma.ndim == 1:
        if sigma.shape[0] != denoise_mask.shape[0]:
            raise ShapeError(f"sigma: expected ({denoise_mask.shape[0]},) per item, got {tuple(sigma.shape)}")
        sigma = sigma.reshape((-1,) + (1,) * (denoise_mask.ndim - 1))
    return denoise_mask * sigma


def post_process_latent(denoised: mx.array, denoise_mask: mx.array, clean: mx.array) -> mx.array:
    """x0 * mask + clean * (1 - mask): conditioned tokens keep their clean latent (float32 blend)."""
    if denoised.shape != clean.shape:
        raise ShapeError(f"clean latent: expected shape {tuple(denoised.shape)}, got {tuple(clean.shape)}")
    mask = denoise_mask.astype(mx.float32)
    out = denoised.astype(mx.float32) * mask + clean.astype(mx.float32) * (1 - mask)
    return out.astype(denoised.dtype)
