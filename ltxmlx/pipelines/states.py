"""Initial latent states of a batch: per-item conditioning and noise, then stacked.

Each item's state is built alone (batch 1) - its own initial latent, image conditionings and noise
- and the items are concatenated, so an item's state is the same in any batch (batched == solo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import mlx.core as mx
import numpy as np

from ltxmlx.components.latent_tools import (
    AudioLatentShape,
    AudioLatentTools,
    LatentState,
    ScaleFactors,
    VideoLatentShape,
    VideoLatentTools,
    keyframes_mask_for,
)
from ltxmlx.components.noisers import draw_noise, item_key, noise_latent, step_key
from ltxmlx.media.images import load_conditioning_image
from ltxmlx.conditioning.keyframe_cond import condition_by_keyframe
from ltxmlx.conditioning.latent_cond import condition_by_latent_index
from ltxmlx.errors import ShapeError
from ltxmlx.pipelines.api import ImageCondition, RenderItem


class NoiseSource(Protocol):
    def __call__(self, item: RenderItem, stage_index: int, modality: str, shape: tuple[int, ...]) -> mx.array:
        """Standard normal noise (1, T, C) for one item's state of `shape` (1, T, C)."""
        ...


def keyed_noise(item: RenderItem, stage_index: int, modality: str, shape: tuple[int, ...]) -> mx.array:
    """The default: noise from the item's own key (seed, stage, modality)."""
    return draw_noise([item_key(item.seed, stage_index, modality)], tuple(shape[1:]))


class StepNoiseSource(Protocol):
    def __call__(self, item: RenderItem, stage_index: int, step: int, modality: str,
                 shape: tuple[int, ...]) -> mx.array:
        """Standard normal noise (1, T, C) for a stochastic sampler's draw at `step` of one item."""
        ...


def keyed_step_noise(seed_offset: int) -> StepNoiseSource:
    """The default: draws from the item's key at seed + `seed_offset` (the official ancestral loop
    seeds its own generator from the pipeline seed + 10000, apart from the initial noise)."""

    def draw(item: RenderItem, stage_index: int, step: int, modality: str, shape: tuple[int, ...]) -> mx.array:
        return draw_noise([step_key(item.seed + seed_offset, stage_index, step, modality)], tuple(shape[1:]))

    return draw


def batch_step_noise(source: StepNoiseSource, items: Sequence[RenderItem], stage_index: int):
    """(step, modality, (B, T, C)) -> each item's own draw, stacked: batched == solo."""

    def draw(step: int, modality: str, shape: tuple[int, ...]) -> mx.array:
        parts = []
        for item in items:
            n = source(item, stage_index, step, modality, (1, *shape[1:]))
            if tuple(n.shape) != (1, *shape[1:]):
                raise ShapeError(f"{modality} step noise for item {item.id}: expected {(1, *shape[1:])}, "
                                 f"got {tuple(n.shape)}")
            parts.append(n)
        return mx.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]

    return draw


class ImageSource(Protocol):
    def __call__(self, item: RenderItem, image: ImageCondition, height: int, width: int) -> np.ndarray:
        """The preprocessed image (1, 3, 1, height, width) float32 in [-1, 1]."""
        ...


def file_images(crf: int) -> ImageSource:
    """The default: read, H.264 re-encode at `crf`, cover-resize and crop (the official preprocessing)."""

    def load(item: RenderItem, image: ImageCondition, height: int, width: int) -> np.ndarray:
        return load_conditioning_image(image.path, height, width, crf)

    return load


@dataclass(frozen=True)
class LatentGeometry:
    """Latent shapes of one stage: video channels and VAE factors, audio channels/mel bins/rates."""

    video_channels: int
    scale: ScaleFactors
    audio_channels: int
    audio_mel_bins: int
    audio_sample_rate: int
    audio_hop_length: int
    audio_downsample: int

    def video_tools(self, frames: int, height: int, width: int, fps: float) -> VideoLatentTools:
        shape = VideoLatentShape.from_pixels(1, self.video_channels, frames, height, width, self.scale)
        return VideoLatentTools(shape, fps, self.scale)

    def audio_tools(self, frames: int, fps: float) -> AudioLatentTools:
        shape = AudioLatentShape.from_video(1, self.audio_channels, self.audio_mel_bins, frames, fps,
                                            self.audio_sample_rate, self.audio_hop_length, self.audio_downsample)
        return AudioLatentTools(shape, self.audio_sample_rate, self.audio_hop_length, self.audio_downsample)


def stack_states(states: Sequence[LatentState]) -> LatentState:
    """Concatenate batch-1 states along the batch axis (equal token counts required)."""
    counts = {s.latent.shape[1] for s in states}
    if len(counts) != 1:
        raise ShapeError(f"items of one batch need equal token counts, got {sorted(counts)}; "
                         "batch items with the same keyframe frames together")
    if len(states) == 1:
        return states[0]
    cat = lambda name: mx.concatenate([getattr(s, name) for s in states], axis=0)
    marks = [keyframes_mask_for(s) for s in states]
    marks = mx.concatenate(marks, axis=0) if all(m is not None for m in marks) else None
    masks = None
    if any(s.attention_mask is not None for s in states):
        # An item without a mask attends fully: its rows are ones.
        t = counts.pop()
        masks = mx.concatenate([s.attention_mask if s.attention_mask is not None else mx.ones((1, t, t))
                                for s in states], axis=0)
    return LatentState(cat("latent"), cat("denoise_mask"), cat("positions"), cat("clean_latent"), masks,
                       keyframes_mask=marks)


def split_latent(latent: mx.array) -> list[mx.array]:
    return [latent[i:i + 1] for i in range(latent.shape[0])]


VideoConditioner = Callable[[VideoLatentTools, "mx.array | None", Sequence[tuple[ImageCondition, mx.array]]],
                            LatentState]


ItemConditioner = Callable[[RenderItem, str, "VideoLatentTools | AudioLatentTools", LatentState], LatentState]


def video_conditioned_state(tools: VideoLatentTools, initial: mx.array | None,
                            encoded: Sequence[tuple[ImageCondition, mx.array]]) -> LatentState:
    """One item's video state: initial latent (1, C, F, H, W) or zeros, then its image conditionings
    (frame 0 replaces latent frame 0; other frames append keyframe tokens), as the official helper."""
    state = tools.create_initial_state(mx.float32, initial)
    for image, latent in encoded:
        latent = latent.astype(mx.float32)
        if image.frame == 0:
            state = condition_by_latent_index(state, tools, latent, image.strength, 0)
        else:
            state = condition_by_keyframe(state, tools, latent, image.frame, image.strength)
    return state


def noised(state: LatentState, item: RenderItem, stage_index: int, modality: str, noise: NoiseSource,
           noise_scale: float) -> LatentState:
    n = noise(item, stage_index, modality, tuple(state.latent.shape))
    if tuple(n.shape) != tuple(state.latent.shape):
        raise ShapeError(f"{modality} noise for item {item.id}: expected {tuple(state.latent.shape)}, "
                         f"got {tuple(n.shape)}")
    return noise_latent(state, n, noise_scale)


def batch_states(
    items: Sequence[RenderItem],
    stage_index: int,
    video_tools: VideoLatentTools,
    audio_tools: AudioLatentTools | None,
    noise: NoiseSource,
    noise_scale: float,
    encode_images: Callable[[RenderItem], list[tuple[ImageCondition, mx.array]]],
    video_initial: Sequence[mx.array] | None = None,
    audio_initial: Sequence[mx.array] | None = None,
    condition_video: VideoConditioner | None = None,
    audio_noise_scale: float | None = None,
    condition_item: ItemConditioner | None = None,
) -> tuple[LatentState, LatentState | None]:
    """Noised (video, audio | None) states of the batch; noise drawn video first, then audio.

    condition_video: how an item's encoded images enter its video state (default: the image-to-video
    rule of `video_conditioned_state`). audio_noise_scale: the audio's, if not `noise_scale`.
    condition_item: a last per-item change of each modality's state before it is noised."""
    condition_video = condition_video or video_conditioned_state
    last = condition_item or (lambda item, modality, tools, state: state)
    videos, audios = [], []
    for i, item in enumerate(items):
        v = condition_video(video_tools, None if video_initial is None else video_initial[i],
                                    encode_images(item))
        videos.append(noised(last(item, "video", video_tools, v), item, stage_index, "video", noise, noise_scale))
        if audio_tools is not None:
            a = audio_tools.create_initial_state(mx.float32, None if audio_initial is None else audio_initial[i])
            a = last(item, "audio", audio_tools, a)
            scale = noise_scale if audio_noise_scale is None else audio_noise_scale
            audios.append(noised(a, item, stage_index, "audio", noise, scale))
    return stack_states(videos), (stack_states(audios) if audio_tools is not None else None)
