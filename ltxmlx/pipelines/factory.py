"""`make_pipeline`: a PipelineConfig -> the list of stages of its kind, from the `PIPELINES` table.

Everything is checked here before any model loads: the config, the STG blocks against the
checkpoint's depth, and every LoRA against the transformer's weight shapes.
"""

from __future__ import annotations

from dataclasses import replace

from ltxmlx.components.guiders import GuiderParams
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
from ltxmlx.pipelines.t2a import build_t2a
from ltxmlx.pipelines.two_stage_hq import build_two_stage_hq
from ltxmlx.pipelines.kinds import BuildContext, PipelineKind, Resolved
from ltxmlx.pipelines.models import CheckpointInfo, check_loras
from ltxmlx.pipelines.states import (
    ImageSource,
    NoiseSource,
    StepNoiseSource,
    file_images,
    keyed_noise,
    keyed_step_noise,
)
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.pipelines.upsample_stage import UpsampleStage
from ltxmlx.text_encoders import text_encoder_kind
from ltxmlx.config.validate import validate_against_checkpoint


def check_generation(cfg: PipelineConfig, info: CheckpointInfo) -> None:
    """The files are the generation the config asks for, and its video decoder exists there."""
    gen = info.generation
    if cfg.generation is not None:
        found = gen.name if gen else "a file without model_version"
        if gen is None or gen.name != cfg.generation:
            raise ConfigError("model.version", cfg.generation,
                              f"the generation of {cfg.files.checkpoint} ({found}, model_version "
                              f"{info.model_version or 'absent'}): set model.version to match, or give the "
                              f"LTX-{cfg.generation} files")
    decoders = gen.video_decoders if gen else ("conv",)
    if cfg.video_decoder not in decoders:
        raise ConfigError("model.video_decoder", cfg.video_decoder,
                          f"one of {', '.join(decoders)} for {gen.title if gen else 'this model'}")


def resolve(cfg: PipelineConfig, info: CheckpointInfo) -> Resolved:
    if cfg.guided:
        dv, da = (None, None)
        if cfg.video_guider is None or cfg.audio_guider is None:
            dv, da = info.require_generation("guidance").guider_params()
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
        steps = cfg.steps or info.require_generation("step count").default_steps
        s1 = stage_sigmas(LTX2Scheduler().execute(steps))
    s2 = None
    if cfg.two_stage:
        s2 = stage_sigmas(cfg.stage2_sigmas or STAGE_2_DISTILLED_SIGMA_VALUES)
    crf = cfg.image_crf if cfg.image_crf is not None else info.require_generation("image CRF").image_crf
    sampler, offset = "euler", 0
    if cfg.kind == "distilled" and info.generation is not None:
        sampler, offset = info.generation.distilled_sampler, info.generation.ancestral_seed_offset
    text = cfg.text_encoder_kind or info.require_generation("text encoder").text_encoder
    if info.generation is not None and text != info.generation.text_encoder:
        raise ConfigError("text_encoder_kind", text, f"{info.generation.text_encoder} for {info.generation.title}")
    return Resolved(guidance, s1, s2, crf, sampler, offset, text)


def build_one_stage(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    stage1 = DiffusionStage(name="stage1", stage_index=0, height=cfg.height, width=cfg.width,
                            sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, **ctx.first_stage,
                            **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, DecodeStage(cfg, ctx.info)]


def build_two_stage(ctx: BuildContext) -> list[Stage]:
    """Dev two-stage and distilled: stage 1 at half size, x2 upsample, an unguided stage 2."""
    cfg, r = ctx.cfg, ctx.resolved
    stage1 = DiffusionStage(name="stage1", stage_index=0, height=cfg.height // 2, width=cfg.width // 2,
                            sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, pass_contexts=True,
                            **ctx.first_stage, **ctx.common)
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
    "t2a": PipelineKind(build_t2a, two_stage=False, guided=True, distilled_lora=False,
                        description="text to audio: one audio-only guided stage, no video", video=False),
}


def pipeline_kind(name: str) -> PipelineKind:
    """The table entry of `name`; a ConfigError listing the valid names otherwise."""
    if name not in PIPELINES:
        raise ConfigError("pipeline", name, f"one of {', '.join(PIPELINES)}")
    return PIPELINES[name]


def make_pipeline(cfg: PipelineConfig, noise: NoiseSource | None = None, images: ImageSource | None = None,
                  record_passes: bool = False, step_noise: StepNoiseSource | None = None, references=None,
                  audio=None, source=None, sde_noise=None) -> list[Stage]:
    """The stages of `cfg.kind`; raises ConfigError / LoraError / CheckpointError before any model loads.

    noise / images / references / audio / source: where item noise, preprocessed conditioning images,
    reference videos, input audio and retake sources come from (default: each item's keyed PRNG;
    the items' files). step_noise: the draws of a stochastic stage-1 sampler (default: the item's keys
    at seed + the generation's offset). sde_noise: the res_2s SDE noise (default: fixed keys, as the
    official seeding). record_passes: put every guidance pass's x0 in the step events.
    """
    cfg.validate()
    info = CheckpointInfo.read(cfg.files)
    check_generation(cfg, info)
    r = resolve(cfg, info)
    if cfg.files.text_encoder:  # the renderer always has one; the pipeline parity runs start from contexts
        text_encoder_kind(r.text_encoder).check(cfg.files.text_encoder, cfg.files.checkpoint)
    validate_against_checkpoint(cfg, info.config["transformer"], (r.guidance.video, r.guidance.audio))
    check_loras(info.config, cfg.loras)
    if cfg.files.distilled_lora:
        check_loras(info.config, (cfg.files.distilled_lora,))
    needs_negative = any(p is not None and p.needs_uncond for p in (r.guidance.video, r.guidance.audio))
    # The generation's choices become the config the stages read (image CRF, text-encoder kind).
    cfg = replace(cfg, image_crf=r.image_crf, text_encoder_kind=r.text_encoder)
    ctx = BuildContext(cfg, info, r, noise or keyed_noise, images or file_images(r.image_crf), record_passes,
                       needs_negative, references, audio, source, sde_noise,
                       step_noise or keyed_step_noise(r.ancestral_seed_offset))
    return pipeline_kind(cfg.kind).build(ctx)
