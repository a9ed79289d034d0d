"""The two ends of the audio path: latent -> waveform (decode) and waveform -> latent (encode)."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.model.audio_vae.bwe import VocoderWithBWE
from ltxmlx.model.audio_vae.decoder import AudioDecoder
from ltxmlx.model.audio_vae.encoder import AudioEncoder
from ltxmlx.model.audio_vae.processing import AudioProcessor
from ltxmlx.model.audio_vae.vocoder import Vocoder


def decode_audio(latent: mx.array, decoder: AudioDecoder, vocoder: Vocoder | VocoderWithBWE) -> tuple[mx.array, int]:
    """latent (B, z, T, F') -> (waveform (B, 2, samples) float32, sample rate of the vocoder).

    samples = hop * (4T - 3): 240 per mel frame at 24 kHz (19B), 480 at 48 kHz (22B).
    """
    waveform = vocoder(decoder(latent))
    return waveform.astype(mx.float32), vocoder.output_sampling_rate


def encode_audio(
    waveform: mx.array, sampling_rate: int, encoder: AudioEncoder, processor: AudioProcessor | None = None
) -> mx.array:
    """waveform (B, 2, S) at any rate -> normalized latent (B, z, T', F'); resampled to the VAE rate first."""
    processor = processor or AudioProcessor(encoder.config)
    mel = processor(waveform, sampling_rate)
    return encoder(mel.astype(encoder.conv_in.conv.weight.dtype))
