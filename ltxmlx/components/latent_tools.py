"""Latent shapes from pixel shapes, token positions, and the per-modality latent state.

Positions are [start, end) bounds per token: video (B, 3, T, 2) = (time in seconds, height px, width px)
with the causal first-frame fix; audio (B, 1, T, 2) in seconds. They are computed in float32 with the
same operation order as the official tools so that RoPE sees identical inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import mlx.core as mx

from ltxmlx.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltxmlx.errors import ShapeError


class ScaleFactors(NamedTuple):
    """VAE downscaling (time, height, width) between pixels and latents."""

    time: int = 8
    height: int = 32
    width: int = 32


DEFAULT_SCALE_FACTORS = ScaleFactors()


class VideoLatentShape(NamedTuple):
    batch: int
    channels: int
    frames: int
    height: int
    width: int

    @staticmethod
    def from_pixels(
        batch: int, channels: int, frames: int, height: int, width: int,
        scale: ScaleFactors = DEFAULT_SCALE_FACTORS,
    ) -> "VideoLatentShape":
        """Latent grid for a video of `frames` x `height` x `width` pixels: F' = (F-1)/8+1, H/32, W/32."""
        if frames < 1 or (frames - 1) % scale.time:
            raise ShapeError(f"num_frames must be {scale.time}k+1 (1, {scale.time + 1}, {2 * scale.time + 1}, ...), "
                             f"got {frames}")
        if height < scale.height or height % scale.height:
            raise ShapeError(f"height must be a positive multiple of {scale.height}, got {height}")
        if width < scale.width or width % scale.width:
            raise ShapeError(f"width must be a positive multiple of {scale.width}, got {width}")
        return VideoLatentShape(batch, channels, (frames - 1) // scale.time + 1,
                                height // scale.height, width // scale.width)

    def token_count(self) -> int:
        return self.frames * self.height * self.width

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return (self.batch, self.channels, self.frames, self.height, self.width)


class AudioLatentShape(NamedTuple):
    batch: int
    channels: int
    frames: int
    mel_bins: int

    @staticmethod
    def from_video(
        batch: int, channels: int, mel_bins: int, num_frames: int, fps: float,
        sample_rate: int = 16000, hop_length: int = 160, latent_downsample: int = 4,
    ) -> "AudioLatentShape":
        """Audio latent length for a clip of num_frames at fps: round(F / fps * 25) (Python rounding)."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        per_second = float(sample_rate) / float(hop_length) / float(latent_downsample)
        return AudioLatentShape(batch, channels, round(float(num_frames) / float(fps) * per_second), mel_bins)

    def token_count(self) -> int:
        return self.frames

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.channels, self.frames, self.mel_bins)


def video_positions(
    shape: VideoLatentShape, fps: float, scale: ScaleFactors = DEFAULT_SCALE_FACTORS,
    causal_fix: bool = True, frame_offset: int = 0, single_pixel_frame: bool = False,
) -> mx.array:
    """(B, 3, F*H*W, 2) float32 [start, end) bounds: time in seconds, height/width in pixels.

    Latent frame k covers pixel frames [8k-7, 8k+1) after the causal fix (frame 0: [0, 1)).
    frame_offset / single_pixel_frame serve keyframe tokens: time shifted by the pixel frame index
    and narrowed to [start, start+1).
    """
    f, h, w = shape.frames, shape.height, shape.width
    grid = [mx.broadcast_to(mx.arange(n).reshape(sh), (f, h, w)).reshape(-1)
            for n, sh in ((f, (f, 1, 1)), (h, (1, h, 1)), (w, (1, 1, w)))]
    axes = []
    for start, step in zip(grid, (scale.time, scale.height, scale.width)):
        axes.append(mx.stack([start * step, (start + 1) * step], axis=-1))
    t = axes[0]
    if causal_fix:
        t = mx.maximum(t + 1 - scale.time, 0)
    t = t + frame_offset
    if single_pixel_frame:
        t = mx.stack([t[:, 0], t[:, 0] + 1], axis=-1)
    t = t.astype(mx.float32) / fps
    pos = mx.stack([t, axes[1].astype(mx.float32), axes[2].astype(mx.float32)], axis=0)
    return mx.broadcast_to(pos[None], (shape.batch, *pos.shape))


def audio_positions(
    batch: int, frames: int, sample_rate: int = 16000, hop_length: int = 160,
    latent_downsample: int = 4, causal: bool = True, shift: int = 0,
) -> mx.array:
    """(B, 1, T, 2) float32 [start, end) in seconds: latent i -> mel frame 4i (causal: max(0, 4i-3))."""

    def seconds(first: int) -> mx.array:
        mel = mx.arange(first, first + frames, dtype=mx.float32) * latent_downsample
        if causal:
            mel = mx.maximum(mel + 1 - latent_downsample, 0.0)
        return mel * hop_length / sample_rate

    pos = mx.stack([seconds(shift), seconds(shift + 1)], axis=-1)
    return mx.broadcast_to(pos[None, None], (batch, 1, frames, 2))


def first_frame_keyframes_mask(
    shape: VideoLatentShape, patchifier: VideoLatentPatchifier = VideoLatentPatchifier(1)
) -> mx.array:
    """(B, T, 1) float32 keyframe marker of a video target: 1 on the first latent frame's tokens.

    The causal VAE encodes pixel frame 0 alone into latent frame 0, so those tokens are of the same
    class as a generated keyframe; they are marked for every target, whatever its conditioning.
    B = shape.batch, T = the target's token count.
    """
    total = patchifier.token_count(shape.frames, shape.height, shape.width)
    first = patchifier.token_count(1, shape.height, shape.width)
    marked = (mx.arange(total) < first).astype(mx.float32)
    return mx.broadcast_to(marked[None, :, None], (shape.batch, total, 1))


def extend_keyframes_mask(
    keyframes_mask: mx.array | None, denoise_mask: mx.array, num_new_tokens: int, *, marked: bool
) -> mx.array | None:
    """The keyframe marker after `num_new_tokens` tokens are appended to a state.

    keyframes_mask: (B, T, 1) or None (no token marked); denoise_mask: the state's (B, T, 1) mask
    before appending (gives the shape when keyframes_mask is None). marked: True only for generated
    keyframe slots; given-content conditioning tokens (images, reference video) are never marked.
    Returns (B, T + num_new_tokens, 1), or None when nothing was marked and the new tokens are not.
    """
    if num_new_tokens < 0:
        raise ValueError(f"num_new_tokens must be >= 0, got {num_new_tokens}")
    if keyframes_mask is not None and tuple(keyframes_mask.shape) != tuple(denoise_mask.shape):
        raise ShapeError(
            f"keyframes_mask: expected {tuple(denoise_mask.shape)} (the denoise mask's shape), "
            f"got {tuple(keyframes_mask.shape)}"
        )
    if keyframes_mask is None and not marked:
        return None
    if keyframes_mask is None:
        keyframes_mask = mx.zeros(denoise_mask.shape, dtype=mx.float32)
    b, _, c = keyframes_mask.shape
    pad = (mx.ones if marked else mx.zeros)((b, num_new_tokens, c), dtype=keyframes_mask.dtype)
    return mx.concatenate([keyframes_mask, pad], axis=1)


@dataclass(frozen=True)
class LatentState:
    """Patchified state of one modality for a batch.

    latent, clean_latent: (B, T, C); denoise_mask: (B, T, 1) float32 (1 = generate, 0 = keep clean);
    positions: (B, 3|1, T, 2); attention_mask: optional (B, T, T) in [0, 1]; keyframes_mask: optional
    (B, T_k, 1) keyframe marker of the leading tokens (video: the first latent frame); tokens appended
    after it by conditionings are unmarked (`keyframes_mask_for`).
    """

    latent: mx.array
    denoise_mask: mx.array
    positions: mx.array
    clean_latent: mx.array
    attention_mask: mx.array | None = None
    keyframes_mask: mx.array | None = None

    def with_latent(self, latent: mx.array) -> "LatentState":
        if latent.shape != self.latent.shape:
            raise ShapeError(f"latent: expected shape {tuple(self.latent.shape)}, got {tuple(latent.shape)}")
        return replace(self, latent=latent)


def keyframes_mask_for(state: LatentState) -> mx.array | None:
    """The state's keyframe marker over all its tokens: appended conditioning tokens are unmarked
    (the official `extend_keyframes_mask(..., marked=False)`), so a shorter mask is padded with zeros."""
    mask = state.keyframes_mask
    if mask is None:
        return None
    extra = state.latent.shape[1] - mask.shape[1]
    if extra < 0:
        raise ShapeError(f"keyframes_mask covers {mask.shape[1]} tokens, the state has {state.latent.shape[1]}")
    return extend_keyframes_mask(mask, mx.zeros(mask.shape, dtype=mx.float32), extra, marked=False) if extra else mask


def _initial_state(tokens: mx.array, positions: mx.array, keyframes_mask: mx.array | None = None) -> LatentState:
    mask = mx.ones((*tokens.shape[:2], 1), dtype=mx.float32)
    return LatentState(latent=tokens, denoise_mask=mask, positions=positions, clean_latent=tokens,
                       keyframes_mask=keyframes_mask)


def _keep_target_tokens(state: LatentState, n: int) -> LatentState:
    return LatentState(
        latent=state.latent[:, :n], denoise_mask=mx.ones_like(state.denoise_mask[:, :n]),
        positions=state.positions[:, :, :n], clean_latent=state.clean_latent[:, :n],
    )


@dataclass(frozen=True)
class VideoLatentTools:
    """Builds and tears down video states for one target latent shape (initial states mark the first
    latent frame for the LTX-2.5 keyframe embedding)."""

    target: VideoLatentShape
    fps: float
    scale: ScaleFactors = DEFAULT_SCALE_FACTORS
    causal_fix: bool = True
    patchifier: VideoLatentPatchifier = VideoLatentPatchifier(1)

    def create_initial_state(self, dtype: mx.Dtype = mx.float32, initial_latent: mx.array | None = None) -> LatentState:
        """State with latent = clean = initial_latent (zeros if None), mask 1; (B, C, F, H, W) input."""
        if initial_latent is None:
            initial_latent = mx.zeros(self.target.shape, dtype=dtype)
        elif tuple(initial_latent.shape) != self.target.shape:
            raise ShapeError(f"initial video latent: expected {self.target.shape}, got {tuple(initial_latent.shape)}")
        positions = video_positions(self.target, self.fps, self.scale, self.causal_fix)
        # Always marked, as the official tools do; models without the keyframe embedding ignore it.
        marks = first_frame_keyframes_mask(self.target, self.patchifier)
        return _initial_state(self.patchifier.patchify(initial_latent), positions, marks)

    def clear_conditioning(self, state: LatentState) -> LatentState:
        """Drop tokens appended by conditionings (keyframes); mask back to ones, no attention mask."""
        return _keep_target_tokens(state, self.target.token_count())

    def unpatchify(self, tokens: mx.array) -> mx.array:
        """(B, T, C) target tokens -> (B, C, F, H, W)."""
        return self.patchifier.unpatchify(tokens, self.target.frames, self.target.height, self.target.width)


@dataclass(frozen=True)
class AudioLatentTools:
    """Builds and tears down audio states for one target latent shape."""

    target: AudioLatentShape
    sample_rate: int = 16000
    hop_length: int = 160
    latent_downsample: int = 4
    patchifier: AudioPatchifier = AudioPatchifier()

    def create_initial_state(self, dtype: mx.Dtype = mx.float32, initial_latent: mx.array | None = None) -> LatentState:
        """State with latent = clean = initial_latent (zeros if None), mask 1; (B, C, T, M) input."""
        if initial_latent is None:
            initial_latent = mx.zeros(self.target.shape, dtype=dtype)
        elif tuple(initial_latent.shape) != self.target.shape:
            raise ShapeError(f"initial audio latent: expected {self.target.shape}, got {tuple(initial_latent.shape)}")
        positions = audio_positions(self.target.batch, self.target.frames, self.sample_rate,
                                    self.hop_length, self.latent_downsample)
        return _initial_state(self.patchifier.patchify(initial_latent), positions)

    def clear_conditioning(self, state: LatentState) -> LatentState:
        """Drop tokens appended by conditionings (keyframes); mask back to ones, no attention mask."""
        return _keep_target_tokens(state, self.target.token_count())

    def unpatchify(self, tokens: mx.array) -> mx.array:
        """(B, T, C*M) -> (B, C, T, M)."""
        return self.patchifier.unpatchify(tokens, self.target.channels, self.target.mel_bins)
