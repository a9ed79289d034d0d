"""The renderer's `RunConfig` -> the pipelines' `PipelineConfig` (one place that knows both).

Sampling settings are made explicit here: the ltx2 schedule is computed from the scheduler group
(steps, shifts, stretch, terminal) and passed as stage-1 sigmas, so the pipelines never fall back to
a checkpoint default the user did not choose.
"""

from __future__ import annotations

from pathlib import Path

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.components.schedulers import MAX_SHIFT_ANCHOR, ltx2_sigmas
from ltxmlx.config.schema import ModalityGuidanceCfg, RunConfig
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import PIPELINES


def _guider(g: ModalityGuidanceCfg) -> GuiderParams:
    return GuiderParams(cfg_scale=g.cfg, stg_scale=g.stg, stg_blocks=tuple(g.stg_blocks),
                        rescale_scale=g.rescale, modality_scale=g.modality, skip_step=g.skip_step)


def stage1_sigmas(cfg: RunConfig) -> tuple[float, ...]:
    s = cfg.scheduler
    if s.name == "distilled":
        return tuple(float(v) for v in s.sigmas)
    # The official pipelines never pass a latent, so the shift uses the 4096-token anchor.
    values = ltx2_sigmas(s.steps, MAX_SHIFT_ANCHOR, s.max_shift, s.base_shift, s.stretch, s.terminal)
    return tuple(float(v) for v in values)


def to_pipeline_config(cfg: RunConfig) -> PipelineConfig:
    """`cfg` must have its weight references resolved to local paths (`runner.job.resolve_weights`)."""
    m, p = cfg.model, cfg.pipeline
    kind = PIPELINES[p.name]
    # A model preset names its distilled LoRA; only the kinds that fuse it take it.
    lora = m.distilled_lora if kind.distilled_lora else None
    files = ModelFiles(
        checkpoint=m.checkpoint, text_encoder=m.text_encoder, spatial_upsampler=m.spatial_upsampler,
        distilled_lora=LoraSpec(lora, p.distilled_lora_strength) if lora else None,
        video_vae=m.video_vae, audio_vae=m.audio_vae, duration_head=m.duration_head)
    guided = kind.guided
    return PipelineConfig(
        kind=p.name, files=files, height=cfg.resolution.height, width=cfg.resolution.width,
        num_frames=None if cfg.resolution.frames == "auto" else cfg.resolution.frames, fps=cfg.resolution.fps, steps=cfg.scheduler.steps,
        video_guider=_guider(cfg.guider.video) if guided else None,
        audio_guider=_guider(cfg.guider.audio) if guided else None,
        loras=tuple(LoraSpec(lo.weights, lo.strength) for lo in cfg.lora.stack),
        dtype=m.dtype, stage1_sigmas=stage1_sigmas(cfg), generation=m.version, video_decoder=m.video_decoder,
        reference_attention=p.reference_attention,
        distilled_lora_stage_strengths=tuple(float(v) for v in p.distilled_lora_stage_strengths),
        stage2_sigmas=tuple(float(v) for v in p.stage2_sigmas) if kind.two_stage else None,
        quantization=m.quantization, quant_cache_dir=quant_cache_dir(cfg),
    )


def quant_cache_dir(cfg: RunConfig) -> str:
    """Where quantized weights are cached: beside the downloaded and generated weights."""
    return str(Path(cfg.paths.cache).expanduser() / "quantized")
