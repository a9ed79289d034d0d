"""Peak-memory estimate of a decode and the automatic choice of tile sizes from a budget.

Estimate = batch x (ACTIVATION_FACTOR x largest activation x bytes per element + blend buffers):
the largest activation is the decoder's biggest intermediate (elements, time padding included)
over its stages; the factor counts the live copies of that size (block input kept for the
residual, norm / SiLU outputs, padded conv input, conv output) plus the convolution's workspace.
Measured with `mx.get_peak_memory` on scaled-down LTX decoders (base 16 channels): the CPU backend
lowers conv3d to an explicit im2col (27 x the input) and computes bf16 in float32, peak/largest
= 32-42 float32 elements, hence 40 and 4 bytes there. On an H100 (MLX CUDA, bf16, full-size
decoders, bench/vae_decode.py) the measured activation peak was 9x the largest activation for an
untiled decode and up to 19x for tiled decodes (tile copies and the float32 blend of each tile);
we take the larger so that a budget is not exceeded.
The blend buffers are the float32 canvas, update and RGB of one temporal chunk.
"""

from __future__ import annotations

import logging

import mlx.core as mx

from ltxmlx.model.video_vae.config import VideoDecoderConfig
from ltxmlx.model.video_vae.tiling import TilingConfig

log = logging.getLogger(__name__)

CPU_ACTIVATION_FACTOR = 40.0
GPU_ACTIVATION_FACTOR = 19.0
BLEND_BUFFERS = 3
DEFAULT_BUDGET = 8 * 1024**3  # bytes; callers pass a device-derived budget where they know one


def largest_activation(config: VideoDecoderConfig, frames: int, height: int, width: int) -> int:
    """Elements per batch item of the decoder's largest intermediate for a (F', H', W') latent."""
    f, h, w, c = frames, height, width, config.bottleneck_channels
    biggest = (f + 2) * h * w * max(c, config.latent_channels)
    for block in reversed(config.blocks):
        if block.name == "res_x":
            continue
        st, sh, sw = block.stride
        # The upsampler's conv output has prod(stride) * c / multiplier channels at the input size.
        biggest = max(biggest, (f + 2) * h * w * c, f * h * w * st * sh * sw * c // block.multiplier)
        f, h, w, c = f * st - (st - 1), h * sh, w * sw, c // block.multiplier
        biggest = max(biggest, (f + 2) * h * w * c)
    out_c = config.out_channels * config.patch_size**2
    return max(biggest, (f + 2) * h * w * max(c, out_c))


def estimate_decode_bytes(
    config: VideoDecoderConfig,
    batch: int,
    frames: int,
    height: int,
    width: int,
    dtype: mx.Dtype,
    chunk_frames: int | None = None,
) -> int:
    """Estimated peak bytes (activations and blend buffers, not weights) to decode one latent tile of
    (frames, height, width) latents; `chunk_frames` latents set the blend-buffer length (default frames)."""
    st, sh, sw = config.scale_factors
    if mx.default_device().type == mx.DeviceType.cpu:
        factor, elem_bytes = CPU_ACTIVATION_FACTOR, 4
    else:
        factor, elem_bytes = GPU_ACTIVATION_FACTOR, dtype.size
    act = factor * largest_activation(config, frames, height, width) * elem_bytes
    chunk = ((chunk_frames or frames) - 1) * st + 1
    blend = BLEND_BUFFERS * chunk * height * sh * width * sw * config.out_channels * 4
    return int(batch * (act + blend))


# Temporal chunks of the official 80 frames (10 latents), overlapping by 4 latents (a 24-frame ramp), and
# spatial overlaps of 2 latents (64 pixels), as the official default tiling.
TILE_FRAMES = 10
FRAME_OVERLAP = 4
SPATIAL_OVERLAP = 2


def choose_tiling(
    config: VideoDecoderConfig, shape: tuple[int, ...], dtype: mx.Dtype, budget: int | None = None
) -> TilingConfig | None:
    """Tile sizes for a channels-last latent `shape` (B, F', H', W', C) within `budget` bytes.

    None (untiled) when the whole decode fits. Otherwise temporal chunks of TILE_FRAMES latents (so
    frames stream out and only one chunk is ever held), with the largest spatial tile that fits;
    shorter chunks only when even 4-latent spatial tiles do not fit (then the smallest, warned).
    """
    budget = DEFAULT_BUDGET if budget is None else budget
    b, f, h, w, _ = shape
    if estimate_decode_bytes(config, b, f, h, w, dtype) <= budget:
        return None
    side = max(h, w)
    frame_sizes = sorted({min(f, n) for n in (TILE_FRAMES, 8, 6, 4, 2)}, reverse=True)
    for tf in frame_sizes:
        for ts in range(side, min(3, side - 1), -1):
            tile = (tf, min(ts, h), min(ts, w))
            if estimate_decode_bytes(config, b, *tile, dtype) <= budget:
                return _tiling(f, tf, side, ts, shape, budget)
    log.warning("decode of latent %s does not fit %.1f GiB even in the smallest tiles", shape, budget / 1024**3)
    return _tiling(f, frame_sizes[-1], side, min(4, side), shape, budget)


def _tiling(f: int, tf: int, side: int, ts: int, shape: tuple[int, ...], budget: int) -> TilingConfig:
    tiling = TilingConfig(
        tile_frames=tf if tf < f else None,
        frame_overlap=min(FRAME_OVERLAP, tf - 1) if tf > 1 else 1,
        tile_size=ts if ts < side else None,
        spatial_overlap=min(SPATIAL_OVERLAP, ts // 4),
    )
    log.info("decode tiling for latent %s within %.1f GiB: %s", shape, budget / 1024**3, tiling)
    return tiling
