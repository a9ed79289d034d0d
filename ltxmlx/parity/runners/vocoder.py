"""Parity runner for the vocoders (19B HiFi-GAN; 22B BigVGAN + bandwidth extension with intermediates)."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.model.audio_vae import VocoderWithBWE


def run(case) -> dict[str, mx.array]:
    vocoder = build("vocoder", case.checkpoint_path(0), dtype=mx.float32)
    mel, mel2 = mx.array(case.input("input")), mx.array(case.input("input2"))
    out = {"output": vocoder(mel), "output2": vocoder(mel2)}
    if isinstance(vocoder, VocoderWithBWE):
        stages = vocoder.stages(mel)
        out.update({
            "bwe.vocoder_16k": stages.vocoder_16k,
            # The reference stores the BWE mel as (B, 2, n_mels, frames).
            "bwe.mel": stages.mel.transpose(0, 1, 3, 2),
            "bwe.residual": stages.residual,
            "bwe.skip": stages.skip,
        })
    return out
