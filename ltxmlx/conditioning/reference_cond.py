"""IC-LoRA reference conditioning: an encoded control video appended as clean tokens.

The reference may be encoded at a lower resolution than the target (`downscale_factor`, from the
IC-LoRA's metadata) or frame rate (`temporal_scale`); its positions are scaled into the target's
pixel/time coordinates so the LoRA sees the layout it was trained with. An attention weight
(scalar or per token) sets how strongly the reference and the generated tokens attend to each other.
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.components.latent_tools import LatentState, VideoLatentShape, VideoLatentTools, video_positions
from ltxmlx.conditioning.attention_mask import cross_weights, extend_attention_mask
from ltxmlx.errors import ShapeError


def condition_by_reference(state: LatentState, tools: VideoLatentTools, reference: mx.array,
                           downscale_factor: int = 1, temporal_scale: int = 1, strength: float = 1.0,
                           attention: float | mx.array | None = None) -> LatentState:
    """Append `reference` (B, C, F, H, W) as tokens kept clean with `strength` (mask 1 - strength).

    attention: None = full attention (the mask only grows if one exists already); a scalar or
    (B|1, M) per-token weights in [0, 1] between the reference and the generated tokens.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"reference strength must be in [0, 1], got {strength}")
    if reference.ndim != 5:
        raise ShapeError(f"reference latent: expected (B, C, F, H, W), got shape {tuple(reference.shape)}")
    b, c, f, h, w = reference.shape
    t = tools.target
    if (b, c) != (t.batch, t.channels):
        raise ShapeError(f"reference latent: expected batch/channels {(t.batch, t.channels)}, got {(b, c)}")
    tokens = tools.patchifier.patchify(reference).astype(state.clean_latent.dtype)
    pos = video_positions(VideoLatentShape(b, c, f, h, w), tools.fps / temporal_scale, tools.scale,
                          causal_fix=tools.causal_fix)
    time, height, width = pos[:, 0], pos[:, 1], pos[:, 2]
    if temporal_scale != 1:
        # The reference's last patch ends with the target's last one; the causal patch stays >= 0.
        time = mx.maximum(time - (temporal_scale - 1) * state.positions[:, 0, 0:1, 1:2], 0.0)
    pos = mx.stack([time, height * downscale_factor, width * downscale_factor], axis=1)
    n_existing, m = state.latent.shape[1], tokens.shape[1]
    mask = state.attention_mask
    if attention is not None or mask is not None:
        cross = cross_weights(1.0 if attention is None else attention, b, m)
        mask = extend_attention_mask(mask, t.token_count(), n_existing, cross)
    return LatentState(
        latent=mx.concatenate([state.latent, mx.zeros(tokens.shape, dtype=state.latent.dtype)], axis=1),
        denoise_mask=mx.concatenate([state.denoise_mask, mx.full((b, m, 1), 1.0 - strength,
                                                                 dtype=state.denoise_mask.dtype)], axis=1),
        positions=mx.concatenate([state.positions, pos.astype(state.positions.dtype)], axis=2),
        clean_latent=mx.concatenate([state.clean_latent, tokens], axis=1),
        attention_mask=mask,
        keyframes_mask=state.keyframes_mask,  # reference tokens stay unmarked (keyframes_mask_for)
    )
