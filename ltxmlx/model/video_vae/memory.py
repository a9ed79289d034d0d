"""Peak-memory estimate of a video decode and the automatic choice of chunks and tiles from a budget.

Three decode paths, each estimated from the decoder's geometry and one calibrated constant:
- untiled / tiled (overlapping tiles, `TilingConfig.tile_frames`): FACTOR x the decoder's largest
  intermediate (elements, time padding included) of the whole latent or of one tile;
- chunked (streamed, `TilingConfig.chunk_frames`, optionally with spatial tiles): FACTOR x the
  elements one step processes (`step_elements`) + the frames every layer carries between steps.
The factor counts the live copies of the largest tensor (block input kept for the residual, norm /
SiLU outputs, time-padded conv input, conv output) plus the convolution's workspace. The blend
buffers (float32 canvas, update and RGB of one output chunk) are added to every path.

The constants are per decoder generation (the 19B decoder and the 22B / LTX-2.5 conv decoder differ in
their widths and block layout) and per device class: the CPU backend lowers conv3d to an explicit
im2col and computes bf16 in float32 (4 bytes per element there). The GPU constants come from
`bench/vae_decode.py --calibrate` at full size; the CPU ones from `--small`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlx.core as mx

from ltxmlx.model.video_vae.config import VideoDecoderConfig
from ltxmlx.model.video_vae.tiling import TilingConfig

log = logging.getLogger(__name__)

PATHS = ("untiled", "tiled", "chunked")
# ACTIVATION_FACTORS[device class][generation][path]; see the module docstring.
ACTIVATION_FACTORS = {
    # bench/vae_decode.py --calibrate on an H200 (bench/results/vae_decode_calibration_h200.json):
    # largest errors untiled 28 / 40 %, tiled 22 / 29 %, chunked 82 / 86 % (19b / 22b; one factor
    # per path does not describe the streamed decode's fixed carried state well).
    "gpu": {
        "19b": {"untiled": 10.87, "tiled": 29.26, "chunked": 20.5},
        "22b": {"untiled": 8.65, "tiled": 31.84, "chunked": 14.2},
    },
    # bench/vae_decode.py --small --calibrate (8-channel decoders; largest errors 3 / 9 / 20 %)
    "cpu": {
        "19b": {"untiled": 15.47, "tiled": 23.63, "chunked": 14.84},
        "22b": {"untiled": 19.26, "tiled": 28.54, "chunked": 13.54},
    },
}
BLEND_BUFFERS = 3
# Bytes of activations when the caller names no budget: with the constants above a 1024x1536x121 decode
# then streams 1-latent chunks, estimated at 3.4-3.7 GiB plus the weights.
DEFAULT_BUDGET = 4 * 1024**3


def decoder_generation(config: VideoDecoderConfig) -> str:
    """'19b' for the LTX-2 decoder (only residual compress_all upsamplers), else '22b' (the LTX-2.3 /
    LTX-2.5 conv decoder: space, time and all upsamplers without residual)."""
    samplers = [b for b in config.blocks if b.name != "res_x"]
    return "19b" if all(b.name == "compress_all" and b.residual for b in samplers) else "22b"


def activation_factor(config: VideoDecoderConfig, path: str) -> tuple[float, int | None]:
    """(factor, bytes per element or None for the run dtype's) of `path` on the default device."""
    if path not in PATHS:
        raise ValueError(f"unknown decode path {path!r}; valid: {', '.join(PATHS)}")
    cpu = mx.default_device().type == mx.DeviceType.cpu
    factors = ACTIVATION_FACTORS["cpu" if cpu else "gpu"][decoder_generation(config)]
    return factors[path], (4 if cpu else None)


@dataclass(frozen=True)
class StageProfile:
    """One stage of the streamed decoder (`VideoDecoder.stream_stages`), per latent pixel (H' x W'):
    time_scale: its input frames per latent frame; elements: its largest tensor per input frame;
    carried: elements it keeps between steps (k-1 input frames per conv, residual queues)."""

    time_scale: int
    elements: int
    carried: int


def stage_profiles(config: VideoDecoderConfig) -> list[StageProfile]:
    """Profiles of conv_in, every residual block, every upsampler and conv_out, in decode order."""
    c, t, a = config.bottleneck_channels, 1, 1  # channels, time scale, pixels per latent pixel
    profiles = [StageProfile(1, max(config.latent_channels, c), 2 * config.latent_channels)]
    for block in reversed(config.blocks):
        if block.name == "res_x":
            # conv1 and conv2 carry 2 frames each; the skip waits 2 frames for their output.
            profiles.extend(StageProfile(t, c * a, 6 * c * a) for _ in range(block.num_layers))
            continue
        st, sh, sw = block.stride
        conv_out = st * sh * sw * c // block.multiplier
        profiles.append(StageProfile(t, conv_out * a, (2 + block.residual) * c * a))
        c, t, a = c // block.multiplier, t * st, a * sh * sw
    out_c = config.out_channels * config.patch_size**2
    return [*profiles, StageProfile(t, max(c, out_c) * a, 2 * c * a)]


def step_elements(profiles: list[StageProfile], chunk_frames: int, height: int, width: int) -> int:
    """Elements of the largest tensor of one step: `chunk_frames` latents' worth of the widest stage."""
    return chunk_frames * max(p.time_scale * p.elements for p in profiles) * height * width


def carried_elements(profiles: list[StageProfile], height: int, width: int) -> int:
    return sum(p.carried for p in profiles) * height * width


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


def decode_path(tiling: TilingConfig | None) -> str:
    if tiling is None:
        return "untiled"
    return "chunked" if tiling.chunk_frames is not None else "tiled"


def estimate_terms(
    config: VideoDecoderConfig,
    batch: int,
    frames: int,
    height: int,
    width: int,
    dtype: mx.Dtype,
    tiling: TilingConfig | None = None,
) -> tuple[str, int, int]:
    """(path, scaled, fixed): the estimate is ACTIVATION_FACTORS[..][path] x scaled + fixed bytes."""
    path = decode_path(tiling)
    elem_bytes = activation_factor(config, path)[1] or dtype.size
    st, sh, sw = config.scale_factors
    size = None if tiling is None else tiling.tile_size
    h, w = min(size or height, height), min(size or width, width)
    if path == "chunked":
        profiles = stage_profiles(config)
        chunk = min(tiling.chunk_frames, frames)
        scaled, fixed = step_elements(profiles, chunk, h, w), carried_elements(profiles, h, w)
        out_frames = chunk * st
    else:
        f = frames if tiling is None else min(tiling.tile_frames or frames, frames)
        scaled, fixed = largest_activation(config, f, h, w), 0
        out_frames = (f - 1) * st + 1
    blend = BLEND_BUFFERS * out_frames * h * sh * w * sw * config.out_channels * 4
    return path, batch * scaled * elem_bytes, batch * (fixed * elem_bytes + blend)


def estimate_decode_bytes(
    config: VideoDecoderConfig,
    batch: int,
    frames: int,
    height: int,
    width: int,
    dtype: mx.Dtype,
    tiling: TilingConfig | None = None,
) -> int:
    """Estimated peak bytes (activations and blend buffers, not weights) to decode a (frames, height,
    width) latent with `tiling` (None: untiled) on the default device."""
    path, scaled, fixed = estimate_terms(config, batch, frames, height, width, dtype, tiling)
    return int(activation_factor(config, path)[0] * scaled + fixed)


CHUNK_FRAMES = (8, 6, 4, 3, 2, 1)  # streamed chunk lengths tried, longest (fastest) first
SPATIAL_OVERLAP = 2  # latents (64 pixels), as the official default tiling


def choose_tiling(
    config: VideoDecoderConfig, shape: tuple[int, ...], dtype: mx.Dtype, budget: int | None = None
) -> TilingConfig | None:
    """Decode plan for a channels-last latent `shape` (B, F', H', W', C) within `budget` bytes.

    None (untiled, fastest) when the whole decode fits; else the longest streamed chunk that fits
    whole frames; else streamed chunks of spatial tiles, the largest tile that fits (the smallest,
    warned, when nothing fits).
    """
    budget = DEFAULT_BUDGET if budget is None else budget
    b, f, h, w, _ = shape
    side = max(h, w)

    def fits(tiling: TilingConfig | None) -> bool:
        return estimate_decode_bytes(config, b, f, h, w, dtype, tiling) <= budget

    chosen = None
    if not fits(None):
        plans = [TilingConfig(chunk_frames=c) for c in CHUNK_FRAMES]
        plans += [
            TilingConfig(chunk_frames=c, tile_size=ts, spatial_overlap=min(SPATIAL_OVERLAP, ts // 4))
            for ts in range(side - 1, min(3, side - 1), -1)
            for c in (2, 1)
        ]
        chosen = next((p for p in plans if fits(p)), None)
        if chosen is None:
            chosen = plans[-1]
            log.warning("decode of latent %s does not fit %.1f GiB even in the smallest tiles", shape, budget / 1024**3)
    log.info("decode plan for latent %s within %.1f GiB: %s", shape, budget / 1024**3, chosen or "untiled")
    return chosen
