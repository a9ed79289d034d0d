"""Tile plans for decoding a latent in overlapping pieces, and their blend masks.

A plan splits each latent axis into intervals of `size` latents sharing at least `overlap` latents
with the neighbour (tiles are spread evenly, so an uneven length only widens the overlaps). Decoded
tiles are blended with linear ramps over the overlap, as the official `ltx_core/tiling.py` does:
- space: a tile's output covers pixels [start*s, stop*s); over an overlap of R = o*s pixels the
  weights of the two tiles are (R-j)/(R+1) and (j+1)/(R+1), which sum to 1;
- time: a tile of latents [a, e) decodes to pixel frames [8a, 8(e-1)+1) (latent `a` yields a single
  causal first frame), so two tiles sharing o latents share 8(o-1)+1 frames; the later tile's first
  frame gets weight 0 (it is decoded as a stand-alone first frame) and an 8(o-1)-frame ramp follows.
Weights are also summed per axis and divided out, so any plan (also with three tiles overlapping)
blends to a proper convex combination.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ltxmlx.errors import ShapeError


@dataclass(frozen=True)
class TilingConfig:
    """Tile sizes and overlaps in LATENT units; a size of None leaves that axis untiled.

    tile_frames / frame_overlap: latent frames per temporal chunk and latents shared by neighbours
    (the official default, 80 frames with 24 overlap, is tile_frames=10, frame_overlap=4).
    tile_size / spatial_overlap: latent rows/columns per spatial tile (official 768 px with 64 px
    overlap = 24 and 2 latents for 32x VAEs).
    chunk_frames: stream the decode in chunks of this many latent frames instead of overlapping
    temporal tiles: every layer carries its temporal context across chunks, so the result equals the
    untiled decode exactly (of each spatial tile) and memory does not grow with the frame count.
    step_frames: with chunk_frames, at most this many frames per step in any decoder stage (the widest
    stages run 8 frames per latent frame): memory below one latent frame's worth, still exact.
    """

    tile_frames: int | None = None
    frame_overlap: int = 4
    tile_size: int | None = None
    spatial_overlap: int = 2
    chunk_frames: int | None = None
    step_frames: int | None = None

    def __post_init__(self) -> None:
        if self.step_frames is not None and (self.step_frames < 1 or self.chunk_frames is None):
            raise ShapeError(
                f"TilingConfig: step_frames must be >= 1 and needs chunk_frames, "
                f"got step_frames={self.step_frames}, chunk_frames={self.chunk_frames}"
            )
        if self.chunk_frames is not None and (self.chunk_frames < 1 or self.tile_frames is not None):
            raise ShapeError(
                f"TilingConfig: chunk_frames must be >= 1 and excludes tile_frames, "
                f"got chunk_frames={self.chunk_frames}, tile_frames={self.tile_frames}"
            )
        if self.tile_frames is not None and not 1 <= self.frame_overlap < self.tile_frames:
            raise ShapeError(
                f"TilingConfig: expected 1 <= frame_overlap < tile_frames, got {self.frame_overlap} and {self.tile_frames}"
            )
        if self.tile_size is not None and (self.tile_size < 2 or not 0 <= self.spatial_overlap < self.tile_size):
            raise ShapeError(
                f"TilingConfig: expected tile_size >= 2 and 0 <= spatial_overlap < tile_size, "
                f"got {self.tile_size} and {self.spatial_overlap}"
            )


@dataclass(frozen=True)
class Interval:
    """Latent interval [start, stop) and its overlaps (in latents) with the previous / next tile."""

    start: int
    stop: int
    left: int = 0
    right: int = 0


def split_axis(length: int, size: int | None, overlap: int) -> list[Interval]:
    """Evenly spread ceil((length - size) / (size - overlap)) + 1 tiles of `size` over `length`."""
    if size is None or size >= length:
        return [Interval(0, length)]
    count = math.ceil((length - size) / (size - overlap)) + 1
    starts = [round(i * (length - size) / (count - 1)) for i in range(count)]
    spans = [(s, s + size) for s in starts]
    return [
        Interval(s, e, spans[i - 1][1] - s if i else 0, e - spans[i + 1][0] if i + 1 < count else 0)
        for i, (s, e) in enumerate(spans)
    ]


def spatial_mask(iv: Interval, scale: int) -> np.ndarray:
    """Blend weights over the tile's pixels [start*scale, stop*scale)."""
    mask = np.ones((iv.stop - iv.start) * scale, dtype=np.float32)
    if iv.left:
        ramp = iv.left * scale
        mask[:ramp] *= np.arange(1, ramp + 1, dtype=np.float32) / (ramp + 1)
    if iv.right:
        ramp = iv.right * scale
        mask[-ramp:] *= np.arange(ramp, 0, -1, dtype=np.float32) / (ramp + 1)
    return mask


def temporal_span(iv: Interval, scale: int) -> tuple[int, int]:
    """Pixel frames [first, stop) that latents [start, stop) decode to on their own."""
    return iv.start * scale, (iv.stop - 1) * scale + 1


def temporal_mask(iv: Interval, scale: int) -> np.ndarray:
    """Blend weights over the tile's pixel frames (see the module docstring)."""
    first, stop = temporal_span(iv, scale)
    mask = np.ones(stop - first, dtype=np.float32)
    if iv.left:
        ramp = (iv.left - 1) * scale  # frames after the zero-weight first frame
        mask[: ramp + 1] *= np.arange(0, ramp + 1, dtype=np.float32) / (ramp + 1)
    if iv.right > 1:
        ramp = (iv.right - 1) * scale
        mask[-ramp:] *= np.arange(ramp, 0, -1, dtype=np.float32) / (ramp + 1)
    return mask


def summed_weights(masks: list[np.ndarray], offsets: list[int], length: int) -> np.ndarray:
    """Sum of 1-D masks placed at `offsets` over an axis of `length`; raises if any position is 0."""
    total = np.zeros(length, dtype=np.float32)
    for mask, offset in zip(masks, offsets):
        total[offset : offset + len(mask)] += mask
    if (total <= 0).any():
        raise ShapeError(f"tile plan leaves positions {np.flatnonzero(total <= 0)[:5].tolist()} without weight")
    return total


@dataclass(frozen=True)
class AxisPlan:
    """Tiles of one axis: latent intervals, output offsets and masks, and the summed weights."""

    intervals: list[Interval]
    offsets: list[int]
    masks: list[np.ndarray]
    weights: np.ndarray


def plan_axis(length: int, size: int | None, overlap: int, scale: int, temporal: bool) -> AxisPlan:
    """Plan one latent axis of `length` latents decoded at `scale` output units per latent."""
    intervals = split_axis(length, size, overlap)
    if temporal:
        offsets = [temporal_span(iv, scale)[0] for iv in intervals]
        masks = [temporal_mask(iv, scale) for iv in intervals]
        out_len = (length - 1) * scale + 1
    else:
        offsets = [iv.start * scale for iv in intervals]
        masks = [spatial_mask(iv, scale) for iv in intervals]
        out_len = length * scale
    return AxisPlan(intervals, offsets, masks, summed_weights(masks, offsets, out_len))
