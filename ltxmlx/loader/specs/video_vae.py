"""Video VAE family: encoder, decoder and the latent statistics alone.

Checkpoint layout: `vae.encoder.*`, `vae.decoder.*`, `vae.per_channel_statistics.{mean,std}-of-means`
(hyphenated names kept as module keys). Layout change: Conv3d (O, I, kd, kh, kw) -> (O, kd, kh, kw, I).
"""

from __future__ import annotations

from ltxmlx.errors import ConfigError
from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec
from ltxmlx.model.video_vae import (
    PerChannelStatistics,
    VideoDecoder,
    VideoDecoderConfig,
    VideoEncoder,
    VideoEncoderConfig,
)
from ltxmlx.model.video_vae.config import latent_channels_from_config

_STATS = "vae.per_channel_statistics."
# Real files may carry more statistics (channel, mean-of-stds, ...); the official loader ignores them.
_STATS_IGNORE = (r"^per_channel_statistics\.(?!(mean|std)-of-means$)",)
_CONV3D = ((r"\.weight$", (0, 2, 3, 4, 1)),)


def _vae_config(config: dict) -> dict:
    if "vae" not in config:
        raise ConfigError("vae", None, "a 'vae' section in the checkpoint config")
    return config["vae"]


def _part_ops(part: str) -> KeyOps:
    return KeyOps(
        prefix={f"vae.{part}.": "", _STATS: "per_channel_statistics."},
        ignore=_STATS_IGNORE,
        transposes=_CONV3D,
    )


# Single files (LTX-2 / 2.3) nest the statistics under `vae.`; the LTX-2.5 split VAE files store them bare.
STATS_KEY_OPS = KeyOps(
    prefix={_STATS: "", "per_channel_statistics.": ""}, ignore=(r"^(?!(mean|std)-of-means$)",)
)

SPECS = {
    "video_encoder": ComponentSpec(
        name="video_encoder",
        key_ops=_part_ops("encoder"),
        make=lambda config: VideoEncoder(VideoEncoderConfig.from_config(_vae_config(config))),
    ),
    "video_decoder": ComponentSpec(
        name="video_decoder",
        key_ops=_part_ops("decoder"),
        make=lambda config: VideoDecoder(VideoDecoderConfig.from_config(_vae_config(config))),
    ),
    "video_latent_stats": ComponentSpec(
        name="video_latent_stats",
        key_ops=STATS_KEY_OPS,
        make=lambda config: PerChannelStatistics(latent_channels_from_config(_vae_config(config))),
    ),
}
