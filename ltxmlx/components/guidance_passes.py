"""Lay out the guidance passes of one step as a single batch, run it in chunks, split it back.

Rows are pass-major: [cond x B items, uncond x B, ptb x B, mod x B], the order of the official
batched denoiser, so a transformer call sees every pass of every item at once (up to
`max_batch_size` rows per call). The pipeline builds each chunk's inputs with `tile_passes` /
`pass_contexts` and the per-row perturbations from `row_passes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import mlx.core as mx

from ltxmlx.components.guiders import NO_GUIDANCE, GuiderParams, guide
from ltxmlx.errors import ShapeError


@dataclass(frozen=True)
class GuidancePass:
    """One transformer pass: which context it reads and which attentions it skips.

    skip_video_self_attn / skip_audio_self_attn: block indices whose self-attention is skipped (STG);
    skip_cross_modal: skip audio-to-video and video-to-audio attention in every block.
    """

    name: str
    negative_context: bool = False
    skip_video_self_attn: tuple[int, ...] = ()
    skip_audio_self_attn: tuple[int, ...] = ()
    skip_cross_modal: bool = False


@dataclass(frozen=True)
class StepPlan:
    """The passes of one step; empty when both modalities reuse their previous x0 (skip_step)."""

    passes: tuple[GuidancePass, ...]
    video_skip: bool
    audio_skip: bool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.passes)


def plan_step(video: GuiderParams | None, audio: GuiderParams | None, step: int) -> StepPlan:
    """Passes needed at `step` for the two modalities' guidance (None = modality absent/unguided)."""
    v, a = video or NO_GUIDANCE, audio or NO_GUIDANCE
    v_skip, a_skip = v.should_skip(step), a.should_skip(step)
    if v_skip and a_skip:
        return StepPlan((), True, True)
    passes = [GuidancePass("cond")]
    if v.needs_uncond or a.needs_uncond:
        passes.append(GuidancePass("uncond", negative_context=True))
    if v.needs_perturbed or a.needs_perturbed:
        passes.append(GuidancePass(
            "ptb",
            skip_video_self_attn=v.stg_blocks if v.needs_perturbed else (),
            skip_audio_self_attn=a.stg_blocks if a.needs_perturbed else (),
        ))
    if v.needs_isolated or a.needs_isolated:
        passes.append(GuidancePass("mod", skip_cross_modal=True))
    return StepPlan(tuple(passes), v_skip, a_skip)


def tile_passes(x: mx.array, n_passes: int) -> mx.array:
    """(B, ...) -> (n_passes*B, ...), pass-major (the same items repeated once per pass)."""
    return mx.concatenate([x] * n_passes, axis=0) if n_passes > 1 else x


def pass_contexts(positive: mx.array, negative: mx.array | None, passes: Sequence[GuidancePass],
                  negative_required: bool) -> mx.array:
    """Text contexts for all rows: (n_passes*B, S, D); uncond rows read `negative`.

    A modality whose own guidance has no CFG may lack a negative prompt: its uncond rows then reuse
    the positive context (their output is unused), as the official denoiser does.
    """
    if negative is None and negative_required:
        raise ValueError("the uncond (CFG) pass needs a negative-prompt context")
    if negative is not None and negative.shape != positive.shape:
        raise ShapeError(f"negative context: expected shape {tuple(positive.shape)}, got {tuple(negative.shape)}")
    neg = negative if negative is not None else positive
    return mx.concatenate([neg if p.negative_context else positive for p in passes], axis=0)


def row_passes(passes: Sequence[GuidancePass], batch: int) -> list[GuidancePass]:
    """The pass of each row of the pass-major layout (length n_passes*batch)."""
    return [p for p in passes for _ in range(batch)]


def chunk_rows(n_rows: int, max_batch_size: int) -> list[slice]:
    """Contiguous row slices of at most max_batch_size rows each."""
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
    return [slice(i, min(i + max_batch_size, n_rows)) for i in range(0, n_rows, max_batch_size)]


Outputs = tuple["mx.array | None", "mx.array | None"]


def run_passes(forward: Callable[[slice], Outputs], plan: StepPlan, batch: int,
               max_batch_size: int) -> dict[str, Outputs]:
    """Call `forward(rows)` once per chunk of the pass-major rows; return {pass name: (video, audio)}.

    forward returns the (video x0, audio x0) of those rows, either None for an absent modality.
    """
    n_rows = len(plan.passes) * batch
    parts = [forward(rows) for rows in chunk_rows(n_rows, max_batch_size)]
    out: dict[str, Outputs] = {}
    for m in range(2):
        pieces = [p[m] for p in parts]
        if any(x is None for x in pieces):
            full = None
        else:
            full = mx.concatenate(pieces, axis=0) if len(pieces) > 1 else pieces[0]
            if full.shape[0] != n_rows:
                raise ShapeError(f"guidance passes: expected {n_rows} output rows, got {full.shape[0]}")
        for i, p in enumerate(plan.passes):
            prev = out.get(p.name, (None, None))
            val = None if full is None else full[i * batch:(i + 1) * batch]
            out[p.name] = (val, prev[1]) if m == 0 else (prev[0], val)
    return out


def combine(params: GuiderParams | None, outputs: dict[str, mx.array | None]) -> mx.array:
    """Guided x0 of one modality from its per-pass outputs {name: (B, T, C)}."""
    return guide(params or NO_GUIDANCE, outputs["cond"], outputs.get("uncond"), outputs.get("ptb"),
                 outputs.get("mod"))


def guided_x0(plan: StepPlan, video: GuiderParams | None, audio: GuiderParams | None,
              outputs: dict[str, Outputs], last: Outputs) -> Outputs:
    """(video x0, audio x0) for the step: guided from `outputs`, or `last` for a skipped modality."""
    result = []
    for m, (params, skip) in enumerate(((video, plan.video_skip), (audio, plan.audio_skip))):
        if skip:
            if last[m] is None:
                raise ValueError("skip_step reuses the previous x0, but there is none (step 0 never skips)")
            result.append(last[m])
            continue
        per_pass = {name: vals[m] for name, vals in outputs.items()}
        result.append(None if per_pass.get("cond") is None else combine(params, per_pass))
    return result[0], result[1]
