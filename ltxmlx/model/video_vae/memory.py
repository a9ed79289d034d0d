"""Peak-memory estimate of a video decode and the automatic choice of chunks and tiles from a budget.

Each decode path's activation peak is modelled from the decoder's geometry with three calibrated
constants (`Fit`): `step` x the bytes of the largest tensor one evaluation holds (the whole decode's,
one tile's, or one streamed step's) + `carried` x the bytes every layer carries between the steps of a
streamed decode (summed over its spatial tiles, which advance in lockstep) + `base` bytes, plus the
blend buffers (float32 RGB of one output chunk, canvas and update when tiles are blended). `step`
counts the live copies of the largest tensor (block input kept for the residual, norm / SiLU outputs,
time-padded conv input, conv output); `carried` the queues in front of each stage next to the carried
frames; `base` what does not scale with the size (convolution workspaces).

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
from ltxmlx.model.video_vae.tiling import TilingConfig, plan_axis

log = logging.getLogger(__name__)

BLEND_BUFFERS = 3  # float32 canvas, update and RGB of one output chunk when tiles are blended
UNTILED_CHUNK_FRAMES = 24  # an untiled decode hands out its RGB this many frames at a time
PATHS = ("untiled", "tiled", "chunked")
GIB = 1024**3


@dataclass(frozen=True)
class Fit:
    """estimate = step x largest-tensor bytes + carried x carried bytes + base + blend buffers."""

    step: float
    carried: float
    base: float


# ACTIVATION_FACTORS[device class][generation][path]; see the module docstring.
ACTIVATION_FACTORS = {
    # bench/vae_decode.py --calibrate on an H200 (bench/results/vae_decode_calibration_h200.json, 36
    # cases: 512x768 and 1024x1536, 121 frames); largest errors per generation (19b / 22b): untiled
    # 0 / 8 % (two cases each), tiled 6 / 4 %, chunked 14 / 8 %.
    "gpu": {
        "19b": {"untiled": Fit(7.5, 0.0, 7.50 * GIB), "tiled": Fit(13.75, 0.0, 4.40 * GIB),
                "chunked": Fit(10.5, 1.3, 0.65 * GIB)},
        "22b": {"untiled": Fit(5.5, 0.0, 7.95 * GIB), "tiled": Fit(14.75, 0.0, 4.30 * GIB),
                "chunked": Fit(7.0, 1.2, 1.20 * GIB)},
    },
    # bench/vae_decode.py --small --calibrate (8-channel decoders); largest errors 1 / 2 % untiled and
    # tiled, 20 / 27 % chunked.
    "cpu": {
        "19b": {"untiled": Fit(17.875, 0.0, 0.0), "tiled": Fit(20.5, 0.0, 0.0), "chunked": Fit(15.0, 3.7, 0.0)},
        "22b": {"untiled": Fit(21.75, 0.0, 0.0), "tiled": Fit(25.375, 0.0, 0.0), "chunked": Fit(13.0, 3.7, 0.0)},
    },
}
# Bytes of activations when the caller names no budget: a 1024x1536x121 decode then streams one-latent
# chunks in steps of at most 4 (22B: estimated 4.07 GiB, measured 4.08) or 2 frames (19B: 3.53 / 3.51),
# and a 512x768x121 one chunks of 6 latents.
DEFAULT_BUDGET = int(4.5 * GIB)


def decoder_generation(config: VideoDecoderConfig) -> str:
    """'19b' for the LTX-2 decoder (only residual compress_all upsamplers), else '22b' (the LTX-2.3 /
    LTX-2.5 conv decoder: space, time and all upsamplers without residual)."""
    samplers = [b for b in config.blocks if b.name != "res_x"]
    return "19b" if all(b.name == "compress_all" and b.residual for b in samplers) else "22b"


def device_class() -> str:
    """'cpu' or 'gpu': which calibration applies on the default device."""
    return "cpu" if mx.default_device().type == mx.DeviceType.cpu else "gpu"


def activation_factor(config: VideoDecoderConfig, path: str, device: str | None = None) -> tuple[Fit, int | None]:
    """(fit, bytes per element or None for the run dtype's) of `path` on `device` (a device class;
    default: the default device's)."""
    if path not in PATHS:
        raise ValueError(f"unknown decode path {path!r}; valid: {', '.join(PATHS)}")
    device = device or device_class()
    return ACTIVATION_FACTORS[device][decoder_generation(config)][path], (4 if device == "cpu" else None)


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


def step_cap(profile: StageProfile, chunk_frames: int, step_frames: int | None = None) -> int:
    """Input frames of a stage per step: `chunk_frames` latents' worth, at most `step_frames`."""
    cap = chunk_frames * profile.time_scale
    return cap if step_frames is None else min(cap, step_frames)


def step_elements(profiles: list[StageProfile], chunk_frames: int, height: int, width: int,
                  step_frames: int | None = None) -> int:
    """Elements of the largest tensor of one step: the widest stage's capped frames."""
    return max(step_cap(p, chunk_frames, step_frames) * p.elements for p in profiles) * height * width


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


@dataclass(frozen=True)
class DecodeTerms:
    """The sizes the estimate of one decode multiplies by its path's `Fit` (bytes)."""

    path: str
    step: int
    carried: int
    blend: int

    def estimate(self, fit: Fit) -> int:
        return int(fit.step * self.step + fit.carried * self.carried + fit.base + self.blend)


def estimate_terms(
    config: VideoDecoderConfig,
    batch: int,
    frames: int,
    height: int,
    width: int,
    dtype: mx.Dtype,
    tiling: TilingConfig | None = None,
    device: str | None = None,
) -> DecodeTerms:
    """The sizes behind the estimate of decoding a (frames, height, width) latent with `tiling` on
    `device` (a device class; default: the default device's)."""
    path = decode_path(tiling)
    elem_bytes = activation_factor(config, path, device)[1] or dtype.size
    st, sh, sw = config.scale_factors
    pixels = height * sh * width * sw * config.out_channels * 4  # one float32 RGB frame
    size = None if tiling is None else tiling.tile_size
    tiles = [(height, width)]
    if size is not None:
        ph = plan_axis(height, size, tiling.spatial_overlap, sh, temporal=False)
        pw = plan_axis(width, size, tiling.spatial_overlap, sw, temporal=False)
        tiles = [(a.stop - a.start, b.stop - b.start) for a in ph.intervals for b in pw.intervals]
    h, w = max(t[0] for t in tiles), max(t[1] for t in tiles)
    buffers = 1 if len(tiles) == 1 else BLEND_BUFFERS
    if path == "chunked":
        profiles = stage_profiles(config)
        chunk = min(tiling.chunk_frames, frames)
        step = step_elements(profiles, chunk, h, w, tiling.step_frames)
        carried = sum(carried_elements(profiles, a, b) for a, b in tiles)
        out_frames = min(chunk * st, tiling.step_frames or chunk * st)
        return DecodeTerms(path, batch * step * elem_bytes, batch * carried * elem_bytes,
                           batch * buffers * out_frames * pixels)
    f = frames if tiling is None else min(tiling.tile_frames or frames, frames)
    out_frames = min(UNTILED_CHUNK_FRAMES, (f - 1) * st + 1) if tiling is None else (f - 1) * st + 1
    blend = out_frames * pixels if tiling is None else BLEND_BUFFERS * out_frames * pixels
    return DecodeTerms(path, batch * largest_activation(config, f, h, w) * elem_bytes, 0, batch * blend)


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
    terms = estimate_terms(config, batch, frames, height, width, dtype, tiling)
    return terms.estimate(activation_factor(config, terms.path)[0])


CHUNK_FRAMES = (8, 6, 4, 3, 2, 1)  # streamed chunk lengths tried, longest (fastest) first
STEP_FRAMES = (4, 2)  # then frames per step below one latent frame (8 at the widest stages)
SPATIAL_OVERLAP = 2  # latents (64 pixels), as the official default tiling


def choose_tiling(
    config: VideoDecoderConfig, shape: tuple[int, ...], dtype: mx.Dtype, budget: int | None = None
) -> TilingConfig | None:
    """Decode plan for a channels-last latent `shape` (B, F', H', W', C) within `budget` bytes.

    None (untiled, fastest) when the whole decode fits; else the longest streamed chunk that fits
    whole frames; else one-latent chunks in steps of fewer frames; else streamed chunks of spatial
    tiles, the largest tile that fits (when nothing fits, warned, the plan of the smallest estimate).
    """
    budget = DEFAULT_BUDGET if budget is None else budget
    b, f, h, w, _ = shape
    side = max(h, w)

    def fits(tiling: TilingConfig | None) -> bool:
        return estimate_decode_bytes(config, b, f, h, w, dtype, tiling) <= budget

    chosen = None
    if not fits(None):
        plans = [TilingConfig(chunk_frames=c) for c in CHUNK_FRAMES]
        plans += [TilingConfig(chunk_frames=1, step_frames=s) for s in STEP_FRAMES]
        plans += [
            TilingConfig(chunk_frames=c, tile_size=ts, spatial_overlap=min(SPATIAL_OVERLAP, ts // 4))
            for ts in range(side - 1, min(3, side - 1), -1)
            for c in (2, 1)
        ]
        chosen = next((p for p in plans if fits(p)), None)
        if chosen is None:
            chosen = min(plans, key=lambda p: estimate_decode_bytes(config, b, f, h, w, dtype, p))
            log.warning("decode of latent %s does not fit %.1f GiB in any plan; using the smallest estimate (%s)",
                        shape, budget / 1024**3, chosen)
    log.info("decode plan for latent %s within %.1f GiB: %s", shape, budget / 1024**3, chosen or "untiled")
    return chosen
