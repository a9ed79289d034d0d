"""Regenerate a time window: tokens whose time span meets [start, end) get denoise mask 1, the rest 0.

Works on any state whose positions' first axis is time in seconds ([start, end) per token): video
tokens (latent frame k spans its causal pixel frames / fps) and audio tokens alike.
"""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx

from ltxmlx.components.latent_tools import LatentState


def temporal_region_mask(state: LatentState, start_time: float, end_time: float) -> LatentState:
    if not start_time < end_time:
        raise ValueError(f"the window must not be empty: start_time {start_time} >= end_time {end_time}")
    t0, t1 = state.positions[:, 0, :, 0], state.positions[:, 0, :, 1]
    inside = mx.logical_and(t1 > start_time, t0 < end_time)
    return replace(state, denoise_mask=inside[..., None].astype(state.denoise_mask.dtype))
