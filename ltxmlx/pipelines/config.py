"""What a pipeline needs to know: files, shapes, sampling and guidance. Built by the renderer's schema.

Values left as None take the official defaults for the checkpoint's `model_version` when the
pipeline is made (e.g. 40 steps and STG block 29 for LTX-2, 30 steps and block 28 for LTX-2.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from ltxmlx.components.guiders import GuiderParams

KINDS = ("two_stage", "one_stage", "distilled")


@dataclass(frozen=True)
class LoraSpec:
    path: str
    strength: float = 1.0


@dataclass(frozen=True)
class ModelFiles:
    """checkpoint: the LTX single file; text_encoder: a Gemma 3 folder; upsampler for two-stage kinds;
    distilled_lora: the stage-2 LoRA of the dev two-stage pipeline."""

    checkpoint: str
    text_encoder: str
    spatial_upsampler: str | None = None
    distilled_lora: LoraSpec | None = None


@dataclass(frozen=True)
class PipelineConfig:
    kind: str
    files: ModelFiles
    height: int
    width: int
    num_frames: int
    fps: float = 24.0
    steps: int | None = None  # stage-1 steps of guided kinds; distilled kinds use fixed sigma tables
    video_guider: GuiderParams | None = None
    audio_guider: GuiderParams | None = None
    loras: tuple[LoraSpec, ...] = ()  # user LoRAs, fused in every stage
    max_batch_size: int = 8  # rows (items x guidance passes) per transformer call
    dtype: str = "bfloat16"
    audio: bool = True  # False: video-only, the audio branch is never computed
    decode_tile_budget_gb: float | None = None  # None: choose tiles from the free memory

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"pipeline kind {self.kind!r} is not one of {', '.join(KINDS)}")
