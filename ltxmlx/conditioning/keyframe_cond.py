"""Keyframe conditioning: encoded images appended as extra tokens placed in time at their frame index.

The appended tokens are clean (mask 1 - strength), start from a zero noisy latent, carry their own
positions (time shifted by the pixel frame index) and are dropped after denoising
(`VideoLatentTools.clear_conditioning`).
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.components.latent_tools import LatentState, VideoLatentShape, VideoLatentTools, video_positions
from ltxmlx.errors import ShapeError


def condition_by_keyframe(state: LatentState, tools: VideoLatentTools, keyframes: mx.array, frame_idx: int,
                          strength: float, num_pixel_frames: int = 1) -> LatentState:
    """Append `keyframes` (B, C, F_k, H, W) as guiding tokens for pixel frame `frame_idx`.

    num_pixel_frames: pixel frames the keyframe latent encodes (1 for an image: its time span is
    narrowed to [t, t+1)). Call before noising; the state may already carry other appended tokens.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"conditioning strength must be in [0, 1], got {strength}")
    t = tools.target
    num_frames = (t.frames - 1) * tools.scale.time + 1
    if not 0 <= frame_idx < num_frames:
        raise ShapeError(f"keyframe index {frame_idx} is outside the video: expected 0 <= frame_idx < {num_frames}")
    if keyframes.ndim != 5:
        raise ShapeError(f"keyframe latent: expected (B, C, F, H, W), got shape {tuple(keyframes.shape)}")
    b, c, f, h, w = keyframes.shape
    if (b, c) != (t.batch, t.channels):
        raise ShapeError(f"keyframe latent: expected batch/channels {(t.batch, t.channels)}, got {(b, c)}")
    if state.attention_mask is not None:
        raise ValueError("keyframe conditioning with an existing attention mask is not supported")
    tokens = tools.patchifier.patchify(keyframes).astype(state.clean_latent.dtype)
    positions = video_positions(
        VideoLatentShape(b, c, f, h, w), tools.fps, tools.scale,
        causal_fix=tools.causal_fix and frame_idx == 0, frame_offset=frame_idx,
        single_pixel_frame=num_pixel_frames == 1,
    )
    mask = mx.full((b, tokens.shape[1], 1), 1.0 - strength, dtype=state.denoise_mask.dtype)
    return LatentState(
        latent=mx.concatenate([state.latent, mx.zeros(tokens.shape, dtype=state.latent.dtype)], axis=1),
        denoise_mask=mx.concatenate([state.denoise_mask, mask], axis=1),
        positions=mx.concatenate([state.positions, positions.astype(state.positions.dtype)], axis=2),
        clean_latent=mx.concatenate([state.clean_latent, tokens], axis=1),
        keyframes_mask=state.keyframes_mask,  # appended image tokens stay unmarked (keyframes_mask_for)
    )
