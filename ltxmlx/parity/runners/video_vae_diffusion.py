"""Parity runner for the LTX-2.5 diffusion video VAE file: encoder on pixels, diffusion decoder on a
latent with the case's x_T noise (padded shape, as the decoder asks for it)."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build


def run(case) -> dict[str, mx.array]:
    encoder = build("video_encoder", case.checkpoint_path(0), dtype=mx.float32)
    decoder = build("video_decoder_diffusion", case.checkpoint_path(0), dtype=mx.float32)
    noise = mx.array(case.input("decoder.x_t_init"))
    return {
        "encoder.output": encoder(mx.array(case.input("encoder.input"))),
        "decoder.output": decoder.decode(mx.array(case.input("decoder.input")), noise),
    }
