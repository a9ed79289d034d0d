"""IC-LoRA: a control video (depth, pose, edges, ...) guides a distilled two-stage render.

Stage 1 fuses the LoRA stack (at least one IC-LoRA among them) and appends each item's reference videos as clean
tokens, encoded at the stage size divided by the IC-LoRA's `reference_downscale_factor` (from its
file metadata), with an attention weight between reference and generated tokens (a scalar, or a pixel
mask video downsampled to the reference's latent grid, times `reference_attention`). Stage 2
refines the upsampled result without any LoRA and without the references, as the official
ICLoraPipeline does. Neither stage guides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import mlx.core as mx
import numpy as np

from ltxmlx.components.latent_tools import LatentState, VideoLatentTools
from ltxmlx.conditioning.attention_mask import mask_to_latent_tokens
from ltxmlx.conditioning.image_preprocess import resize_and_center_crop
from ltxmlx.conditioning.reference_cond import condition_by_reference
from ltxmlx.errors import ConfigError, LtxmlxError
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.pipelines.api import ImageCondition, ReferenceVideo, RenderItem, Stage
from ltxmlx.pipelines.config import LoraSpec
from ltxmlx.pipelines.decode_stage import DecodeStage
from ltxmlx.pipelines.denoise import Guidance
from ltxmlx.pipelines.diffusion_stage import DiffusionStage
from ltxmlx.pipelines.kinds import BuildContext
from ltxmlx.pipelines.states import video_conditioned_state
from ltxmlx.pipelines.text_stage import TextStage
from ltxmlx.pipelines.upsample_stage import UpsampleStage

DOWNSCALE_KEY = "reference_downscale_factor"
TEMPORAL_KEY = "reference_temporal_scale_factor"


class ReferenceSource(Protocol):
    def __call__(self, item: RenderItem, ref: ReferenceVideo, height: int, width: int,
                 num_frames: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(pixels (1, 3, F, height, width) float32 in [-1, 1], mask (1, 1, F, h, w) in [0, 1] | None)."""
        ...


def _frames(path: str, num_frames: int) -> np.ndarray:
    from ltxmlx.media.probe import decode_video

    frames = decode_video(path)
    if frames.shape[0] < num_frames:
        raise LtxmlxError(f"reference video {path}: {frames.shape[0]} frames, the render needs {num_frames}")
    return frames[:num_frames]


def file_references(item: RenderItem, ref: ReferenceVideo, height: int, width: int,
                    num_frames: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The default source: the first `num_frames` frames, cover-resized and centre-cropped."""
    frames = [resize_and_center_crop(f.astype(np.float32), height, width) for f in _frames(ref.path, num_frames)]
    pixels = np.stack(frames, axis=0).transpose(3, 0, 1, 2)[None] / 127.5 - 1.0
    mask = None
    if ref.mask is not None:
        grey = [resize_and_center_crop(f.astype(np.float32), height, width).mean(axis=-1, keepdims=True)
                for f in _frames(ref.mask, num_frames)]
        mask = np.stack(grey, axis=0).transpose(3, 0, 1, 2)[None] / 255.0
    return pixels.astype(np.float32), None if mask is None else mask.astype(np.float32)


def lora_scale_factors(path: str) -> tuple[int, int] | None:
    """(reference_downscale_factor, reference_temporal_scale_factor) from a LoRA file's metadata;
    None when the file declares neither (not an IC-LoRA)."""
    meta = open_checkpoint(path).metadata
    if DOWNSCALE_KEY not in meta and TEMPORAL_KEY not in meta:
        return None
    try:
        return int(meta.get(DOWNSCALE_KEY, 1)), int(meta.get(TEMPORAL_KEY, 1))
    except (TypeError, ValueError) as e:
        raise ConfigError("loras", path, f"integer {DOWNSCALE_KEY} / {TEMPORAL_KEY} metadata") from e


def reference_scales(loras: Sequence[LoraSpec]) -> tuple[int, int]:
    """The reference scale factors of a LoRA stack: at least one IC-LoRA, all IC-LoRAs agreeing."""
    found = {lo.path: f for lo in loras if (f := lora_scale_factors(lo.path)) is not None}
    if not found:
        paths = [lo.path for lo in loras] or None
        raise ConfigError("loras", paths, f"at least one IC-LoRA (a LoRA file whose metadata has {DOWNSCALE_KEY!r})")
    if len(set(found.values())) > 1:
        raise ConfigError("loras", found, "IC-LoRAs with equal reference scale factors")
    return next(iter(found.values()))


@dataclass(frozen=True)
class EncodedReference:
    """A reference video encoded for one stage, with its attention weights (None = full attention)."""

    reference: ReferenceVideo
    weights: mx.array | float | None


def reference_state(downscale: int, temporal: int):
    """The stage-1 video conditioner: images as in image-to-video, then every reference appended."""

    def condition(tools: VideoLatentTools, initial: mx.array | None, encoded: Sequence) -> LatentState:
        images = [(c, lat) for c, lat in encoded if isinstance(c, ImageCondition)]
        state = video_conditioned_state(tools, initial, images)
        for c, lat in encoded:
            if isinstance(c, EncodedReference):
                state = condition_by_reference(state, tools, lat.astype(mx.float32), downscale, temporal,
                                               c.reference.strength, c.weights)
        return state

    return condition


@dataclass
class ReferenceStage(DiffusionStage):
    """A diffusion stage that also encodes each item's reference videos (IC-LoRA stage 1)."""

    references: ReferenceSource = field(default=file_references)
    downscale: int = 1
    temporal: int = 1
    attention: float = 1.0

    def key_inputs(self, item: RenderItem) -> dict:
        keys = super().key_inputs(item)
        keys["references"] = [[r.path, r.strength, r.mask] for r in item.references]
        keys["reference_scale"] = [self.downscale, self.temporal, self.attention]
        return keys

    def _encode_images(self, item: RenderItem) -> list:
        out = super()._encode_images(item)
        h, w = self.height // self.downscale, self.width // self.downscale
        for ref in item.references:
            pixels, mask = self.references(item, ref, h, w, self.cfg.num_frames)
            if self.temporal > 1:  # frame 0, then every temporal-th frame (the VAE's causal layout)
                pixels = pixels[:, :, [0, *range(1, pixels.shape[2], self.temporal)]]
            latent = self.video_encoder()(mx.array(pixels).astype(self.dtype))
            weights: mx.array | float | None = None
            if mask is not None:
                weights = mx.array(mask_to_latent_tokens(mask, *latent.shape[2:])) * self.attention
            elif self.attention < 1.0:
                weights = self.attention
            out.append((EncodedReference(ref, weights), latent))
        return out


def build_ic_lora(ctx: BuildContext) -> list[Stage]:
    cfg, r = ctx.cfg, ctx.resolved
    downscale, temporal = reference_scales(cfg.loras)
    for key, side in (("height", cfg.height // 2), ("width", cfg.width // 2)):
        if side % downscale:
            raise ConfigError(key, getattr(cfg, key), f"a size whose stage-1 half is divisible by the IC-LoRA's "
                                                      f"{DOWNSCALE_KEY} {downscale}")
    if not 0.0 <= cfg.reference_attention <= 1.0:
        raise ConfigError("reference_attention", cfg.reference_attention, "a weight in [0, 1]")
    # Every LoRA of the stack (the IC-LoRA among them) is fused in stage 1 only.
    stage1 = ReferenceStage(name="stage1", stage_index=0, height=cfg.height // 2, width=cfg.width // 2,
                            sigmas=r.stage1_sigmas, guidance=Guidance(), loras=cfg.loras, pass_contexts=True,
                            condition_video=reference_state(downscale, temporal),
                            references=ctx.references or file_references, downscale=downscale, temporal=temporal,
                            attention=cfg.reference_attention, **ctx.common)
    stage2 = DiffusionStage(name="stage2", stage_index=1, height=cfg.height, width=cfg.width,
                            sigmas=r.stage2_sigmas, guidance=Guidance(), loras=(), noise_scale=r.stage2_sigmas[0],
                            refine=True, **ctx.common)
    return [TextStage(cfg, ctx.needs_negative), stage1, UpsampleStage(cfg), stage2, DecodeStage(cfg, ctx.info)]
