"""Parity runner for the audio VAE: decoder, encoder, and the waveform -> mel -> latent input path."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.model.audio_vae import AudioProcessor, encode_audio


def run(case) -> dict[str, mx.array]:
    decoder = build("audio_decoder", case.checkpoint_path(0), dtype=mx.float32)
    encoder = build("audio_encoder", case.checkpoint_path(0), dtype=mx.float32)
    processor = AudioProcessor(encoder.config)
    waveform = mx.array(case.input("waveform.input"))
    rate = int(case.input("waveform.sampling_rate"))
    return {
        "decoder.output_mel": decoder(mx.array(case.input("decoder.input"))),
        "encoder.output": encoder(mx.array(case.input("encoder.input_mel"))),
        "waveform.resampled_16k": processor.resample(waveform, rate),
        "waveform.mel": processor(waveform, rate),
        "waveform.encoded_latent": encode_audio(waveform, rate, encoder, processor),
    }
