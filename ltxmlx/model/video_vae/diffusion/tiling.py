"""Tiled decode of the diffusion decoder: stages 1-3 once on the whole latent, stages 4-5 per tile.

Tiles live on the stage-4 input grid; sizes and overlaps are given in output frames / pixels and
divided by the stage-4-to-pixel factors (time stride of the last upsample; its spatial stride times
the patch size). Overlaps must cover the receptive halo of stages 4 and 5 (`min_overlaps`). Each
tile's pixels are weighted by separable trapezoid ramps over the overlaps and the weighted sum is
normalised by the summed weights. A tile reads its slice of the full x_T, so the result does not
depend on the tile order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ltxmlx.errors import ConfigError
from ltxmlx.model.video_vae.diffusion.config import DiffusionDecoderConfig


@dataclass(frozen=True)
class DiffusionTiling:
    """(tile size, overlap) per axis in output frames / pixels; a tile size of 0 leaves the axis whole."""

    frames: tuple[int, int] = (0, 0)
    height: tuple[int, int] = (0, 0)
    width: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Interval:
    start: int
    end: int
    left_ramp: int
    right_ramp: int


@dataclass(frozen=True)
class Tile:
    """A tile: its stage-4 input slice per axis (T, H, W), its pixel slice and 1-D blend weights."""

    stage4: tuple[slice, slice, slice]
    pixels: tuple[slice, slice, slice]
    weights: tuple[np.ndarray, np.ndarray, np.ndarray]


def stage4_to_pixel(config: DiffusionDecoderConfig) -> tuple[int, int, int]:
    st, sh, sw = config.upsamples[-1][0]
    return st, sh * config.patch_size, sw * config.patch_size


def min_overlaps(config: DiffusionDecoderConfig) -> tuple[int, int]:
    """Smallest (frames, pixels) overlaps whose tiles see stages 4 and 5's whole receptive field."""
    up = config.upsamples[-1][0]
    k4, d4 = config.stage_kernels[3], config.stage_depths[3]
    k5, d5 = config.stage5_kernel, config.stage_depths[-1]
    halo = [max(d4 * (k4[a] // 2), -(-(d5 * (k5[a] // 2)) // up[a])) for a in range(3)]
    ft, fh, _ = stage4_to_pixel(config)
    round_up = lambda v, m: -(-v // m) * m  # noqa: E731
    return round_up(halo[0] * ft, 8), round_up(max(halo[1], halo[2]) * fh, 32)


def min_tile_size(config: DiffusionDecoderConfig) -> tuple[int, int, int]:
    """Stage-4 input floor per axis so that stages 4 and 5 each see at least their kernel."""
    up = config.upsamples[-1][0]
    return tuple(max(config.stage_kernels[3][a], -(-config.stage5_kernel[a] // up[a])) for a in range(3))


def split(length: int, size: int, overlap: int, floor: int) -> list[Interval]:
    """Overlapping intervals of `size`; a short last one grows leftwards to `floor`."""
    if length < floor or length <= size:
        return [Interval(0, length, 0, 0)]
    count = (length + size - 2 * overlap - 1) // (size - overlap)
    step = size - overlap
    out = [Interval(i * step, i * step + size, overlap if i else 0, overlap) for i in range(count - 1)]
    out.append(Interval((count - 1) * step, length, overlap, 0))
    last = out[-1]
    if len(out) > 1 and last.end - last.start < floor:
        start = last.end - floor
        grown = out[-2].end - start
        out[-2:] = [Interval(out[-2].start, out[-2].end, out[-2].left_ramp, grown), Interval(start, last.end, grown, 0)]
    return out


def _propagate(iv: Interval, stride: int, causal: bool) -> Interval:
    """An interval through one upsample hop; a causal time stride of 2 drops the duplicated frame."""
    start, end = iv.start * stride, iv.end * stride
    if causal and stride == 2:
        end -= 1
        start -= 1 if iv.start else 0
    return Interval(start, end, iv.left_ramp * stride, iv.right_ramp * stride)


def trapezoid(length: int, left: int, right: int) -> np.ndarray:
    """Weights 1 inside, linear ramps i/(r+1) over `left` and `right` elements at the ends."""
    mask = np.ones(length, np.float32)
    left, right = max(0, min(left, length)), max(0, min(right, length))
    if left:
        mask[:left] *= np.arange(1, left + 1, dtype=np.float32) / (left + 1)
    if right:
        mask[length - right :] *= np.arange(right, 0, -1, dtype=np.float32) / (right + 1)
    return mask


def schedule(config: DiffusionDecoderConfig, stage4_size: tuple[int, int, int], tiling: DiffusionTiling) -> list[Tile]:
    """Tiles over a stage-4 input volume (T, H, W), temporal axis slowest."""
    overlap_t, overlap_px = min_overlaps(config)
    factors = stage4_to_pixel(config)
    floors = min_tile_size(config)
    stride = config.upsamples[-1][0]
    axes = []
    for a, (name, (size, overlap)) in enumerate(zip(("frames", "height", "width"), (tiling.frames, tiling.height, tiling.width))):
        if size == 0:
            axes.append([(slice(None), slice(None), np.ones(1, np.float32))])
            continue
        need = overlap_t if a == 0 else overlap_px
        if overlap < need or size % factors[a] or overlap % factors[a] or size < 2 * factors[a] or overlap >= size:
            raise ConfigError(
                f"tiling.{name}", (size, overlap),
                f"tile size a multiple of {factors[a]} (>= {2 * factors[a]}), overlap a multiple of "
                f"{factors[a]}, at least {need} and below the tile size",
            )
        tile, lap = max(max(2, overlap // factors[a] + 1), size // factors[a]), overlap // factors[a]
        specs = []
        for iv in split(stage4_size[a], tile, lap, floors[a]):
            px = _propagate(iv, stride[a], causal=a == 0)
            if a:
                px = _propagate(px, config.patch_size, causal=False)
            weights = trapezoid(px.end - px.start, px.left_ramp, px.right_ramp)
            specs.append((slice(iv.start, iv.end), slice(px.start, px.end), weights))
        axes.append(specs)
    return [
        Tile((t[0], h[0], w[0]), (t[1], h[1], w[1]), (t[2], h[2], w[2])) for t, h, w in itertools.product(*axes)
    ]
