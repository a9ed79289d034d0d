"""Decode-stage driver of the diffusion decoder, in the conv decoder's `DecodeStep` protocol: the
caller evaluates every step's state before asking for the next, then receives RGB chunks."""

from __future__ import annotations

from typing import Iterator

import mlx.core as mx

from ltxmlx.model.video_vae.decode import UNTILED_CHUNK_FRAMES, DecodeStep, to_rgb
from ltxmlx.model.video_vae.diffusion.decoder import DiffusionVideoDecoder, Noise
from ltxmlx.model.video_vae.diffusion.tiling import DiffusionTiling


def diffusion_decode_steps(
    decoder: DiffusionVideoDecoder, latent: mx.array, noise: Noise, tiling: DiffusionTiling | None = None
) -> Iterator[DecodeStep]:
    """Normalized latent (B, C, F', H', W') -> DecodeSteps: first the context and each non-final
    Euler state (frames None), then RGB chunks (B, f, H, W, 3) float32 in [0, 1] in temporal order.

    noise: x_T or a callable giving it for a shape (see `DiffusionVideoDecoder.noise_shape`).
    tiling: None (untiled) or tile sizes / overlaps; tiles yield their accumulated pixels as states.
    """
    steps = decoder.decode_steps(latent, noise, tiling)
    while True:
        try:
            yield DecodeStep(next(steps))
        except StopIteration as done:
            pixels = done.value.transpose(0, 2, 3, 4, 1)
            break
    for start in range(0, pixels.shape[1], UNTILED_CHUNK_FRAMES):
        frames = to_rgb(pixels[:, start : start + UNTILED_CHUNK_FRAMES])
        yield DecodeStep(frames, frames)
