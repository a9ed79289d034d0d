"""`make_pipeline`: a PipelineConfig -> the list of stages of its kind, from the `PIPELINES` table.

Everything is checked here before any model loads: the config, the STG blocks against the
checkpoint's depth, and every LoRA against the transformer's weight shapes.
"""

from __future__ import annotations

from ltxmlx.components.guiders import (
    GuiderParams,
    default_guider_params,
    default_num_inference_steps,
)
from ltxmlx.components.schedulers import (
    DISTILLED_SIGMA_VALUES,
    STAGE_2_DISTILLED_SIGMA_VALUES,
    LTX2Scheduler,
)
from ltxmlx.errors import ConfigError
from ltxmlx.pipelines.api import Stage
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.decode_stage import DecodeStage
from ltxmlx.pipelines.denoise import Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage, stage_sigmas
from ltxmlx.pipelines.a2v import build_a2v
from ltxmlx.pipelines.ic_lora import build_ic_lora
from ltxmlx.pipelines.keyframe_interpolation import build_keyframe_interpolation
from ltxmlx.pipelines.retake import build_retake
from ltxmlx.pipelines.two_stage_hq import build_two_stage_hq
from ltxmlx.pipelines.kinds import BuildContext, PipelineKind, Resolved
from ltxmlx.pipelines.models import CheckpointInfo, check_loras
from ltxmlx.pipelines.states import ImageSource, NoiseSource, file_images, keyed_noise
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.pipelines.upsample_stage import UpsampleStage
from ltxmlx.pipelines.validation import validate_against_checkpoint


def resolve(cfg: PipelineConfig, info: CheckpointInfo) -> Resolved:
    if cfg.guided:
        dv, da = (None, None)
        if cfg.video_guider is None or cfg.audio_guider is None:
            dv, da = default_guider_params(info.model_version)
        video: GuiderParams | None = cfg.video_guider or dv
        audio: GuiderParams | None = (cfg.audio_guider or da) if cfg.audio and cfg.traits.audio_guided else None
        guidance = Guidance(video, audio)
    else:
        guidance = Guidance()
    if cfg.stage1_sigmas is not None:
        s1 = stage_sigmas(cfg.stage1_sigmas)
    elif not cfg.guided:  # the distilled model's pipelines
        s1 = stage_sigmas(DISTILLED_SIGMA_VALUES)
    else:
        steps = cfg.steps or default_num_inference_steps(info.model_version)
        s1 = stage_sigmas(LTX2Scheduler().execute(steps))
    s2 = None
    if cfg.two_stage:
        s2 = stage_sigmas(cfg.stage2_sigmas or STAGE_2_DISTILLED_SIGMA_VALUES)
    return Resolved(guidance, s1, s2)


def build_one_stage(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    stage1 = DiffusionStage(name="stage1", stage_index=0, height=cfg.height, width=cfg.width,
                            sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, DecodeStage(cfg, ctx.info)]


def build_two_stage(ctx: BuildContext) -> list[Stage]:
    """Dev two-stage and distilled: stage 1 at half size, x2 upsample, an unguided stage 2."""
    cfg, r = ctx.cfg, ctx.resolved
    stage1 = DiffusionStage(name="stage1", stage_index=0, height=cfg.height // 2, width=cfg.width // 2,
                            sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, pass_contexts=True,
                            **ctx.common)
    # Stage 2 never guides; the dev flow refines with the distilled LoRA and keeps stage-1 audio.
    stage2 = DiffusionStage(name="stage2", stage_index=1, height=cfg.height, width=cfg.width,
                            sigmas=r.stage2_sigmas, guidance=Guidance(), loras=cfg.loras + ctx.distilled_lora,
                            noise_scale=r.stage2_sigmas[0], refine=True, keep_input_audio=cfg.kind == "two_stage",
                            **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, UpsampleStage(cfg), stage2, DecodeStage(cfg, ctx.info)]


PIPELINES: dict[str, PipelineKind] = {
    "one_stage": PipelineKind(build_one_stage, two_stage=False, guided=True, distilled_lora=False,
                              description="one guided stage at full size"),
    "two_stage": PipelineKind(build_two_stage, two_stage=True, guided=True, distilled_lora=True,
                              description="dev: guided half-size stage 1, x2 upsample, distilled-LoRA stage 2"),
    "distilled": PipelineKind(build_two_stage, two_stage=True, guided=False, distilled_lora=False,
                              description="distilled model: two unguided stages"),
    "keyframe_interpolation": PipelineKind(
        build_keyframe_interpolation, two_stage=True, guided=True, distilled_lora=True,
        description="images at frame indices appended as guiding latents in both stages"),
    "ic_lora": PipelineKind(build_ic_lora, two_stage=True, guided=False, distilled_lora=False,
                            description="distilled: reference videos + IC-LoRA in stage 1, plain stage 2"),
    "a2v": PipelineKind(build_a2v, two_stage=True, guided=True, distilled_lora=True,
                        description="video to an input audio track (frozen in both stages, video-only guidance)",
                        audio_guided=False),
    "retake": PipelineKind(build_retake, two_stage=False, guided=False, distilled_lora=False,
                           description="distilled: regenerate a time window of a source video and its audio"),
    "two_stage_hq": PipelineKind(build_two_stage_hq, two_stage=True, guided=True, distilled_lora=True,
                                 description="dev two-stage with the res_2s sampler and the distilled LoRA in both"),
}


def pipeline_kind(name: str) -> PipelineKind:
    """The table entry of `name`; a ConfigError listing the valid names otherwise."""
    if name not in PIPELINES:
        raise ConfigError("pipeline", name, f"one of {', '.join(PIPELINES)}")
    return PIPELINES[name]


def make_pipeline(cfg: PipelineConfig, noise: NoiseSource | None = None, images: ImageSource | None = None,
                  record_passes: bool = False, references=None, audio=None, source=None,
                  sde_noise=None) -> list[Stage]:
    """The stages of `cfg.kind`; raises ConfigError / LoraError / CheckpointError before any model loads.

    noise / images / references / audio / source: where item noise, preprocessed conditioning images,
    reference videos, input audio and retake sources come from (default: each item's keyed PRNG;
    the items' files). sde_noise: the res_2s SDE noise (default: fixed keys, as the official seeding). record_passes: put every
    guidance pass's x0 in the step events.
    """
    cfg.validate()
    info = CheckpointInfo.read(cfg.files.checkpoint)
    r = resolve(cfg, info)
    validate_against_checkpoint(cfg, info.config["transformer"], (r.guidance.video, r.guidance.audio))
    check_loras(info.config, cfg.loras)
    if cfg.files.distilled_lora:
        check_loras(info.config, (cfg.files.distilled_lora,))
    needs_negative = any(p is not None and p.needs_uncond for p in (r.guidance.video, r.guidance.audio))
    ctx = BuildContext(cfg, info, r, noise or keyed_noise, images or file_images(cfg.image_crf), record_passes,
                       needs_negative, references, audio, source, sde_noise)
    return pipeline_kind(cfg.kind).build(ctx)
