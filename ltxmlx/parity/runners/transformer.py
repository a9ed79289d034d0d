"""Parity runner for the audio-video transformer: preprocessing, each block, and the forward variants.

Cases with `video.keyframes_mask` (LTX-2.5) feed it to every video pass; `no_keyframes_mask.*` is the
plain pass without it.
"""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.model.transformer import (
    MODALITY_ISOLATION,
    BatchPerturbations,
    Modality,
    Perturbation,
    PerturbationType,
)
from ltxmlx.model.transformer.perturbations import no_perturbations

_SELF = (PerturbationType.SKIP_VIDEO_SELF_ATTN, PerturbationType.SKIP_AUDIO_SELF_ATTN)


def _modality(case, name: str) -> Modality:
    def get(field: str) -> mx.array:
        return mx.array(case.input(f"{name}.{field}"))

    mask = mx.array(case.input(f"{name}.keyframes_mask")) if f"{name}.keyframes_mask" in case.inputs else None
    return Modality(get("latent"), get("sigma"), get("timesteps"), get("positions"), get("context"), mask)


def _head_major(table: mx.array) -> mx.array:
    return table.transpose(0, 2, 1, 3)


def _stage_outputs(model, video: Modality, audio: Modality) -> dict[str, mx.array]:
    """pre.* and block{i}.* of the unperturbed pass."""
    out: dict[str, mx.array] = {}
    vargs, aargs = model.preprocess(video, audio)
    for name, args in (("video", vargs), ("audio", aargs)):
        fields = {
            "x": args.x, "context": args.context, "timestep_mod": args.timestep,
            # Tables are token-major (B, T, H, Dh/2); the fixtures hold them head-major.
            "embedded_timestep": args.embedded_timestep,
            "rope_cos": _head_major(args.pe[0]), "rope_sin": _head_major(args.pe[1]),
            "cross_rope_cos": _head_major(args.cross_pe[0]), "cross_rope_sin": _head_major(args.cross_pe[1]),
            "cross_scale_shift_timestep": args.cross_scale_shift, "cross_gate_timestep": args.cross_gate,
        }
        if args.prompt_timestep is not None:
            fields["prompt_timestep"] = args.prompt_timestep
        out.update({f"pre.{name}.{k}": v for k, v in fields.items()})
    vx, ax = vargs.x, aargs.x
    masks = no_perturbations(vx.shape[0])
    for i, block in enumerate(model.transformer_blocks):
        vx, ax = block(vx, ax, vargs, aargs, masks)
        out[f"block{i}.video.x"], out[f"block{i}.audio.x"] = vx, ax
    return out


def run(case) -> dict[str, mx.array]:
    model = build("transformer", case.checkpoint_path(0), dtype=mx.float32)
    video, audio = _modality(case, "video"), _modality(case, "audio")
    batch = video.latent.shape[0]
    stg_block = int(case.config["case"]["stg_block"])
    stg = tuple(Perturbation(t, (stg_block,)) for t in _SELF)
    variants = {
        "plain": (video, audio, None),
        "stg_b1": (video, audio, BatchPerturbations.of([() if i != 1 else stg for i in range(batch)])),
        "stg_all": (video, audio, BatchPerturbations.uniform(batch, stg)),
        "modality_isolated": (video, audio, BatchPerturbations.uniform(batch, MODALITY_ISOLATION)),
        "video_only": (video, None, None),
        "audio_only": (None, audio, None),
        "no_keyframes_mask": (replace(video, keyframes_mask=None), audio, None),
    }
    wanted = set(case.outputs)
    out = _stage_outputs(model, video, audio)
    for name, (v, a, perturbations) in variants.items():
        if not any(k.startswith(f"{name}.") for k in wanted):
            continue
        v_vel, a_vel = model(v, a, perturbations)
        if v_vel is not None:
            out[f"{name}.video.velocity"] = v_vel
        if a_vel is not None:
            out[f"{name}.audio.velocity"] = a_vel
    # x0 = latent - velocity * timesteps, in float32 (as the official X0Model).
    out["plain.video.denoised"] = video.latent - out["plain.video.velocity"] * video.timesteps
    out["plain.audio.denoised"] = audio.latent - out["plain.audio.velocity"] * audio.timesteps
    return {k: v for k, v in out.items() if k in wanted}
