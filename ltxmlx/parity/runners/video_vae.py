"""Parity runner for the video VAE: encoder on pixels, decoder on a latent (official layouts)."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build


def run(case) -> dict[str, mx.array]:
    encoder = build("video_encoder", case.checkpoint_path(0), dtype=mx.float32)
    decoder = build("video_decoder", case.checkpoint_path(0), dtype=mx.float32)
    return {
        "encoder.output": encoder(mx.array(case.input("encoder.input"))),
        "decoder.output": decoder(mx.array(case.input("decoder.input"))),
    }
