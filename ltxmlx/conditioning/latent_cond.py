"""Image-to-video by latent replacement: the tokens of one latent frame become a clean encoded image."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx

from ltxmlx.components.latent_tools import LatentState, VideoLatentTools
from ltxmlx.errors import ShapeError


def condition_by_latent_index(state: LatentState, tools: VideoLatentTools, latent: mx.array,
                              strength: float, latent_idx: int = 0) -> LatentState:
    """Put `latent` (B, C, F_c, H, W), typically the VAE-encoded image, at latent frame `latent_idx`.

    Those tokens get clean_latent = the image tokens and denoise_mask = 1 - strength (strength 1 keeps
    them exactly; their timesteps become sigma * (1 - strength)). Call before noising the state.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"conditioning strength must be in [0, 1], got {strength}")
    t = tools.target
    if latent.ndim != 5:
        raise ShapeError(f"conditioning latent: expected (B, C, F, H, W), got shape {tuple(latent.shape)}")
    b, c, f, h, w = latent.shape
    if (b, c, h, w) != (t.batch, t.channels, t.height, t.width):
        raise ShapeError(
            f"conditioning latent: expected batch/channels/height/width {(t.batch, t.channels, t.height, t.width)} "
            f"of the target latent, got {(b, c, h, w)}; encode the image at the stage resolution"
        )
    if not 0 <= latent_idx or latent_idx + f > t.frames:
        raise ShapeError(f"conditioning latent frames [{latent_idx}, {latent_idx + f}) fall outside the "
                         f"{t.frames} latent frames of the video")
    tokens = tools.patchifier.patchify(latent).astype(state.clean_latent.dtype)
    start = latent_idx * t.height * t.width
    stop = start + tokens.shape[1]
    clean = mx.concatenate([state.clean_latent[:, :start], tokens, state.clean_latent[:, stop:]], axis=1)
    mask_part = mx.full((b, stop - start, 1), 1.0 - strength, dtype=state.denoise_mask.dtype)
    mask = mx.concatenate([state.denoise_mask[:, :start], mask_part, state.denoise_mask[:, stop:]], axis=1)
    return replace(state, clean_latent=clean, denoise_mask=mask)
