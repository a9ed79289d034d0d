"""Chunked video decoding: latent -> RGB frames in [0, 1], handed out in temporal chunks so that peak
memory stays bounded.

Three paths: untiled; streamed (`TilingConfig.chunk_frames`: exact, every layer carries its temporal
context across chunks, optionally per spatial tile); overlapping tiles in space and time (blended).
Nothing is evaluated here (the caller evaluates). `decode_steps` yields steps; evaluating each step's
`state` before asking for the next keeps only one step's activations alive (MLX allocates a graph's
buffers as it is scheduled, so one lazy graph over all chunks would hold them all). What is carried
into the next step is a slice or copy of evaluated arrays, so nothing is decoded twice.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltxmlx.model.video_vae.decoder import VideoDecoder
from ltxmlx.model.video_vae.memory import UNTILED_CHUNK_FRAMES, choose_tiling
from ltxmlx.model.video_vae.streaming import stream_decode
from ltxmlx.model.video_vae.tiling import AxisPlan, TilingConfig, plan_axis

AUTO = "auto"


@dataclass(frozen=True)
class DecodeStep:
    """state: arrays the caller must evaluate before the next step; frames: a finished RGB chunk
    (B, f, H, W, 3) float32 in [0, 1], or None while a chunk is still being accumulated."""

    state: object
    frames: mx.array | None = None


def to_rgb(pixels: mx.array) -> mx.array:
    """Decoder output in ~[-1, 1] -> float32 RGB in [0, 1] = clamp((x + 1) / 2)."""
    return mx.clip((pixels.astype(mx.float32) + 1.0) * 0.5, 0.0, 1.0)


def decode_video(
    decoder: VideoDecoder,
    latent: mx.array,
    tiling: TilingConfig | str | None = AUTO,
    memory_budget: int | None = None,
) -> Iterator[mx.array]:
    """The finished chunks of `decode_steps` (for callers that evaluate only what they keep; bounded
    memory needs every step evaluated, as the pipelines' decode stage does)."""
    for step in decode_steps(decoder, latent, tiling, memory_budget):
        if step.frames is not None:
            yield step.frames


def decode_steps(
    decoder: VideoDecoder,
    latent: mx.array,
    tiling: TilingConfig | str | None = AUTO,
    memory_budget: int | None = None,
) -> Iterator[DecodeStep]:
    """Decode a normalized latent (B, C, F', H', W') (official layout) into chunks of RGB frames
    (B, f, H, W, 3), float32 in [0, 1], in temporal order; the chunks concatenate to F = 8(F'-1)+1
    frames (for the LTX factors).

    tiling: a TilingConfig, None (one untiled decode, yielded UNTILED_CHUNK_FRAMES frames at a time),
    or "auto" (untiled, streamed chunks or streamed spatial tiles, chosen so that the estimated peak
    stays within `memory_budget` bytes; see `memory.choose_tiling`). A tiling with `chunk_frames`
    streams the decode (exact); one with `tile_frames` blends overlapping temporal tiles. Inputs are
    checked when the first chunk is requested.
    """
    decoder.check_latent(latent)
    z = latent.transpose(0, 2, 3, 4, 1)  # the one layout conversion: channels-last from here on
    if isinstance(tiling, str):
        if tiling != AUTO:
            raise ValueError(f"tiling must be a TilingConfig, None or {AUTO!r}, got {tiling!r}")
        tiling = choose_tiling(decoder.config, z.shape, decoder.conv_in.conv.weight.dtype, memory_budget)
    if tiling is None:
        pixels = decoder.decode(z)  # evaluated with the first chunk, then only sliced
        for start in range(0, pixels.shape[1], UNTILED_CHUNK_FRAMES):
            frames = to_rgb(pixels[:, start : start + UNTILED_CHUNK_FRAMES])
            yield DecodeStep(frames, frames)
        return
    if tiling.chunk_frames is not None:
        yield from chunked_decode(decoder, z, tiling)
    else:
        yield from tiled_decode(decoder, z, tiling)


def _plans(decoder: VideoDecoder, shape: tuple[int, ...], tiling: TilingConfig) -> tuple[AxisPlan, AxisPlan, AxisPlan]:
    st, sh, sw = decoder.config.scale_factors
    _, f, h, w, _ = shape
    return (
        plan_axis(f, tiling.tile_frames, tiling.frame_overlap, st, temporal=True),
        plan_axis(h, tiling.tile_size, tiling.spatial_overlap, sh, temporal=False),
        plan_axis(w, tiling.tile_size, tiling.spatial_overlap, sw, temporal=False),
    )


def chunked_decode(decoder: VideoDecoder, z: mx.array, tiling: TilingConfig) -> Iterator[DecodeStep]:
    """Channels-last latent (B, F', H', W', C) -> steps of a streamed decode in chunks of
    `tiling.chunk_frames` latents, per spatial tile of `tiling.tile_size` (blended as in
    `tiled_decode`; untiled in space, the frames equal `decoder.decode(z)` exactly). All tiles advance
    in lockstep: each tile's stream yields the same frame counts, so one RGB chunk is blended from the
    tiles' matching pixels and handed out before the next."""
    _, ph, pw = _plans(decoder, z.shape, tiling)
    tiles = [
        (hiv, h0, hmask, wiv, w0, wmask)
        for hiv, h0, hmask in zip(ph.intervals, ph.offsets, ph.masks)
        for wiv, w0, wmask in zip(pw.intervals, pw.offsets, pw.masks)
    ]
    streams = [
        stream_decode(decoder, z[:, :, hiv.start : hiv.stop, wiv.start : wiv.stop], tiling.chunk_frames,
                      tiling.step_frames)
        for hiv, _, _, wiv, _, _ in tiles
    ]
    if len(tiles) == 1:
        for state, pixels in streams[0]:
            frames = None if pixels is None else to_rgb(pixels)
            yield DecodeStep(state if frames is None else [*state, frames], frames)
        return
    wh = mx.array(ph.weights)[:, None, None]
    ww = mx.array(pw.weights)[None, :, None]
    while True:
        canvas = None
        for (_, h0, hmask, _, w0, wmask), stream in zip(tiles, streams):
            pixels = None
            for state, pixels in stream:
                if pixels is not None:
                    break
                yield DecodeStep(state)
            if pixels is None:  # every stream ends after the same chunks
                return
            mask = mx.array(hmask)[None, :, None, None] * mx.array(wmask)[None, None, :, None]
            if canvas is None:
                canvas = mx.zeros((pixels.shape[0], pixels.shape[1], len(ph.weights), len(pw.weights), 3), mx.float32)
            hs, ws = slice(h0, h0 + pixels.shape[2]), slice(w0, w0 + pixels.shape[3])
            canvas[:, :, hs, ws] = canvas[:, :, hs, ws] + pixels.astype(mx.float32) * mask
            yield DecodeStep([*state, canvas])
        frames = to_rgb(canvas / (wh * ww))
        yield DecodeStep([frames], frames)


def tiled_decode(decoder: VideoDecoder, z: mx.array, tiling: TilingConfig) -> Iterator[DecodeStep]:
    """Channels-last latent (B, F', H', W', C) -> steps whose frames are RGB chunks (B, f, H, W, 3) in
    [0, 1], one per temporal tile: each chunk holds the frames no later tile touches."""
    pt, ph, pw = _plans(decoder, z.shape, tiling)
    wh = mx.array(ph.weights)[:, None, None]
    ww = mx.array(pw.weights)[None, :, None]
    height, width = len(ph.weights), len(pw.weights)
    carry = None  # blended-but-unfinished frames of earlier tiles, starting at this tile's first frame
    for i, (tiv, t0, tmask) in enumerate(zip(pt.intervals, pt.offsets, pt.masks)):
        acc = yield from _decode_group(decoder, z, tiv, tmask, ph, pw, height, width)
        if carry is not None:
            n = carry.shape[1]
            acc = mx.concatenate([acc[:, :n] + carry, acc[:, n:]], axis=1)
        end = pt.offsets[i + 1] if i + 1 < len(pt.offsets) else t0 + acc.shape[1]
        done = end - t0
        carry = acc[:, done:] if done < acc.shape[1] else None
        wt = mx.array(pt.weights[t0:end])[:, None, None, None]
        frames = to_rgb(acc[:, :done] / (wt * wh * ww))
        yield DecodeStep([frames] if carry is None else [frames, carry], frames)


def _decode_group(
    decoder, z, tiv, tmask, ph: AxisPlan, pw: AxisPlan, height: int, width: int
) -> Generator[DecodeStep, None, mx.array]:
    """Masked sum of the spatial tiles of one temporal tile: (B, frames, H, W, 3) float32, with a step
    after each tile so that only one tile's activations are alive at a time."""
    mt = mx.array(tmask)[:, None, None, None]
    canvas = None
    for hiv, h0, hmask in zip(ph.intervals, ph.offsets, ph.masks):
        for wiv, w0, wmask in zip(pw.intervals, pw.offsets, pw.masks):
            piece = z[:, tiv.start : tiv.stop, hiv.start : hiv.stop, wiv.start : wiv.stop]
            mask = mt * mx.array(hmask)[None, :, None, None] * mx.array(wmask)[None, None, :, None]
            out = decoder.decode(piece).astype(mx.float32) * mask
            if len(ph.intervals) == 1 and len(pw.intervals) == 1:
                return out
            if canvas is None:
                canvas = mx.zeros((out.shape[0], out.shape[1], height, width, out.shape[4]), dtype=mx.float32)
            hs, ws = slice(h0, h0 + out.shape[2]), slice(w0, w0 + out.shape[3])
            canvas[:, :, hs, ws] = canvas[:, :, hs, ws] + out
            yield DecodeStep(canvas)
    return canvas
