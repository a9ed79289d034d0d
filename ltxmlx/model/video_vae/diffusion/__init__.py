"""LTX-2.5 diffusion video decoder (NA transformer stages + Euler sampling of pixel noise)."""

from ltxmlx.model.video_vae.diffusion.config import (
    DiffusionDecoderConfig,
    encoder_section,
    vae_class_name,
    video_decoder_kind,
)
from ltxmlx.model.video_vae.diffusion.decode import diffusion_decode_steps
from ltxmlx.model.video_vae.diffusion.decoder import DiffusionVideoDecoder, Noise
from ltxmlx.model.video_vae.diffusion.neighborhood import na3d
from ltxmlx.model.video_vae.diffusion.tiling import DiffusionTiling, min_overlaps

__all__ = [
    "DiffusionDecoderConfig",
    "DiffusionTiling",
    "DiffusionVideoDecoder",
    "Noise",
    "diffusion_decode_steps",
    "encoder_section",
    "min_overlaps",
    "na3d",
    "vae_class_name",
    "video_decoder_kind",
]
