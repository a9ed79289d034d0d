"""Parity runner for common.numerics: sigma schedules, RoPE frequency grids and full-size RoPE tables.

The case has no inputs: every parameter comes from its output names and shapes. Scheduler outputs
are named `scheduler.steps<N>.<default_tokens | latent_<d>x<d>... | no_stretch>`, frequency grids
`rope.freq_grid_<np|torch>.theta<T>.npos<P>.dim<D>`; the full RoPE tables take their heads, inner
dimension and token count from the table shapes (B, heads, tokens, inner / heads / 2). Only the video
latent grid of the full table is not in the case: its frames x height x width must multiply to the
token count, else the case is refused.
"""

from __future__ import annotations

import math
import re

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


_SCHED = re.compile(r"^scheduler\.steps(\d+)\.(default_tokens|no_stretch|latent_(\d+(?:x\d+)*))$")
_GRID = re.compile(r"^rope\.freq_grid_(np|torch)\.theta([0-9.e+-]+)\.npos(\d+)\.dim(\d+)$")
VIDEO_GRID = (2, 1, 2)  # latent frames, height, width of the full video table (cross-checked below)
FPS = 24.0


def _scheduler(name: str, m: re.Match, shape: list[int]) -> mx.array:
    steps = int(m.group(1))
    if shape != [steps + 1]:
        raise ValueError(f"{name}: {steps} steps give {steps + 1} sigmas, the case holds {shape}")
    sched = LTX2Scheduler()
    if m.group(2) == "no_stretch":
        return sched.execute(steps, stretch=False)
    if m.group(3):
        return sched.execute(steps, latent=mx.zeros(tuple(int(d) for d in m.group(3).split("x"))))
    return sched.execute(steps)


def _grid(m: re.Match):
    theta, n_axes, dim = float(m.group(2)), int(m.group(3)), int(m.group(4))
    return freq_grid(theta, dim, n_axes) if m.group(1) == "np" else _freq_grid_float32(theta, dim, n_axes)


def _tables(case, prefix: str, positions: mx.array, max_pos: tuple[float, ...], out: dict) -> None:
    _, heads, tokens, half = case.outputs[f"{prefix}.cos"]["shape"]
    if positions.shape[2] != tokens:
        raise ValueError(f"{prefix}: {positions.shape[2]} positions for {tokens} table tokens")
    out[f"{prefix}.positions"] = positions
    out[f"{prefix}.cos"], out[f"{prefix}.sin"] = _rope(positions, max_pos, 2 * heads * half, heads)


def run(case) -> dict[str, mx.array]:
    out = {"distilled_sigmas": distilled_sigmas(), "stage2_distilled_sigmas": stage2_distilled_sigmas()}
    for name, spec in case.outputs.items():
        if m := _SCHED.match(name):
            out[name] = _scheduler(name, m, list(spec["shape"]))
        elif m := _GRID.match(name):
            out[name] = _grid(m)
    if "rope.full_video.cos" in case.outputs:
        tokens = case.outputs["rope.full_video.cos"]["shape"][2]
        if math.prod(VIDEO_GRID) != tokens:
            raise ValueError(f"rope.full_video: the {VIDEO_GRID} latent grid has {math.prod(VIDEO_GRID)} tokens, "
                             f"the case {tokens}")
        _tables(case, "rope.full_video", video_positions(VideoLatentShape(1, 128, *VIDEO_GRID), fps=FPS),
                VIDEO_MAX_POS, out)
    if "rope.full_audio.cos" in case.outputs:
        tokens = case.outputs["rope.full_audio.cos"]["shape"][2]
        _tables(case, "rope.full_audio", audio_positions(1, tokens), AUDIO_MAX_POS, out)
    return out
