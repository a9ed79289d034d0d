"""HQ two-stage: the dev flow with the res_2s second-order sampler in both stages and the distilled
LoRA fused in both, at per-stage strengths (official defaults 0.25 / 0.5).

Stage 1 is guided at half size; stage 2 refines the upsampled video unguided and the output keeps
the stage-1 audio, as the official TI2VidTwoStagesHQPipeline. The SDE noise of res_2s does not
depend on the item seed (see `res2s_loop`); stage keys record its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from ltxmlx.errors import ConfigError
from ltxmlx.pipelines.api import RenderItem, Stage
from ltxmlx.pipelines.decode_stage import DecodeStage
from ltxmlx.pipelines.denoise import Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage
from ltxmlx.pipelines.kinds import BuildContext
from ltxmlx.pipelines.res2s_loop import OFFICIAL_NOISE_SEED, SUBSTEP_SEED_OFFSET, keyed_sde_noise, res2s_denoise
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.pipelines.upsample_stage import UpsampleStage


@dataclass
class Res2sStage(DiffusionStage):
    """A diffusion stage sampled with res_2s; its key names the sampler and its noise seeds."""

    def item_notes(self, item: RenderItem) -> dict:
        """For the item's record: the SDE noise of res_2s does not come from the item's seed."""
        return {"sampler": "res_2s", "sde_noise_seed": OFFICIAL_NOISE_SEED,
                "sde_substep_noise_seed": OFFICIAL_NOISE_SEED + SUBSTEP_SEED_OFFSET,
                "sde_noise_from_item_seed": False}

    def key_inputs(self, item: RenderItem) -> dict:
        keys = super().key_inputs(item)
        keys["sampler"] = self.item_notes(item)
        return keys


def build_two_stage_hq(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    lora = cfg.files.distilled_lora
    if lora is None:
        raise ConfigError("files.distilled_lora", None, "the distilled LoRA (two_stage_hq fuses it in both stages)")
    s1, s2 = cfg.distilled_lora_stage_strengths
    loop = partial(res2s_denoise, sde_noise=ctx.sde_noise or keyed_sde_noise())
    stage1 = Res2sStage(name="stage1", stage_index=0, height=cfg.height // 2, width=cfg.width // 2,
                        sigmas=r.stage1_sigmas, guidance=r.guidance, loras=cfg.loras + (replace(lora, strength=s1),),
                        pass_contexts=True, loop=loop, **ctx.common)
    stage2 = Res2sStage(name="stage2", stage_index=1, height=cfg.height, width=cfg.width, sigmas=r.stage2_sigmas,
                        guidance=Guidance(), loras=cfg.loras + (replace(lora, strength=s2),),
                        noise_scale=r.stage2_sigmas[0], refine=True, keep_input_audio=True, loop=loop, **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, UpsampleStage(cfg), stage2, DecodeStage(cfg, ctx.info)]
