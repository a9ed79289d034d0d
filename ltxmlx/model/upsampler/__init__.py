"""Latent upsamplers (spatial x2, temporal x2) that run between the two diffusion stages."""

from ltxmlx.model.upsampler.config import LatentUpsamplerConfig
from ltxmlx.model.upsampler.model import LatentUpsampler, upsample_video

__all__ = ["LatentUpsampler", "LatentUpsamplerConfig", "upsample_video"]
