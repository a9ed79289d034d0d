"""Audio VAE (stereo log-mel <-> latent), mel processing, and the HiFi-GAN / BigVGAN+BWE vocoders."""

from ltxmlx.model.audio_vae.bwe import VocoderWithBWE
from ltxmlx.model.audio_vae.codec import decode_audio, encode_audio
from ltxmlx.model.audio_vae.config import AudioVAEConfig, VocoderConfig
from ltxmlx.model.audio_vae.decoder import AudioDecoder
from ltxmlx.model.audio_vae.encoder import AudioEncoder
from ltxmlx.model.audio_vae.processing import AudioProcessor, resample
from ltxmlx.model.audio_vae.vocoder import Vocoder


def build_vocoder(config: VocoderConfig) -> Vocoder | VocoderWithBWE:
    """The 19B HiFi-GAN or, when the config has a `bwe` section, the 22B vocoder with bandwidth extension."""
    return VocoderWithBWE(config) if config.bwe is not None else Vocoder(config.generator)


__all__ = [
    "AudioDecoder",
    "AudioEncoder",
    "AudioProcessor",
    "AudioVAEConfig",
    "Vocoder",
    "VocoderConfig",
    "VocoderWithBWE",
    "build_vocoder",
    "decode_audio",
    "encode_audio",
    "resample",
]
