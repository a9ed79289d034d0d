"""What a pipeline kind is: its traits (read by validation before any model loads) and its builder.

A builder turns a `BuildContext` (the checked config, the checkpoint's metadata, the resolved
sampling settings and the injected noise / image sources) into the list of stages the runner drives.
Every kind is one entry of `factory.PIPELINES`; a new pipeline is its own module plus that entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ltxmlx.pipelines.api import Stage


@dataclass(frozen=True)
class Resolved:
    """The settings a config leaves to the checkpoint's generation, resolved."""

    guidance: Any  # denoise.Guidance
    stage1_sigmas: tuple[float, ...]
    stage2_sigmas: tuple[float, ...] | None
    image_crf: int = 33
    stage1_sampler: str = "euler"  # "euler" or "euler_ancestral" (LTX-2.5 distilled)
    ancestral_seed_offset: int = 0
    text_encoder: str = "gemma3"  # a key of ltxmlx.text_encoders.TEXT_ENCODERS


@dataclass(frozen=True)
class BuildContext:
    """Everything a builder needs; `common` are the keyword arguments every DiffusionStage takes."""

    cfg: Any  # config.PipelineConfig
    info: Any  # models.CheckpointInfo
    resolved: Resolved
    noise: Any  # states.NoiseSource
    images: Any  # states.ImageSource
    record_passes: bool
    needs_negative: bool
    references: Any = None  # ic_lora.ReferenceSource; None = read the items' video files
    audio: Any = None  # a2v.AudioSource; None = read the items' audio files
    source: Any = None  # retake.SourceMedia; None = read the items' source videos
    sde_noise: Any = None  # res2s_loop.SdeNoise; None = the fixed-seed keyed noise
    step_noise: Any = None  # states.StepNoiseSource of a stochastic stage-1 sampler

    @property
    def common(self) -> dict:
        return {"cfg": self.cfg, "info": self.info, "noise": self.noise, "images": self.images,
                "record_passes": self.record_passes}

    @property
    def first_stage(self) -> dict:
        """The sampler of the pipeline's first denoising stage (ancestral for the LTX-2.5 distilled model)."""
        return {"sampler": self.resolved.stage1_sampler, "step_noise": self.step_noise,
                "step_seed_offset": self.resolved.ancestral_seed_offset}

    @property
    def distilled_lora(self) -> tuple:
        lora = self.cfg.files.distilled_lora
        return (lora,) if lora else ()


@dataclass(frozen=True)
class PipelineKind:
    """two_stage: stage 1 at half size, x2 upsample, stage 2 at full size. guided: stage 1 uses the
    video/audio guiders (audio_guided: the audio guider too). distilled_lora: stage 2 needs
    `files.distilled_lora`. video: False for an audio-only kind (no video stream, a wav per item)."""

    build: Callable[[BuildContext], list[Stage]]
    two_stage: bool
    guided: bool
    distilled_lora: bool
    description: str = ""
    audio_guided: bool = True  # False: the audio is conditioning only (no audio guider)
    video: bool = True
