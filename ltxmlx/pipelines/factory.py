"""`make_pipeline`: a PipelineConfig -> the list of stages of the one-stage, two-stage or distilled flow.

Everything is checked here before any model loads: the config, the STG blocks against the
checkpoint's depth, and every LoRA against the transformer's weight shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from ltxmlx.pipelines.api import Stage
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.decode_stage import DecodeStage
from ltxmlx.pipelines.denoise import Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage, stage_sigmas
from ltxmlx.pipelines.models import CheckpointInfo, check_loras
from ltxmlx.pipelines.states import ImageSource, NoiseSource, file_images, keyed_noise
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.pipelines.upsample_stage import UpsampleStage
from ltxmlx.config.validate import validate_against_checkpoint


@dataclass(frozen=True)
class Resolved:
    """The settings a config leaves to the checkpoint's defaults, resolved."""

    guidance: Guidance
    stage1_sigmas: tuple[float, ...]
    stage2_sigmas: tuple[float, ...] | None


def resolve(cfg: PipelineConfig, info: CheckpointInfo) -> Resolved:
    if cfg.guided:
        dv, da = (None, None)
        if cfg.video_guider is None or cfg.audio_guider is None:
            dv, da = default_guider_params(info.model_version)
        video: GuiderParams | None = cfg.video_guider or dv
        audio: GuiderParams | None = (cfg.audio_guider or da) if cfg.audio else None
        guidance = Guidance(video, audio)
    else:
        guidance = Guidance()
    if cfg.stage1_sigmas is not None:
        s1 = stage_sigmas(cfg.stage1_sigmas)
    elif cfg.kind == "distilled":
        s1 = stage_sigmas(DISTILLED_SIGMA_VALUES)
    else:
        steps = cfg.steps or default_num_inference_steps(info.model_version)
        s1 = stage_sigmas(LTX2Scheduler().execute(steps))
    s2 = None
    if cfg.two_stage:
        s2 = stage_sigmas(cfg.stage2_sigmas or STAGE_2_DISTILLED_SIGMA_VALUES)
    return Resolved(guidance, s1, s2)


def make_pipeline(cfg: PipelineConfig, noise: NoiseSource | None = None, images: ImageSource | None = None,
                  record_passes: bool = False) -> list[Stage]:
    """The stages of `cfg.kind`; raises ConfigError / LoraError / CheckpointError before any model loads.

    noise / images: where item noise and preprocessed conditioning images come from (default: each
    item's keyed PRNG; image files). record_passes: put every guidance pass's x0 in the step events.
    """
    cfg.validate()
    info = CheckpointInfo.read(cfg.files.checkpoint)
    r = resolve(cfg, info)
    validate_against_checkpoint(cfg, info.config["transformer"], (r.guidance.video, r.guidance.audio))
    distilled_lora = (cfg.files.distilled_lora,) if cfg.files.distilled_lora else ()
    check_loras(info.config, cfg.loras)
    if distilled_lora:
        check_loras(info.config, distilled_lora)
    noise = noise or keyed_noise
    images = images or file_images(cfg.image_crf)
    needs_negative = any(p is not None and p.needs_uncond for p in (r.guidance.video, r.guidance.audio))
    common = {"cfg": cfg, "info": info, "noise": noise, "images": images, "record_passes": record_passes}
    if not cfg.two_stage:
        stage1 = DiffusionStage(name="stage1", stage_index=0, height=cfg.height, width=cfg.width,
                                sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, **common)
        return [TextStage(cfg, needs_negative), stage1, DecodeStage(cfg, info)]
    stage1 = DiffusionStage(name="stage1", stage_index=0, height=cfg.height // 2, width=cfg.width // 2,
                            sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, pass_contexts=True,
                            **common)
    # Stage 2 never guides; the dev flow refines with the distilled LoRA and keeps stage-1 audio.
    stage2 = DiffusionStage(name="stage2", stage_index=1, height=cfg.height, width=cfg.width,
                            sigmas=r.stage2_sigmas, guidance=Guidance(), loras=cfg.loras + distilled_lora,
                            noise_scale=r.stage2_sigmas[0], refine=True, keep_input_audio=cfg.kind == "two_stage",
                            **common)
    return [TextStage(cfg, needs_negative), stage1, UpsampleStage(cfg), stage2, DecodeStage(cfg, info)]
