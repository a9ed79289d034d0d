"""The x2 spatial latent upsample between the two diffusion stages (stats-wrapped, as the official)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.model.upsampler import upsample_video
from ltxmlx.pipelines.api import RenderItem, StageOutputs, StepEvent
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.models import file_identity, mx_dtype
from ltxmlx.pipelines.states import split_latent


@dataclass
class UpsampleStage:
    """Inputs: `video_latent` (1, C, F, H, W) per item; outputs it at (1, C, F, 2H, 2W), everything
    else of the inputs (audio latent, contexts) passed through."""

    cfg: PipelineConfig
    name: str = "upsample"
    _upsampler: object = field(default=None, init=False, repr=False)
    _stats: object = field(default=None, init=False, repr=False)

    def key_inputs(self, item: RenderItem) -> dict:
        return {"stage": self.name, "upsampler": file_identity(self.cfg.files.spatial_upsampler),
                "checkpoint": file_identity(self.cfg.files.video_vae_file), "dtype": self.cfg.dtype}

    def __enter__(self) -> UpsampleStage:
        dtype = mx_dtype(self.cfg.dtype)
        self._upsampler = build("spatial_upsampler", self.cfg.files.spatial_upsampler, dtype=dtype)
        # The upsampler works on raw VAE latents: the video VAE's per-channel statistics unwrap them.
        self._stats = build("video_latent_stats", self.cfg.files.video_vae_file, dtype=dtype)
        return self

    def __exit__(self, *exc) -> None:
        self._upsampler = self._stats = None
        mx.clear_cache()

    def run(self, items: list[RenderItem], inputs: StageOutputs) -> Generator[StepEvent, None, StageOutputs]:
        if self._upsampler is None:
            raise RuntimeError(f"stage {self.name!r} must be entered (with-block) before run")
        latents = [x["video_latent"] for x in inputs]
        latent = mx.concatenate(latents, axis=0) if len(latents) > 1 else latents[0]
        dtype = mx_dtype(self.cfg.dtype)
        up = upsample_video(latent.astype(dtype), self._upsampler, self._stats).astype(mx.float32)
        yield StepEvent(self.name, 1, 1, {"video_latent": up})
        return [{**x, "video_latent": v} for x, v in zip(inputs, split_latent(up))]
