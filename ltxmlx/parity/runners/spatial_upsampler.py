"""Parity runner for the spatial x2 latent upsampler: raw call and the stats-wrapped upsample_video."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.model.upsampler import upsample_video


def run(case) -> dict[str, mx.array]:
    upsampler = build("spatial_upsampler", case.checkpoint_path(0), dtype=mx.float32)
    # The per-channel statistics live in the generation's single file (video VAE encoder).
    stats = build("video_latent_stats", case.checkpoint_path(1), dtype=mx.float32)
    latent = mx.array(case.input("spatial.input"))
    return {
        "spatial.output": upsampler(latent),
        "spatial.upsample_video_output": upsample_video(latent, upsampler, stats),
    }
