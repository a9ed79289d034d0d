"""Keyframe interpolation: any number of images at pixel frame indices guide a two-stage render.

Every image - the one at frame 0 included - is VAE-encoded at the stage's size and appended as a
guiding latent (extra tokens at its frame's time position, denoise mask 1 - strength) in both stages,
as the official KeyframeInterpolationPipeline does; the dev i2v rule that replaces latent frame 0
is not used. Stage 1 is guided at half size, stage 2 refines video and audio with the distilled LoRA.
"""

from __future__ import annotations

from collections.abc import Sequence

import mlx.core as mx

from ltxmlx.components.latent_tools import LatentState, VideoLatentTools
from ltxmlx.conditioning.keyframe_cond import condition_by_keyframe
from ltxmlx.pipelines.api import ImageCondition, Stage
from ltxmlx.pipelines.decode_stage import DecodeStage
from ltxmlx.pipelines.denoise import Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage
from ltxmlx.pipelines.kinds import BuildContext
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.pipelines.upsample_stage import UpsampleStage


def guiding_latent_state(tools: VideoLatentTools, initial: mx.array | None,
                         encoded: Sequence[tuple[ImageCondition, mx.array]]) -> LatentState:
    """One item's video state: the initial latent (or zeros) with every image appended as keyframe tokens."""
    state = tools.create_initial_state(mx.float32, initial)
    for image, latent in encoded:
        state = condition_by_keyframe(state, tools, latent.astype(mx.float32), image.frame, image.strength)
    return state


def build_keyframe_interpolation(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    stage1 = DiffusionStage(name="stage1", stage_index=0, height=cfg.height // 2, width=cfg.width // 2,
                            sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras, pass_contexts=True,
                            condition_video=guiding_latent_state, **ctx.common)
    # Stage 2 refines both modalities from the stage-1 result, unguided, with the distilled LoRA.
    stage2 = DiffusionStage(name="stage2", stage_index=1, height=cfg.height, width=cfg.width,
                            sigmas=r.stage2_sigmas, guidance=Guidance(), loras=cfg.loras + ctx.distilled_lora,
                            noise_scale=r.stage2_sigmas[0], refine=True, condition_video=guiding_latent_state,
                            **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, UpsampleStage(cfg), stage2, DecodeStage(cfg, ctx.info)]
