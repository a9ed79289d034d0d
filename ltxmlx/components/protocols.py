"""Small Protocols the pipelines depend on, so schedulers, steppers, guiders and noisers can be swapped."""

from __future__ import annotations

from typing import Any, Protocol

import mlx.core as mx

from ltxmlx.components.latent_tools import LatentState


class Scheduler(Protocol):
    def execute(self, steps: int, **kwargs: Any) -> mx.array:
        """Sigmas (steps + 1,) float32 ending in 0."""
        ...


class DiffusionStep(Protocol):
    def step(self, sample: mx.array, denoised: mx.array, sigmas: mx.array, step_index: int) -> mx.array:
        """Next sample (B, T, C) from the current sample and its x0 prediction."""
        ...


class Guider(Protocol):
    def __call__(self, cond: mx.array, uncond: mx.array | None, perturbed: mx.array | None,
                 isolated: mx.array | None) -> mx.array:
        """Guided x0 (B, T, C) from the outputs of the guidance passes."""
        ...


class Noiser(Protocol):
    def __call__(self, state: LatentState, noise_scale: float = 1.0) -> LatentState:
        """State with its latent noised to `noise_scale`, masked by the state's denoise_mask."""
        ...
