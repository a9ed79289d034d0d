"""The res_2s denoising loop: per step a guided x0 at sigma, an SDE-noised midpoint, a second
guided x0 there, the RK combination re-noised to the next sigma; then a final x0 at the terminal sigma.

A generator like `denoise.denoise`: one StepEvent per transformer evaluation (2N + 1 for N steps),
each with the state passed in, the guided x0 and (record_passes) each pass's x0, and under "eval"
the evaluation's step index and sigma. The SDE noise comes from `SdeNoise`: by default from fixed
keys that do not depend on the item seed, as the official loop seeds its generators with -1 and
-1 + 10000 whatever the pipeline seed (the same SDE noise for every item; the items still differ by
their initial noise).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Generator, Sequence
from typing import Protocol

import mlx.core as mx
from mlx import nn

from ltxmlx.components.guidance_passes import guided_x0, plan_step
from ltxmlx.components.latent_tools import LatentState
from ltxmlx.components.noisers import draw_noise
from ltxmlx.components.res2s import (
    BONG_MAX_ITER,
    res2s_coefficients,
    sde_step,
    standardized_noise,
    with_terminal_sigma,
)
from ltxmlx.conditioning.denoise_mask import post_process_latent
from ltxmlx.pipelines.api import StepEvent
from ltxmlx.pipelines.denoise import MODALITIES, Contexts, Guidance, guided_step_outputs, model_dtype

OFFICIAL_NOISE_SEED = -1  # the official loop's default step-noise seed (substeps: + 10000)
SUBSTEP_SEED_OFFSET = 10000
SUBSTEP_ETA = 0.5


class SdeNoise(Protocol):
    def __call__(self, stage: str, kind: str, step: int, modality: str, shape: tuple[int, ...]) -> mx.array:
        """Standardised noise of `shape` (B, T, C) for the `kind` ("substep" | "step") injection."""
        ...


def keyed_sde_noise(seed: int = OFFICIAL_NOISE_SEED) -> SdeNoise:
    """Noise from keys of (seed, stage, kind, step, modality), the same for every item of a batch."""

    def draw(stage: str, kind: str, step: int, modality: str, shape: tuple[int, ...]) -> mx.array:
        s = seed + (SUBSTEP_SEED_OFFSET if kind == "substep" else 0)
        ident = f"res2s:{s}:{stage}:{kind}:{step}:{modality}".encode()
        key = mx.random.key(int(hashlib.sha256(ident).hexdigest()[:15], 16))
        one = standardized_noise(draw_noise([key], tuple(shape[1:]), mx.float32))
        return mx.concatenate([one] * shape[0], axis=0) if shape[0] > 1 else one

    return draw


def _round(x: mx.array, dtype: mx.Dtype) -> mx.array:
    """The state as the model's dtype holds it (the official loop stores its state in that dtype)."""
    return x if dtype == mx.float32 else x.astype(dtype).astype(mx.float32)


def res2s_denoise(
    model: nn.Module,
    video: LatentState | None,
    audio: LatentState | None,
    sigmas: Sequence[float],
    contexts: Contexts,
    guidance: Guidance,
    stage: str,
    max_batch_size: int,
    record_passes: bool = False,
    uniform_timesteps: bool = False,
    frozen: Sequence[str] = (),
    *,
    sde_noise: SdeNoise,
    eta: float = 0.5,
    bongmath: bool = True,
) -> Generator[StepEvent, None, tuple[LatentState | None, LatentState | None]]:
    states: dict[str, LatentState | None] = {"video": video, "audio": audio}
    present = [m for m in MODALITIES if states[m] is not None]
    n_full = len(sigmas) - 1
    walk = with_terminal_sigma(tuple(sigmas))
    total = 2 * n_full + (1 if sigmas[-1] == 0.0 else 0)
    dtype = model_dtype(model)
    count = 0
    init = {m: {"latent": states[m].latent, "positions": states[m].positions,
                "denoise_mask": states[m].denoise_mask, "clean_latent": states[m].clean_latent} for m in present}
    yield StepEvent(stage, 0, total, init, pipelined=True)
    last: tuple = (None, None)

    def evaluate(current: dict, sigma: float, step_index: int):
        nonlocal last, count
        gv = guidance.video if current["video"] is not None else None
        ga = guidance.audio if current["audio"] is not None else None
        plan = plan_step(gv, ga, step_index)
        outputs = {} if not plan.passes else guided_step_outputs(
            model, current, sigma, contexts, guidance, plan, max_batch_size, uniform_timesteps, frozen)
        x0 = guided_x0(plan, guidance.video, guidance.audio, outputs, last)
        last = x0
        event = {"eval": {"step_index": mx.array(step_index), "sigma": mx.array(sigma, dtype=mx.float32)}}
        clean = {}
        for k, m in enumerate(MODALITIES):
            if current[m] is None:
                continue
            record = {"latent": current[m].latent, "denoised": x0[k]}
            if record_passes:
                record.update({f"pass_{n}": v[k] for n, v in outputs.items() if v[k] is not None})
            event[m] = record
            clean[m] = post_process_latent(x0[k], current[m].denoise_mask, current[m].clean_latent)
        count += 1
        return clean, event

    def settle(m: str, x: mx.array) -> mx.array:
        s = states[m]
        return post_process_latent(x, s.denoise_mask, s.clean_latent)

    for i in range(n_full):
        sigma, sigma_next = walk[i], walk[i + 1]
        anchor = {m: states[m].latent.astype(mx.float32) for m in present}
        d1, event = evaluate(states, sigma, i)
        yield StepEvent(stage, count, total, event, pipelined=True)
        h = -math.log(sigma_next / sigma)
        a21, b1, b2 = res2s_coefficients(h)
        sub = math.sqrt(sigma * sigma_next)
        eps1 = {m: d1[m] - anchor[m] for m in present}
        mid = {}
        for m in present:
            noise = sde_noise(stage, "substep", i, m, tuple(anchor[m].shape))
            mid[m] = settle(m, sde_step(anchor[m], anchor[m] + h * a21 * eps1[m], sigma, sub, noise, SUBSTEP_ETA))
        if bongmath and h < 0.5 and sigma > 0.03:
            for _ in range(BONG_MAX_ITER):
                for m in present:
                    anchor[m] = mid[m] - h * a21 * eps1[m]
                    eps1[m] = d1[m] - anchor[m]
        mid_states = {m: None if states[m] is None else states[m].with_latent(_round(mid[m], dtype))
                      for m in MODALITIES}
        d2, event = evaluate(mid_states, sub, 0)
        yield StepEvent(stage, count, total, event, pipelined=True)
        for m in present:
            x_next = anchor[m] + h * (b1 * eps1[m] + b2 * (d2[m] - anchor[m]))
            noise = sde_noise(stage, "step", i, m, tuple(anchor[m].shape))
            x_next = settle(m, sde_step(anchor[m], x_next, sigma, sigma_next, noise, eta))
            states[m] = states[m].with_latent(_round(x_next, dtype))
    if sigmas[-1] == 0.0:
        d, event = evaluate(states, walk[n_full], n_full)
        for m in present:
            states[m] = states[m].with_latent(_round(d[m], dtype))
            event[m]["next"] = states[m].latent
        yield StepEvent(stage, count, total, event, pipelined=True)
    return states["video"], states["audio"]
