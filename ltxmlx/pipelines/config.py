"""What a pipeline needs to know: files, shapes, sampling and guidance. Built by the renderer's schema.

Values left as None take the official defaults of the checkpoint's generation (`ltxmlx.generations`,
chosen by the transformer file's `model_version`) when the pipeline is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltxmlx.components.guiders import GuiderParams

@dataclass(frozen=True)
class LoraSpec:
    path: str
    strength: float = 1.0


@dataclass(frozen=True)
class ModelFiles:
    """checkpoint: the transformer file (LTX-2 / 2.3: the single file that also holds the text
    connectors, VAEs and vocoder); text_encoder: a Gemma 3 folder or a Gemma 4 packed file;
    video_vae / audio_vae: the split files of LTX-2.5 (None: inside `checkpoint`); upsampler for
    two-stage kinds; distilled_lora: the stage-2 LoRA of the dev two-stage pipeline; duration_head:
    the LTX-2.5 clip-length predictor (needed for `num_frames=None`)."""

    checkpoint: str
    text_encoder: str
    spatial_upsampler: str | None = None
    distilled_lora: LoraSpec | None = None
    video_vae: str | None = None
    audio_vae: str | None = None
    duration_head: str | None = None

    @property
    def video_vae_file(self) -> str:
        return self.video_vae or self.checkpoint

    @property
    def audio_vae_file(self) -> str:
        return self.audio_vae or self.checkpoint


@dataclass(frozen=True)
class PipelineConfig:
    kind: str
    files: ModelFiles
    height: int
    width: int
    num_frames: int | None  # None: each item's own (RenderItem.num_frames, from the duration head)
    fps: float = 24.0
    steps: int | None = None  # stage-1 steps of guided kinds; distilled kinds use fixed sigma tables
    video_guider: GuiderParams | None = None
    audio_guider: GuiderParams | None = None
    loras: tuple[LoraSpec, ...] = ()  # user LoRAs, fused in every stage
    max_batch_size: int = 8  # rows (items x guidance passes) per transformer call
    dtype: str = "bfloat16"
    audio: bool = True  # False: video-only, the audio branch is never computed
    decode_tile_budget_gb: float | None = None  # None: choose tiles from the free memory
    stage1_sigmas: tuple[float, ...] | None = None  # overrides the scheduler / distilled table
    stage2_sigmas: tuple[float, ...] | None = None  # None: the official stage-2 distilled table
    image_crf: int | None = None  # H.264 re-encode of conditioning images; None: the generation's (0 = off)
    generation: str | None = None  # the generation the files must be ("2.0", "2.3", "2.5"); None: any
    video_decoder: str = "conv"  # "conv" or "diffusion" (a generation whose video VAE file has one)
    text_max_length: int | None = None  # Gemma token length; None: the official 1024
    prompt_cache_dir: str | None = None  # on-disk prompt embedding cache; None: no cache
    text_encoder_kind: str | None = None  # a key of ltxmlx.text_encoders.TEXT_ENCODERS; None: the generation's
    quantization: str = "none"  # ltxmlx.loader.quantize.MODES: transformer and Gemma weights
    quant_cache_dir: str | None = None  # quantized-weights cache; None: quantize at every build
    reference_attention: float = 1.0  # ic_lora: attention weight between reference and generated tokens
    # two_stage_hq: the distilled LoRA's strength in stage 1 and stage 2 (the official 0.25 / 0.5)
    distilled_lora_stage_strengths: tuple[float, float] = (0.25, 0.5)

    def __post_init__(self) -> None:
        self.traits  # raises ConfigError naming the valid kinds

    @property
    def traits(self):
        """The kind's entry of the pipeline table (`factory.PIPELINES`)."""
        from ltxmlx.pipelines.factory import pipeline_kind

        return pipeline_kind(self.kind)

    @property
    def two_stage(self) -> bool:
        """Stage 1 at half size, x2 latent upsample, stage 2 at full size."""
        return self.traits.two_stage

    @property
    def guided(self) -> bool:
        """Dev pipelines guide stage 1 (CFG/STG/modality); the distilled one never guides."""
        return self.traits.guided

    def validate(self) -> None:
        """Raise ConfigError for values no pipeline accepts (sizes, scales, files); reads no weights.

        Checks that need the checkpoint's config (STG block range, LoRA targets) run in make_pipeline.
        """
        from ltxmlx.config.validate import validate_config

        validate_config(self)
