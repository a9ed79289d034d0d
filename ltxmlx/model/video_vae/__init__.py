"""Video VAE (LTX-2 / LTX-2.3): encoder, convolutional decoder, tiled chunked decoding."""

from ltxmlx.model.video_vae.config import VideoDecoderConfig, VideoEncoderConfig
from ltxmlx.model.video_vae.decode import DecodeStep, decode_steps, decode_video, tiled_decode, to_rgb
from ltxmlx.model.video_vae.decoder import VideoDecoder
from ltxmlx.model.video_vae.encoder import VideoEncoder
from ltxmlx.model.video_vae.memory import choose_tiling, estimate_decode_bytes
from ltxmlx.model.video_vae.per_channel_statistics import PerChannelStatistics
from ltxmlx.model.video_vae.tiling import TilingConfig

__all__ = [
    "DecodeStep",
    "PerChannelStatistics",
    "TilingConfig",
    "VideoDecoder",
    "VideoDecoderConfig",
    "VideoEncoder",
    "VideoEncoderConfig",
    "choose_tiling",
    "decode_steps",
    "decode_video",
    "estimate_decode_bytes",
    "tiled_decode",
    "to_rgb",
]
