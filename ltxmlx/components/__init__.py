"""Pure diffusion math behind small Protocols: schedules, steppers, guidance, noise, latent layouts."""

from ltxmlx.components.diffusion_steps import EulerStep, Res2sStep, to_denoised
from ltxmlx.components.guidance_passes import GuidancePass, StepPlan, guided_x0, plan_step, run_passes
from ltxmlx.components.guiders import GuiderParams, guide
from ltxmlx.components.latent_tools import (
    AudioLatentShape,
    AudioLatentTools,
    LatentState,
    VideoLatentShape,
    VideoLatentTools,
    audio_positions,
    video_positions,
)
from ltxmlx.components.noisers import draw_noise, item_key, noise_latent
from ltxmlx.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltxmlx.components.schedulers import (
    DISTILLED_SIGMA_VALUES,
    STAGE_2_DISTILLED_SIGMA_VALUES,
    FixedSigmas,
    LTX2Scheduler,
    distilled_sigmas,
    stage2_distilled_sigmas,
)

__all__ = [
    "AudioLatentShape", "AudioLatentTools", "AudioPatchifier", "DISTILLED_SIGMA_VALUES", "EulerStep",
    "FixedSigmas", "GuidancePass", "GuiderParams", "LTX2Scheduler", "LatentState",
    "Res2sStep", "STAGE_2_DISTILLED_SIGMA_VALUES", "StepPlan", "VideoLatentPatchifier", "VideoLatentShape",
    "VideoLatentTools", "audio_positions", "distilled_sigmas", "draw_noise", "guide",
    "guided_x0", "item_key", "noise_latent", "plan_step", "run_passes", "stage2_distilled_sigmas",
    "to_denoised", "video_positions",
]
