"""Parity runner for common.numerics: sigma schedules, RoPE frequency grids and full-size RoPE tables."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np

from ltxmlx.components.latent_tools import VideoLatentShape, audio_positions, video_positions
from ltxmlx.components.schedulers import LTX2Scheduler, distilled_sigmas, stage2_distilled_sigmas
from ltxmlx.model.transformer.rope import freq_grid, positions_to_fractions, split_rope_tables

THETA = 1e4
VIDEO_MAX_POS = (20.0, 2048.0, 2048.0)
AUDIO_MAX_POS = (20.0,)


def _freq_grid_float32(theta: float, inner_dim: int, n_axes: int) -> np.ndarray:
    """The grid computed entirely in float32 (the official non-float64 path; unused by real configs)."""
    count = inner_dim // (2 * n_axes)
    exps = np.linspace(0.0, 1.0, count, dtype=np.float32)
    return (np.power(np.float32(theta), exps) * np.float32(math.pi / 2)).astype(np.float32)


def _rope(positions: mx.array, max_pos: tuple[float, ...], inner_dim: int, heads: int) -> tuple[mx.array, mx.array]:
    grid = freq_grid(THETA, inner_dim, len(max_pos))
    cos, sin = split_rope_tables(positions_to_fractions(positions, max_pos), grid, inner_dim, heads)
    # The model's tables are token-major (B, T, H, Dh/2); the fixtures hold them head-major.
    return cos.transpose(0, 2, 1, 3), sin.transpose(0, 2, 1, 3)


def run(case) -> dict[str, mx.array]:
    sched = LTX2Scheduler()
    out = {
        "scheduler.steps30.default_tokens": sched.execute(30),
        "scheduler.steps40.default_tokens": sched.execute(40),
        "scheduler.steps4.default_tokens": sched.execute(4),
        "scheduler.steps8.default_tokens": sched.execute(8),
        "scheduler.steps30.latent_1x128x16x16x24": sched.execute(30, latent=mx.zeros((1, 128, 16, 16, 24))),
        "scheduler.steps8.latent_1x128x2x3x4": sched.execute(8, latent=mx.zeros((1, 128, 2, 3, 4))),
        "scheduler.steps10.no_stretch": sched.execute(10, stretch=False),
        "distilled_sigmas": distilled_sigmas(),
        "stage2_distilled_sigmas": stage2_distilled_sigmas(),
        "rope.freq_grid_np.theta1e4.npos3.dim4096": freq_grid(THETA, 4096, 3),
        "rope.freq_grid_torch.theta1e4.npos3.dim4096": _freq_grid_float32(THETA, 4096, 3),
        "rope.freq_grid_np.theta1e4.npos1.dim2048": freq_grid(THETA, 2048, 1),
    }
    # Full-size tables on a tiny grid: 2 latent frames x 1 x 2 at 24 fps, and 4 audio latents.
    video_pos = video_positions(VideoLatentShape(1, 128, 2, 1, 2), fps=24.0)
    out["rope.full_video.positions"] = video_pos
    out["rope.full_video.cos"], out["rope.full_video.sin"] = _rope(video_pos, VIDEO_MAX_POS, 4096, 32)
    audio_pos = audio_positions(1, 4)
    out["rope.full_audio.positions"] = audio_pos
    out["rope.full_audio.cos"], out["rope.full_audio.sin"] = _rope(audio_pos, AUDIO_MAX_POS, 2048, 32)
    return out
