"""Noise per item from explicit keys, and the official masked lerp noising.

Each item's noise comes from its own key: `mx.random.key(seed)` split into stages, each stage key
split into (video, audio). An item therefore gets the same noise alone or at any batch position.
"""

from __future__ import annotations

from typing import Sequence

import mlx.core as mx

from ltxmlx.components.latent_tools import LatentState
from ltxmlx.errors import ShapeError

MODALITIES = ("video", "audio")
# Stage keys come from one fixed-size split so that adding a stage never changes earlier ones' noise.
MAX_STAGES = 8
# The diffusion video decoder draws its x_T from the item's key of this (last) stage slot.
DECODE_NOISE_STAGE = MAX_STAGES - 1


def item_key(seed: int, stage: int, modality: str) -> mx.array:
    """The PRNG key of one item for one stage (0-based) and modality ('video' | 'audio')."""
    if not 0 <= stage < MAX_STAGES:
        raise ValueError(f"stage must be in [0, {MAX_STAGES}), got {stage}")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    stage_key = mx.random.split(mx.random.key(seed), MAX_STAGES)[stage]
    return mx.random.split(stage_key, len(MODALITIES))[MODALITIES.index(modality)]


# Step keys of a stochastic sampler come from one fixed-size split of the item's stage key.
MAX_STEPS = 1024


def step_key(seed: int, stage: int, step: int, modality: str) -> mx.array:
    """The key of a stochastic sampler's draw at `step` of `stage` for one item (seed taken mod 2**63)."""
    if not 0 <= step < MAX_STEPS:
        raise ValueError(f"step must be in [0, {MAX_STEPS}), got {step}")
    return mx.random.split(item_key(seed % 2**63, stage, modality), MAX_STEPS)[step]


def draw_noise(keys: Sequence[mx.array], item_shape: tuple[int, ...], dtype: mx.Dtype = mx.float32) -> mx.array:
    """Standard normal noise (len(keys), *item_shape): item i drawn from keys[i] alone."""
    if not keys:
        raise ValueError("draw_noise needs at least one key")
    return mx.stack([mx.random.normal(item_shape, dtype=mx.float32, key=k) for k in keys]).astype(dtype)


def lerp(start: mx.array, end: mx.array, weight: float | mx.array) -> mx.array:
    """torch.lerp's formula: start + w*(end-start) for w < 0.5, else end - (end-start)*(1-w) (exact at w=1)."""
    diff = end - start
    if isinstance(weight, (int, float)):
        return start + weight * diff if weight < 0.5 else end - diff * (1.0 - weight)
    return mx.where(weight < 0.5, start + weight * diff, end - diff * (1.0 - weight))


def noise_latent(state: LatentState, noise: mx.array, noise_scale: float = 1.0) -> LatentState:
    """Official GaussianNoiser math in float32: x = lerp(latent, noise, scale); x = lerp(clean, x, mask).

    Tokens with denoise_mask 0 stay exactly clean; noise is (B, T, C) like state.latent.
    """
    if noise.shape != state.latent.shape:
        raise ShapeError(f"noise: expected shape {tuple(state.latent.shape)}, got {tuple(noise.shape)}")
    f32 = mx.float32
    x = lerp(state.latent.astype(f32), noise.astype(f32), noise_scale)
    x = lerp(state.clean_latent.astype(f32), x, state.denoise_mask.astype(f32))
    return state.with_latent(x.astype(state.latent.dtype))
