"""The denoising loop: a generator over the steps of one stage for a batch of items.

Every guidance pass of every item goes through batched transformer calls (pass-major rows, chunked
by `max_batch_size`); each step yields a StepEvent whose lazy state the caller evaluates. Nothing here
evaluates, so the loop costs one graph per step and the caller decides when memory is released.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace

import mlx.core as mx
from mlx import nn

from ltxmlx.components.diffusion_steps import EulerStep, to_denoised
from ltxmlx.components.guidance_passes import (
    GuidancePass,
    StepPlan,
    guided_x0,
    pass_contexts,
    plan_step,
    row_passes,
    run_passes,
    tile_passes,
)
from ltxmlx.components.guiders import GuiderParams
from ltxmlx.components.latent_tools import LatentState, keyframes_mask_for
from ltxmlx.conditioning.denoise_mask import post_process_latent
from ltxmlx.errors import ShapeError
from ltxmlx.model.transformer import (
    BatchPerturbations,
    Modality,
    Perturbation,
    PerturbationType,
)
from ltxmlx.model.transformer.perturbations import MODALITY_ISOLATION
from ltxmlx.pipelines.api import StepEvent

MODALITIES = ("video", "audio")


@dataclass(frozen=True)
class Contexts:
    """Text contexts of a batch, (B, S, D) each; negatives only where CFG needs them."""

    video: mx.array | None
    audio: mx.array | None
    negative_video: mx.array | None = None
    negative_audio: mx.array | None = None


@dataclass(frozen=True)
class Guidance:
    """Per-modality guidance of a stage; None = a single conditioned pass (simple denoiser)."""

    video: GuiderParams | None = None
    audio: GuiderParams | None = None


def _perturbations(p: GuidancePass) -> tuple[Perturbation, ...]:
    out = []
    if p.skip_video_self_attn:
        out.append(Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, p.skip_video_self_attn))
    if p.skip_audio_self_attn:
        out.append(Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, p.skip_audio_self_attn))
    if p.skip_cross_modal:
        out.extend(MODALITY_ISOLATION)
    return tuple(out)


@dataclass(frozen=True)
class _Rows:
    """One modality's transformer inputs for all rows of a step (n_passes * B)."""

    latent: mx.array  # float32 state, tiled
    timesteps: mx.array
    positions: mx.array
    context: mx.array
    keyframes_mask: mx.array | None = None
    attention_mask: mx.array | None = None

    def modality(self, rows: slice, sigma: mx.array, dtype: mx.Dtype) -> Modality:
        marks = None if self.keyframes_mask is None else self.keyframes_mask[rows]
        mask = None if self.attention_mask is None else self.attention_mask[rows]
        return Modality(self.latent[rows].astype(dtype), sigma[rows], self.timesteps[rows],
                        self.positions[rows], self.context[rows].astype(dtype), keyframes_mask=marks,
                        attention_mask=mask)


def _rows(state: LatentState, sigma: float, context: mx.array, negative: mx.array | None,
          plan: StepPlan, needs_negative: bool, uniform: bool, keyframes: bool = False) -> _Rows:
    n = len(plan.passes)
    if uniform:  # every token's mask is 1: one timestep per item, (B, 1, 1)
        timesteps = mx.full((state.latent.shape[0], 1, 1), sigma, dtype=mx.float32)
    else:
        timesteps = state.denoise_mask.astype(mx.float32) * sigma
    marks = keyframes_mask_for(state) if keyframes else None
    return _Rows(
        latent=tile_passes(state.latent, n),
        timesteps=tile_passes(timesteps, n),
        positions=tile_passes(state.positions, n),
        context=pass_contexts(context, negative, plan.passes, needs_negative),
        keyframes_mask=None if marks is None else tile_passes(marks, n),
        attention_mask=None if state.attention_mask is None else tile_passes(state.attention_mask, n),
    )


def model_dtype(model: nn.Module) -> mx.Dtype:
    return model.patchify_proj.weight.dtype


def guided_step_outputs(model: nn.Module, states: dict[str, LatentState | None], sigma: float,
                        contexts: Contexts, guidance: Guidance, plan: StepPlan,
                        max_batch_size: int, uniform: bool = False,
                        frozen: Sequence[str] = ()) -> dict[str, tuple[mx.array | None, mx.array | None]]:
    """Raw x0 of every pass: {pass name: (video (B, T, C) | None, audio | None)}.

    uniform: no token is conditioned (every denoise mask is 1), so timesteps are passed per item.
    frozen: modalities given as clean conditioning; their stream's sigma is 0 (their masks are 0).
    """
    video, audio = states["video"], states["audio"]
    batch = (video or audio).latent.shape[0]
    needs = {m: (p is not None and p.needs_uncond) for m, p in zip(MODALITIES, (guidance.video, guidance.audio))}
    # Only a model with the keyframe embedding (LTX-2.5) reads the marker; others skip its tiling.
    keyframes = bool(getattr(model, "keyframes_abs_pos_embedding", None) is not None)
    # A modality without a guider has no negative prompt: its uncond rows read the positive context.
    neg_v = contexts.negative_video if guidance.video is not None else None
    neg_a = contexts.negative_audio if guidance.audio is not None else None
    vrows = None if video is None else _rows(video, sigma, contexts.video, neg_v, plan, needs["video"], uniform,
                                             keyframes)
    arows = None if audio is None else _rows(audio, sigma, contexts.audio, neg_a, plan, needs["audio"], uniform)
    n_rows = len(plan.passes) * batch
    sigmas = mx.full((n_rows,), sigma, dtype=mx.float32)
    still = mx.zeros((n_rows,), dtype=mx.float32)
    per_row = [_perturbations(p) for p in row_passes(plan.passes, batch)]
    dtype = model_dtype(model)

    def forward(rows: slice):
        chunk = per_row[rows]
        ptb = BatchPerturbations.of(chunk) if any(chunk) else None
        v = None if vrows is None else vrows.modality(rows, still if "video" in frozen else sigmas, dtype)
        a = None if arows is None else arows.modality(rows, still if "audio" in frozen else sigmas, dtype)
        v_vel, a_vel = model(v, a, ptb)
        v_x0 = None if v is None else to_denoised(vrows.latent[rows], v_vel, vrows.timesteps[rows])
        a_x0 = None if a is None else to_denoised(arows.latent[rows], a_vel, arows.timesteps[rows])
        return v_x0, a_x0

    return run_passes(forward, plan, batch, max_batch_size)


def denoise(
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
    stepper=None,
    step_noise: Callable[[int, str, tuple[int, ...]], mx.array] | None = None,
    frozen: Sequence[str] = (),
) -> Generator[StepEvent, None, tuple[LatentState | None, LatentState | None]]:
    """Euler-denoise the noised states over `sigmas` (float32 values, last 0); returns the final states.

    Yields first a step-0 event with the initial states (latent, positions, denoise_mask, clean_latent
    per modality), then one event per step with {modality: {latent (before the step), denoised (the
    guided x0), pass_<name> (raw x0 of each pass, if record_passes), next (after the step)}}.
    A modality given as None is never computed (video-only mode passes audio=None).
    uniform_timesteps: the caller knows that no token is conditioned (all denoise masks are 1).
    stepper: an object of `components.diffusion_steps.STEPPERS` (default Euler). A stochastic one gets
    `step_noise(step, modality, shape)` at every non-terminal step, video before audio (the official
    draw order), and the conditioning mask is re-applied after its renoising.
    frozen: modalities given as conditioning (mask 0 everywhere): their stream gets sigma 0.
    """
    if video is None and audio is None:
        raise ShapeError("denoise: expected a video and/or an audio state, got neither")
    if len(sigmas) < 2 or sigmas[-1] != 0.0:
        raise ValueError(f"denoise: sigmas must end in 0.0 with at least one step, got {list(sigmas)}")
    if audio is None and guidance.video is not None:
        # Without audio the isolated (no cross-modal attention) pass equals the conditioned one,
        # so its guidance term is zero: skip the pass instead of computing it.
        guidance = replace(guidance, video=replace(guidance.video, modality_scale=1.0))
    states: dict[str, LatentState | None] = {"video": video, "audio": audio}
    total = len(sigmas) - 1
    init = {m: {"latent": s.latent, "positions": s.positions, "denoise_mask": s.denoise_mask,
                "clean_latent": s.clean_latent} for m, s in states.items() if s is not None}
    yield StepEvent(stage, 0, total, init, pipelined=True)
    stepper = stepper or EulerStep()
    if stepper.stochastic and step_noise is None:
        raise ValueError("denoise: a stochastic sampler needs a step_noise source")
    last: tuple[mx.array | None, mx.array | None] = (None, None)
    for i in range(total):
        plan = plan_step(guidance.video if video is not None else None,
                         guidance.audio if audio is not None else None, i)
        outputs = {} if not plan.passes else guided_step_outputs(
            model, states, float(sigmas[i]), contexts, guidance, plan, max_batch_size, uniform_timesteps, frozen)
        x0 = guided_x0(plan, guidance.video, guidance.audio, outputs, last)
        last = x0
        event: dict[str, dict[str, mx.array]] = {}
        for k, m in enumerate(MODALITIES):
            state = states[m]
            if state is None:
                continue
            clean_x0 = post_process_latent(x0[k], state.denoise_mask, state.clean_latent)
            if stepper.stochastic and sigmas[i + 1] != 0:
                noise = step_noise(i, m, tuple(state.latent.shape))
                nxt = stepper.step(state.latent, clean_x0, sigmas, i, noise)
                nxt = post_process_latent(nxt, state.denoise_mask, state.clean_latent)
            else:
                nxt = stepper.step(state.latent, clean_x0, sigmas, i)
            record = {"latent": state.latent, "denoised": x0[k], "next": nxt}
            if record_passes:
                record.update({f"pass_{name}": vals[k] for name, vals in outputs.items() if vals[k] is not None})
            event[m] = record
            states[m] = state.with_latent(nxt)
        yield StepEvent(stage, i + 1, total, event, pipelined=True)
    return states["video"], states["audio"]
